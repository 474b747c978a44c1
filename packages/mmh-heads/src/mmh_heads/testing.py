"""The physics test kit for multi-head models: check functions and a pytest mixin.

Every ``check_*`` function evaluates a model on [`mmh_data.Configuration`][] objects (the
graphs are built here, with the model's cutoff, so the neighbour list is part of what is
checked) and raises ``AssertionError`` with the property's name and the size of the error
when the property does not hold. `ModelTests` runs all of them: a test class that inherits it
and provides the fixtures ``model`` (a float64 model with at least two heads) and
``structures`` (labelled with the model's head names; include a periodic cell and a molecule)
gets the whole battery::

    import pytest
    from mmh_heads.testing import ModelTests, molecule, tiny_model, triclinic


    class TestMyBlock(ModelTests):
        @pytest.fixture
        def model(self):
            return tiny_model(block="myblock")

        @pytest.fixture
        def structures(self):
            return [triclinic(head="base"), molecule(head="new")]

The model is anything called as ``model(batch, compute_forces=..., compute_stress=...)``
that returns ``energy [G]``, ``forces [N, 3]`` and ``stress [G, 3, 3]`` (ASE sign) and has
``config.backbone.r_max``, ``heads`` and ``dtype``: [`MultiHeadMACE`][mmh_heads.MultiHeadMACE]
and its subclasses.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from mmh_data import Batch, Configuration, build_graph, collate
from mmh_layers import BackboneConfig
from mmh_layers.testing import random_rotoinversion

from ._config import ModelConfig
from ._file import load_model, save_model
from ._model import MultiHeadMACE

__all__ = [
    "ModelTests",
    "batch_of",
    "check_backend_parity",
    "check_batch_consistency",
    "check_compile_matches_eager",
    "check_cutoff_smoothness",
    "check_dtype_agreement",
    "check_extensivity",
    "check_forces_finite_differences",
    "check_head_independence",
    "check_locality",
    "check_o3_equivariance",
    "check_permutation_equivariance",
    "check_save_load_round_trip",
    "check_stress_finite_strain",
    "check_translation_invariance",
    "evaluate",
    "molecule",
    "tiny_model",
    "triclinic",
]

#: the cutoff of `tiny_model` and the structures of this module (Å)
R_MAX = 3.0
#: the heads of `tiny_model`
HEADS = ("base", "new")
#: the lattice vectors (rows, Å) of `triclinic`
CELL = np.array([[3.2, 0.0, 0.0], [0.6, 3.0, 0.0], [0.4, 0.5, 3.4]])
CELL.setflags(write=False)
#: isolated-atom energies (eV) of the first head of `tiny_model`
_E0 = {1: -13.6, 6: -1029.0, 8: -2041.0}


# --------------------------------------------------------------------------- factories
def tiny_model(
    heads: Sequence[str] = HEADS,
    *,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    zbl: bool = True,
    r_max: float = R_MAX,
    elements: Sequence[int] = (1, 6, 8),
    readout_hidden: int | Sequence[int] | None = None,
    e0s: Mapping[str, Mapping[int, float]] | None = None,
    scale: Mapping[str, float] | None = None,
    shift: Mapping[str, float] | None = None,
    **backbone,
) -> MultiHeadMACE:
    """A small random model for tests: 6 channels, L = 1, correlation 2, two readout sizes,
    distinct E0s, scales and shifts per head. ``backbone`` overrides
    [`mmh_layers.BackboneConfig`][] fields (``block=``, ``backend=``, ``agnostic_product=``...).

    The parameters are drawn after ``torch.manual_seed(seed)``: the same arguments give the
    same model. ``readout_hidden``, ``e0s``, ``scale`` and ``shift`` replace the per-head
    defaults (hidden sizes 16, 8, 16, ...; E0s for the first head only, −10 Z eV for an
    element without a tabulated value; scales 1.3 / (1 + k); shifts 0.1 k eV for head k);
    they take the values of [`ModelConfig`][mmh_heads.ModelConfig].
    """
    torch.manual_seed(seed)
    options = dict(channels=6, max_L=1, max_ell=2, correlation=2, num_bessel=4, radial_mlp=(8,))
    options.update(backbone)
    heads = tuple(heads)
    if readout_hidden is None:
        readout_hidden = tuple(16 if k % 2 == 0 else 8 for k in range(len(heads)))
    elif not isinstance(readout_hidden, int):
        readout_hidden = tuple(readout_hidden)
    if e0s is None:
        e0s = {heads[0]: {z: _E0.get(z, -10.0 * z) for z in elements}}
    config = ModelConfig(
        BackboneConfig(elements=tuple(elements), r_max=r_max, **options),
        heads=heads,
        readout_hidden=readout_hidden,
        e0s=e0s,
        scale={h: 1.3 / (1 + k) for k, h in enumerate(heads)} if scale is None else scale,
        shift={h: 0.1 * k for k, h in enumerate(heads)} if shift is None else shift,
        zbl=zbl,
    )
    return MultiHeadMACE(config, dtype=dtype)


def triclinic(seed: int = 0, head: str = HEADS[0], numbers=(6, 8, 1, 1)) -> Configuration:
    """Atoms at uniformly random positions in the fixed triclinic cell `CELL` (periodic in 3
    directions, images inside the cutoff). Random positions bring close contacts, so forces
    and stresses are large: a demanding structure for the checks."""
    rng = np.random.default_rng(seed)
    frac = rng.random((len(numbers), 3))
    return Configuration(
        atomic_numbers=list(numbers),
        positions=frac @ CELL,
        cell=CELL.copy(),
        pbc=[True] * 3,
        head=head,
    )


def molecule(seed: int = 0, head: str = HEADS[0], numbers=(6, 8, 1, 1, 1)) -> Configuration:
    """A random non-periodic cluster, atoms at least 0.9 Å apart.

    The first atom sits at the origin; each next one at a normal offset (1.1 Å per axis)
    from a randomly chosen earlier atom, kept only if it is more than 0.9 Å from all of them.
    """
    rng = np.random.default_rng(seed)
    pos = [np.zeros(3)]
    while len(pos) < len(numbers):
        trial = pos[rng.integers(len(pos))] + rng.normal(size=3) * 1.1
        if min(np.linalg.norm(trial - p) for p in pos) > 0.9:
            pos.append(trial)
    return Configuration(atomic_numbers=list(numbers), positions=np.array(pos), head=head)


def batch_of(
    configs: Sequence[Configuration], cutoff: float = R_MAX, dtype: torch.dtype = torch.float64
) -> Batch:
    """One batch of the configurations' graphs (each carries its head name)."""
    return collate([build_graph(c, cutoff=cutoff, heads=None, dtype=dtype) for c in configs])


def evaluate(
    model, configs: Sequence[Configuration], *, forces: bool = True, stress: bool = True
) -> dict[str, torch.Tensor]:
    """The model's outputs on one batch of ``configs``, detached."""
    batch = batch_of(configs, model.config.backbone.r_max, model.dtype)
    out = model(batch, compute_forces=forces, compute_stress=stress)
    return {k: v.detach() for k, v in out.items()}


def _energy(model, config: Configuration) -> float:
    return float(evaluate(model, [config], forces=False, stress=False)["energy"][0])


def _moved(config: Configuration, positions, cell=None) -> Configuration:
    changes = {"positions": np.asarray(positions, dtype=np.float64)}
    if cell is not None:
        changes["cell"] = np.asarray(cell, dtype=np.float64)
    return dataclasses.replace(config, **changes)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-30)
    return float((a - b).abs().max()) / scale


def _fail(prop: str, detail: str) -> AssertionError:
    return AssertionError(f"{prop}: {detail}")


# --------------------------------------------------------------------------- derivatives
def _compare_derivative(prop, fd, value, energy, h, rtol) -> None:
    """``|fd − value| ≤ rtol · max|value| + round-off``: a central difference of energies of
    size ``|E|`` carries a round-off error of about ``ε |E| / h``, which matters when the
    derivatives are small next to the energy (E0s make energies large)."""
    eps = torch.finfo(value.dtype).eps
    roundoff = 50 * eps * max(1.0, float(energy.abs().max())) / h
    err = float((fd - value).abs().max())
    scale = float(value.abs().max())
    if not err <= rtol * scale + roundoff:
        raise _fail(
            prop,
            f"max error {err:.2e} > {rtol:g} x {scale:.2e} + round-off {roundoff:.1e}",
        )


def check_forces_finite_differences(
    model, config: Configuration, *, h: float = 1e-5, rtol: float = 1e-6
) -> None:
    """Forces equal −∂E/∂r by central differences of step ``h`` Å (float64 model)."""
    out = evaluate(model, [config], stress=False)
    forces = out["forces"]
    fd = torch.zeros_like(forces)
    for i in range(len(config.atomic_numbers)):
        for a in range(3):
            energies = []
            for sign in (1, -1):
                pos = config.positions.copy()
                pos[i, a] += sign * h
                energies.append(_energy(model, _moved(config, pos)))
            fd[i, a] = -(energies[0] - energies[1]) / (2 * h)
    _compare_derivative("forces are not -dE/dr", fd, forces, out["energy"], h, rtol)


def check_stress_finite_strain(
    model, config: Configuration, *, h: float = 1e-5, rtol: float = 1e-6
) -> None:
    """Stress equals ``(1/V) ∂E/∂ε`` under symmetric finite strain (periodic ``config``)."""
    out = evaluate(model, [config])
    stress = out["stress"][0]
    volume = abs(float(np.linalg.det(config.cell)))
    fd = torch.zeros(3, 3, dtype=stress.dtype)
    for i in range(3):
        for j in range(3):
            energies = []
            for sign in (1, -1):
                d = np.zeros((3, 3))
                d[i, j] += 0.5 * sign * h
                d[j, i] += 0.5 * sign * h
                f = np.eye(3) + d
                energies.append(
                    _energy(model, _moved(config, config.positions @ f, config.cell @ f))
                )
            fd[i, j] = (energies[0] - energies[1]) / (2 * h) / volume
    _compare_derivative("stress is not dE/de / V", fd, stress, out["energy"] / volume, h, rtol)


# --------------------------------------------------------------------------- symmetries
def _default_rtol(model) -> float:
    return 1e-9 if model.dtype == torch.float64 else 1e-4


def check_o3_equivariance(
    model, config: Configuration, *, rtol: float | None = None, seed: int = 0
) -> None:
    """Energy invariant, forces and stress covariant under a random rotation and a random
    rotoinversion (parity included) of positions and cell."""
    rtol = _default_rtol(model) if rtol is None else rtol
    torch.manual_seed(seed)
    from e3nn import o3

    out = evaluate(model, [config])
    for q in (o3.rand_matrix(dtype=torch.float64), random_rotoinversion()):
        qn = q.numpy()
        cell = None if not config.pbc.any() else config.cell @ qn.T
        rotated = evaluate(model, [_moved(config, config.positions @ qn.T, cell)])
        q = q.to(out["forces"].dtype)
        expected = {
            "energy": out["energy"],
            "forces": out["forces"] @ q.T,
            "stress": q @ out["stress"][0] @ q.T,
        }
        got = {
            "energy": rotated["energy"],
            "forces": rotated["forces"],
            "stress": rotated["stress"][0],
        }
        for key, value in expected.items():
            err = _relative(got[key], value)
            if not err <= rtol:
                raise _fail(
                    "not O(3)-equivariant",
                    f"{key} under det Q = {float(torch.det(q)):+.0f}: relative error "
                    f"{err:.2e} > {rtol:g}",
                )


def check_translation_invariance(
    model, config: Configuration, *, rtol: float | None = None, seed: int = 0
) -> None:
    """Energy, forces and stress unchanged by a rigid translation."""
    rtol = _default_rtol(model) if rtol is None else rtol
    shift = np.random.default_rng(seed).normal(size=3) * 2.0
    out = evaluate(model, [config])
    moved = evaluate(model, [_moved(config, config.positions + shift)])
    for key in ("energy", "forces", "stress"):
        err = _relative(moved[key], out[key])
        if not err <= rtol:
            raise _fail("not translation-invariant", f"{key}: relative error {err:.2e}")


def check_permutation_equivariance(
    model, config: Configuration, *, rtol: float | None = None, seed: int = 0
) -> None:
    """Permuting the atoms permutes the forces and leaves energy and stress alone."""
    rtol = _default_rtol(model) if rtol is None else rtol
    perm = np.random.default_rng(seed).permutation(len(config.atomic_numbers))
    out = evaluate(model, [config])
    permuted = dataclasses.replace(
        config,
        atomic_numbers=config.atomic_numbers[perm],
        positions=config.positions[perm],
    )
    got = evaluate(model, [permuted])
    expected = {"energy": out["energy"], "forces": out["forces"][perm], "stress": out["stress"]}
    for key, value in expected.items():
        err = _relative(got[key], value)
        if not err <= rtol:
            raise _fail("not permutation-equivariant", f"{key}: relative error {err:.2e}")


# --------------------------------------------------------------------------- locality
def check_extensivity(model, config: Configuration, *, atol: float = 1e-9) -> None:
    """Two copies of a molecule 100 Å apart have twice its energy and its forces twice."""
    if config.pbc.any():
        raise ValueError("check_extensivity needs a non-periodic configuration")
    far = dataclasses.replace(
        config,
        atomic_numbers=np.concatenate([config.atomic_numbers] * 2),
        positions=np.concatenate(
            [config.positions, config.positions + np.array([100.0, 0.0, 0.0])]
        ),
    )
    one, two = evaluate(model, [config], stress=False), evaluate(model, [far], stress=False)
    err = abs(float(two["energy"][0] - 2 * one["energy"][0]))
    n = len(config.atomic_numbers)
    err_f = float((two["forces"] - torch.cat([one["forces"]] * 2)).abs().max())
    if not (err <= atol * n and err_f <= atol):
        raise _fail("not extensive", f"E(2 copies) - 2 E = {err:.2e} eV, forces {err_f:.2e}")


def check_locality(model, config: Configuration, *, rtol: float = 1e-10) -> None:
    """An atom placed beyond the cutoff of every atom changes no other atom's force, and adds
    exactly its isolated-atom energy, to rounding (``rtol`` of the largest force and of the
    energy: a larger graph may sum in another order)."""
    if config.pbc.any():
        raise ValueError("check_locality needs a non-periodic configuration")
    r_max = model.config.backbone.r_max
    far_point = config.positions.max(axis=0) + 1.5 * r_max
    z = int(config.atomic_numbers[0])
    added = dataclasses.replace(
        config,
        atomic_numbers=np.append(config.atomic_numbers, z),
        positions=np.vstack([config.positions, far_point]),
    )
    alone = dataclasses.replace(config, atomic_numbers=np.array([z]), positions=far_point[None])
    base, with_atom = (
        evaluate(model, [config], stress=False),
        evaluate(model, [added], stress=False),
    )
    err_f = float((with_atom["forces"][:-1] - base["forces"]).abs().max())
    err_e = abs(float(with_atom["energy"][0] - base["energy"][0]) - _energy(model, alone))
    f_scale = max(1.0, float(base["forces"].abs().max()))
    e_scale = max(1.0, abs(float(base["energy"][0])))
    if not (err_f <= rtol * f_scale and err_e <= rtol * e_scale):
        raise _fail("not local", f"a far atom changes forces by {err_f:.2e}, energy by {err_e:.2e}")


def check_cutoff_smoothness(
    model,
    head: str,
    *,
    numbers: tuple[int, int] = (6, 8),
    deltas: tuple[float, float] = (1e-2, 1e-3),
    floor: float = 1e-12,
) -> None:
    """A dimer's energy and force are continuous at ``r_max``.

    Beyond ``r_max`` the force is exactly zero. Inside, at ``r_max − δ``, the interaction
    energy must fall at least as ``δ²`` and the force at least as ``δ`` between the two
    ``deltas`` (with a factor 2 of slack): a jump or a kink at the cutoff falls slower.
    Values below ``floor`` count as zero.
    """
    r_max = model.config.backbone.r_max

    def dimer(r: float) -> Configuration:
        return Configuration(
            atomic_numbers=list(numbers), positions=[[0.0, 0.0, 0.0], [r, 0.0, 0.0]], head=head
        )

    far = evaluate(model, [dimer(r_max + 0.5)], stress=False)
    if float(far["forces"].abs().max()) != 0.0:
        raise _fail("not smooth at r_max", "atoms beyond the cutoff feel a force")
    values = []
    for delta in deltas:
        near = evaluate(model, [dimer(r_max - delta)], stress=False)
        values.append(
            (abs(float(near["energy"][0] - far["energy"][0])), float(near["forces"].abs().max()))
        )
    (e1, f1), (e2, f2) = values
    ratio = deltas[1] / deltas[0]
    if e2 > max(floor, 2 * e1 * ratio**2) or f2 > max(floor, 2 * f1 * ratio):
        raise _fail(
            "not smooth at r_max",
            f"interaction energy {e1:.2e} -> {e2:.2e} eV and force {f1:.2e} -> {f2:.2e} eV/Å "
            f"from r_max - {deltas[0]:g} to r_max - {deltas[1]:g} Å",
        )


# --------------------------------------------------------------------------- batching and heads
def check_batch_consistency(
    model, configs: Sequence[Configuration], *, rtol: float | None = None
) -> None:
    """A batch of the configurations (heads mixed) gives what each gives alone."""
    rtol = _default_rtol(model) if rtol is None else rtol
    batched = evaluate(model, configs)
    start = 0
    for k, config in enumerate(configs):
        alone = evaluate(model, [config])
        n = len(config.atomic_numbers)
        pairs = {
            "energy": (batched["energy"][k], alone["energy"][0]),
            "forces": (batched["forces"][start : start + n], alone["forces"]),
            "stress": (batched["stress"][k], alone["stress"][0]),
        }
        start += n
        for key, (a, b) in pairs.items():
            err = _relative(a, b)
            if not err <= rtol:
                raise _fail(
                    "batch inconsistency", f"structure {k}, {key}: relative error {err:.2e}"
                )


def check_head_independence(
    model, config: Configuration, *, changed: str | None = None, seed: int = 0
) -> None:
    """Changing one head's readout and constants leaves every other head's energies, forces
    and stress bit for bit."""
    heads = list(model.heads)
    if len(heads) < 2:
        raise ValueError("check_head_independence needs a model with two heads or more")
    changed = heads[-1] if changed is None else changed
    other = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in other.head_parameters(changed).values():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
        for value in other.head_constants(changed).values():
            value.add_(0.5)
    for head in heads:
        if head == changed:
            continue
        c = dataclasses.replace(config, head=head)
        a, b = evaluate(model, [c]), evaluate(other, [c])
        for key in ("energy", "forces", "stress"):
            if not torch.equal(a[key], b[key]):
                raise _fail(
                    "heads are not independent",
                    f"changing head {changed!r} changes head {head!r}'s {key} by "
                    f"{float((a[key] - b[key]).abs().max()):.2e}",
                )
    c = dataclasses.replace(config, head=changed)
    if torch.equal(evaluate(model, [c])["energy"], evaluate(other, [c])["energy"]):
        raise _fail("heads are not independent", f"head {changed!r} ignores its own readout")


# --------------------------------------------------------------------------- precision, backends
def check_dtype_agreement(
    model,
    configs: Sequence[Configuration],
    *,
    rtol: float = 1e-5,
    energy_rtol: float = 1e-6,
) -> None:
    """The float32 copy of a float64 model returns float32 outputs that agree with the float64
    ones: energies to ``energy_rtol`` of the largest energy (E0s make energies large, so
    this is tighter than ``rtol``), forces and stress to ``rtol`` of their largest entry."""
    single = copy.deepcopy(model).to(torch.float32)
    a, b = evaluate(model, configs), evaluate(single, configs)
    for key in ("energy", "forces", "stress"):
        if b[key].dtype != torch.float32:
            raise _fail("float32", f"{key} is {b[key].dtype} in the float32 model")
        err = _relative(b[key].double(), a[key])
        limit = energy_rtol if key == "energy" else rtol
        if not err <= limit:
            raise _fail(
                "float32 and float64 disagree", f"{key}: relative error {err:.2e} > {limit:g}"
            )


def check_backend_parity(
    model, configs: Sequence[Configuration], backend: str, *, rtol: float | None = None
) -> None:
    """The model with its backbone computed by ``backend`` agrees with the model."""
    rtol = _default_rtol(model) if rtol is None else rtol
    other = copy.deepcopy(model)
    other.backbone = model.backbone.to_backend(backend)
    a, b = evaluate(model, configs), evaluate(other, configs)
    for key in ("energy", "forces", "stress"):
        err = _relative(b[key], a[key])
        if not err <= rtol:
            raise _fail(f"backend {backend!r} disagrees", f"{key}: relative error {err:.2e}")


def check_compile_matches_eager(
    model, configs: Sequence[Configuration], *, backend: str = "aot_eager", rtol: float = 1e-5
) -> None:
    """``torch.compile`` of the model's forward pass (inference) agrees with eager mode."""
    model = copy.deepcopy(model).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    batch = batch_of(configs, model.config.backbone.r_max, model.dtype)
    eager = model(batch)
    compiled = torch.compile(model, backend=backend, dynamic=False)(batch)
    for key in ("energy", "forces", "stress"):
        err = _relative(compiled[key].detach(), eager[key].detach())
        if not err <= rtol:
            raise _fail("compiled model disagrees", f"{key}: relative error {err:.2e}")


def check_save_load_round_trip(model, configs: Sequence[Configuration]) -> None:
    """Saving to a model file and loading it back gives bit-identical outputs and heads."""
    with tempfile.TemporaryDirectory() as tmp:
        path = save_model(model, Path(tmp) / "model.safetensors")
        loaded = load_model(path)
    if list(loaded.heads) != list(model.heads):
        raise _fail("save/load", f"heads {loaded.heads} != {model.heads}")
    a, b = evaluate(model, configs), evaluate(loaded, configs)
    for key in ("energy", "forces", "stress"):
        if not torch.equal(a[key], b[key]):
            raise _fail("save/load changes the model", f"{key} differs")


# --------------------------------------------------------------------------- the mixin
class ModelTests:
    """Mixin for pytest classes: the physics battery on a model.

    Fixtures to provide:
        model: a float64 model with at least two heads (`tiny_model` builds one).
        structures: configurations labelled with the model's heads, at least one periodic
            (for stress) and one molecule (for extensivity and locality).

    Class attributes tune the battery: ``backends`` (other backends that must agree),
    ``compile`` (check ``torch.compile``; slow, off by default), ``float32_rtol`` and
    ``float32_energy_rtol`` (larger models round more in float32).
    """

    backends: tuple[str, ...] = ()
    compile: bool = False
    #: forces and stress of the float32 copy, relative to the largest entry
    float32_rtol: float = 1e-5
    #: energies of the float32 copy, relative to the largest energy
    float32_energy_rtol: float = 1e-6

    @staticmethod
    def _periodic(structures) -> list[Configuration]:
        return [c for c in structures if c.pbc.all()]

    @staticmethod
    def _molecules(structures) -> list[Configuration]:
        return [c for c in structures if not c.pbc.any()]

    def test_forces_are_minus_the_energy_gradient(self, model, structures):
        for config in structures:
            check_forces_finite_differences(model, config)

    def test_stress_is_the_strain_derivative(self, model, structures):
        periodic = self._periodic(structures)
        assert periodic, "the structures fixture needs a periodic configuration"
        for config in periodic:
            check_stress_finite_strain(model, config)

    def test_o3_equivariance(self, model, structures):
        for config in structures:
            check_o3_equivariance(model, config)

    def test_translation_invariance(self, model, structures):
        for config in structures:
            check_translation_invariance(model, config)

    def test_permutation_equivariance(self, model, structures):
        for config in structures:
            check_permutation_equivariance(model, config)

    def test_extensivity_and_locality(self, model, structures):
        molecules = self._molecules(structures)
        assert molecules, "the structures fixture needs a non-periodic configuration"
        for config in molecules:
            check_extensivity(model, config)
            check_locality(model, config)

    def test_smooth_at_the_cutoff(self, model):
        for head in model.heads:
            check_cutoff_smoothness(model, head)

    def test_batch_consistency(self, model, structures):
        check_batch_consistency(model, structures)

    def test_head_independence(self, model, structures):
        if len(model.heads) < 2:
            _skip("a model with one head has no other head to leave alone")
        for head in model.heads:
            check_head_independence(model, structures[0], changed=head)

    def test_float32_agrees_with_float64(self, model, structures):
        check_dtype_agreement(
            model, structures, rtol=self.float32_rtol, energy_rtol=self.float32_energy_rtol
        )

    def test_backend_parity(self, model, structures):
        if not self.backends:
            _skip("no other backend is named in the class's `backends`")
        for backend in self.backends:
            check_backend_parity(model, structures, backend)

    def test_save_load_round_trip(self, model, structures):
        check_save_load_round_trip(model, structures)

    def test_compile_matches_eager(self, model, structures):
        if not self.compile:
            _skip("`compile = True` on the class checks torch.compile")
        check_compile_matches_eager(model, structures)


def _skip(reason: str) -> None:
    import pytest  # only the mixin needs pytest; the check functions do not

    pytest.skip(reason)
