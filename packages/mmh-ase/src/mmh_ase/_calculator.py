"""The ASE calculator of mmh models."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import (
    Calculator,
    PropertyNotImplementedError,
    all_changes,
)
from ase.data import chemical_symbols
from ase.stress import full_3x3_to_voigt_6_stress
from mmh_data import Batch, Configuration, GraphBuilder, UnknownElementError, collate
from mmh_heads import MultiHeadMACE, load_model, read_model_header
from mmh_layers import keep_freed_cpu_memory

from ._dispersion import D3Dispersion, D3Params
from ._heads import choose_head

__all__ = ["MMHCalculator"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: keyword arguments handed on to `ase.calculators.calculator.Calculator`
_ASE_KEYWORDS = ("restart", "ignore_bad_restart_file", "label", "atoms", "directory")


def _parse_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        if dtype not in (None, torch.float32, torch.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        return dtype
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64' (or a torch dtype), got {dtype!r}")
    return _DTYPES[name]


def _parse_device(device: str | torch.device) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {str(device)!r} asked for, but torch sees no CUDA device")
    return device


def _element_table(elements) -> str:
    return ", ".join(f"{chemical_symbols[z]} ({z})" for z in elements)


class MMHCalculator(Calculator):
    """ASE calculator of a (multi-head) mmh model, one head at a time.

    The graph of each structure is built with the model's own cutoff and a real neighbour
    list ([`mmh_data.GraphBuilder`][]); energies, forces and stress come from one
    forward and one backward pass of [`mmh_heads.MultiHeadMACE`][].

    Results (ASE conventions and units: eV, eV/Å, eV/Å³, stress in Voigt order
    ``xx yy zz yz xz xy``, positive = tensile):

    - ``energy`` / ``free_energy``: total energy, E0s included (plus dispersion); the
      per-atom energies are summed in float64 whatever the model's dtype.
    - ``forces``: ``[N, 3]``, always computed together with the energy.
    - ``stress``: computed with the energy and forces for every structure with a
      three-dimensional cell (``atoms.cell.rank == 3``); for other structures, asking
      for it raises ASE's
      `PropertyNotImplementedError`, as ASE's own
      calculators do.
    - ``energies``: per-atom energies summing to ``energy`` (with dispersion, each atom
      gets half of its pair energies; then they are computed only when asked for).
    - ``node_energy``: the model's per-atom energies minus the head's E0s (the
      interaction energy per atom, as mace-torch's ``node_energy``; no dispersion).

    Args:
        model: A model file written by [`mmh_heads.save_model`][], or a
            [`MultiHeadMACE`][mmh_heads.MultiHeadMACE]. A model object is never modified: it is
            used as it is when its dtype and device are the asked ones (later changes to
            its weights show in the results), otherwise a converted copy is used.
        head: The head to evaluate. A one-head model needs none; a multi-head model must
            be given one (there is no silent default).
        dtype: ``"float32"`` or ``"float64"`` (or a torch dtype); ``None`` keeps the
            model's dtype. torch's global default dtype is never changed.
        default_dtype: The same as ``dtype``, under the name janus-core and ml-peg pass
            (as mace-torch's calculator takes it); give one of the two, or both equal.
        device: Torch device, e.g. ``"cpu"`` or ``"cuda"``.
        dispersion: ``True`` or ``"d3"`` adds DFT-D3 dispersion (simple-dftd3, the
            ``mmh-ase[d3]`` extra); default off.
        dispersion_params: [`D3Params`][mmh_ase.D3Params] or a mapping of its fields (default:
            PBE, Becke–Johnson damping, as in the paper).
        compile: ``True`` compiles the model's forward pass with ``torch.compile``
            (``dynamic=True``: one compilation serves all structure sizes); a mapping is
            passed to ``torch.compile`` as keyword arguments (e.g. ``{"mode":
            "max-autotune"}`` or ``{"backend": "aot_eager"}``). The first call compiles
            (minutes on a small CPU); the calculator then works on a private copy of a
            model object.
        **kwargs: ASE's own calculator arguments (``label``, ``directory``, ``atoms``,
            ``restart``, ``ignore_bad_restart_file``), passed to
            `ase.calculators.calculator.Calculator`. Any other keyword is an error,
            so a misspelt option is never ignored.

    Raises:
        TypeError: An unknown keyword argument.
        ValueError: ``dtype`` and ``default_dtype`` disagree, or an invalid dtype.
        HeadSelectionError: Unknown head, or no head for a multi-head model.
        mmh_heads.ModelFileError: The model file cannot be read.
        DispersionUnavailableError: ``dispersion`` is on but simple-dftd3 is missing.

    Example:
        >>> from ase.build import bulk
        >>> calc = MMHCalculator("model.safetensors", head="pbe")  # doctest: +SKIP
        >>> atoms = bulk("Al", "fcc", a=4.05) * (2, 2, 2)
        >>> atoms.calc = calc  # doctest: +SKIP
        >>> atoms.get_potential_energy(), atoms.get_stress()  # doctest: +SKIP
    """

    implemented_properties: ClassVar[list[str]] = [
        "energy",
        "free_energy",
        "forces",
        "stress",
        "energies",
        "node_energy",
    ]

    def __init__(
        self,
        model: str | Path | MultiHeadMACE,
        head: str | None = None,
        *,
        dtype: str | torch.dtype | None = None,
        default_dtype: str | torch.dtype | None = None,
        device: str | torch.device = "cpu",
        dispersion: bool | str = False,
        dispersion_params: D3Params | Mapping[str, Any] | None = None,
        compile: bool | Mapping[str, Any] = False,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - set(_ASE_KEYWORDS))
        if unknown:
            raise TypeError(
                f"MMHCalculator got unknown keyword argument(s) {unknown}; it takes model, "
                "head, dtype (or default_dtype), device, dispersion, dispersion_params, "
                f"compile and ASE's {list(_ASE_KEYWORDS)}"
            )
        super().__init__(**kwargs)
        self.device = _parse_device(device)
        if self.device.type == "cpu":
            keep_freed_cpu_memory()  # no page faults on every step (MMH_CPU_ALLOCATOR=system)
        dtype = _parse_dtype(dtype)
        alias = _parse_dtype(default_dtype)
        if alias is not None:
            if dtype is not None and dtype != alias:
                raise ValueError(
                    f"dtype={dtype} and default_dtype={alias} disagree; give one of them"
                )
            dtype = alias
        if dispersion_params is not None and not dispersion:
            raise ValueError("dispersion_params given, but dispersion is off; pass dispersion=True")
        if isinstance(dispersion, str):
            if dispersion.lower() != "d3":
                raise ValueError(f"dispersion must be False, True or 'd3', got {dispersion!r}")
            dispersion = True
        elif not isinstance(dispersion, (bool, np.bool_)):
            raise ValueError(f"dispersion must be False, True or 'd3', got {dispersion!r}")
        self.dispersion: D3Dispersion | None = (
            D3Dispersion(dispersion_params) if dispersion else None
        )

        if isinstance(model, MultiHeadMACE):
            source = "the model"
            self.model_path: Path | None = None
            owned = False
        elif isinstance(model, (str, Path)):
            self.model_path = Path(model)
            source = f"model file {str(model)!r}"
            # the head is checked on the header before the weights are read
            choose_head(read_model_header(self.model_path)["heads"], head, source)
            model = load_model(self.model_path)
            owned = True
        else:
            raise TypeError(
                f"model must be a model file path or a MultiHeadMACE, got {type(model).__name__}"
            )
        self.head: str = choose_head(model.heads, head, source)
        self.heads: list[str] = list(model.heads)
        dtype = dtype or model.dtype
        if not owned and (model.dtype != dtype or model.e0.device != self.device or compile):
            model, owned = copy.deepcopy(model), True
        if owned:
            model = model.to(device=self.device, dtype=dtype).eval()
            for p in model.parameters():
                p.requires_grad_(False)
        self.compiled = bool(compile)
        if compile:
            # Only the forward pass (per-atom energies) is compiled: forces and stress are
            # its gradients, taken eagerly through the compiled graph's backward. Compiling
            # around torch.autograd.grad would fall back to eager execution. Structure sizes
            # change at every MD step, hence dynamic shapes by default.
            options = {"dynamic": True, **(dict(compile) if isinstance(compile, Mapping) else {})}
            model.node_energies = torch.compile(model.node_energies, **options)
        self.model: MultiHeadMACE = model
        self.dtype: torch.dtype = model.dtype
        #: A short description for reports (e.g. by mmh-bench); may be replaced.
        self.description = (
            f"mmh {self.model_path.name if self.model_path else 'model'} (head {self.head}, "
            f"{str(self.dtype).removeprefix('torch.')}, {self.device}"
            f"{', D3' if self.dispersion else ''})"
        )
        self.r_max = float(model.backbone.config.r_max)
        self._builder = GraphBuilder(self.r_max, heads=self.heads, dtype=self.dtype)
        self._elements = np.asarray(model.elements, dtype=np.int64)
        self._head_index = self.heads.index(self.head)

    def __repr__(self) -> str:
        source = str(self.model_path) if self.model_path is not None else "<in memory>"
        d3 = f", dispersion=D3({self.dispersion.params.functional})" if self.dispersion else ""
        dtype = str(self.dtype).removeprefix("torch.")
        return (
            f"MMHCalculator(model={source!r}, head={self.head!r}, dtype={dtype!r}, "
            f"device={str(self.device)!r}{d3}{', compile=True' if self.compiled else ''})"
        )

    # ----------------------------------------------------------------- graph and model
    def check_elements(self, atoms: Atoms) -> None:
        """Raise if ``atoms`` has elements outside the model's element table.

        Raises:
            mmh_data.UnknownElementError: Naming the elements and the model's table.
        """
        numbers = np.unique(np.asarray(atoms.numbers))
        unknown = numbers[~np.isin(numbers, self._elements)]
        if unknown.size:
            raise UnknownElementError(
                f"element(s) {_element_table(unknown.tolist())} not in the element table of "
                f"the model: {_element_table(self._elements.tolist())}"
            )

    def build_batch(self, atoms: Atoms) -> Batch:
        """The model input of ``atoms``: its graph (neighbour list at the model's cutoff)
        as a one-graph [`mmh_data.Batch`][] on the calculator's device and dtype."""
        self.check_elements(atoms)
        config = Configuration(
            atomic_numbers=atoms.numbers,
            positions=atoms.positions,
            cell=np.asarray(atoms.cell.array),
            pbc=np.asarray(atoms.pbc),
            head=self.head,
        )
        return collate([self._builder(config)]).to(device=self.device)

    def evaluate(
        self, batch: Batch, *, forces: bool = True, stress: bool = False
    ) -> dict[str, torch.Tensor]:
        """Run the model (compiled if asked) on a batch of
        [`build_batch`][mmh_ase.MMHCalculator.build_batch].

        Args:
            batch: The model input.
            forces: Compute forces.
            stress: Compute stress and virials.

        Returns:
            The model's outputs (see [`mmh_heads.MultiHeadMACE.compute`][]).
        """
        return self.model(batch, compute_forces=forces, compute_stress=stress)

    def _e0(self, atomic_numbers: torch.Tensor) -> np.ndarray:
        species = self.model.backbone.species(atomic_numbers)
        e0 = self.model.e0[self._head_index, species]
        return e0.detach().to("cpu", torch.float64).numpy()

    # ----------------------------------------------------------------- ASE interface
    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: list[str] | None = None,
        system_changes: list[str] = all_changes,
    ) -> None:
        """Compute energy, forces, per-atom energies and (with a 3-D cell) the stress."""
        properties = ["energy"] if properties is None else list(properties)
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        # The stress costs little on top of the forces: it is computed for every
        # structure with a three-dimensional cell, so that optimisers and MD that ask for
        # forces and then stress (cell filters, NPT) need one evaluation, not two.
        want_stress = atoms.cell.rank == 3
        if "stress" in properties and not want_stress:
            raise PropertyNotImplementedError(
                "stress needs a three-dimensional cell (atoms.cell.rank == 3); this structure "
                f"has cell rank {atoms.cell.rank} and pbc {atoms.pbc.tolist()}"
            )
        batch = self.build_batch(atoms)
        out = self.evaluate(batch, forces=True, stress=want_stress)
        node = out["node_energy"].detach().to("cpu", torch.float64).numpy()
        results: dict[str, Any] = {
            # summed in float64: a float32 sum of large per-atom energies (E0s included)
            # would lose digits in big structures
            "energy": float(node.sum()),
            "forces": out["forces"].detach().to("cpu", torch.float64).numpy(),
            "energies": node.copy(),
            "node_energy": node - self._e0(batch.atomic_numbers),
        }
        if want_stress:
            stress = out["stress"].detach().to("cpu", torch.float64).numpy()[0]
            results["stress"] = full_3x3_to_voigt_6_stress(stress)
        if self.dispersion is not None:
            want_energies = "energies" in properties
            disp = self.dispersion.calculate(
                atoms, forces=True, stress=want_stress, energies=want_energies
            )
            results["energy"] += disp["energy"]
            results["forces"] = results["forces"] + disp["forces"]
            if want_stress:
                results["stress"] = results["stress"] + disp["stress"]
            if want_energies:
                results["energies"] = results["energies"] + disp["energies"]
            else:
                # per-atom dispersion costs an N x N pair matrix: only when asked for
                del results["energies"]
        results["free_energy"] = results["energy"]
        self.results = results
