"""Physics checks that ship with mmh, for any module or model.

The helpers take a callable ``fn(positions, atomic_numbers, cell) -> dict[str, Tensor]`` and a
description of how each output transforms, then apply random O(3) operations (rotations
with and without inversion), translations and permutations and compare. They are used by
the tests of every mmh package and can be used on user models.

Output kinds:

* ``"scalar"``: invariant (energies);
* ``"vector"``: per-row Cartesian vectors ``[..., 3]`` (forces);
* ``"matrix"``: Cartesian rank-2 tensors ``[..., 3, 3]`` (stress, virials);
* an e3nn irreps string such as ``"8x0e+8x1o"``: per-row features in e3nn layout.

Example:
    >>> import torch
    >>> def fn(pos, z, cell):
    ...     d = pos[:, None] - pos[None]
    ...     return {"energy": (d**2).sum(), "centre": pos - pos.mean(0)}
    >>> pos = torch.randn(4, 3, dtype=torch.float64)
    >>> assert_o3_equivariant(fn, pos, torch.ones(4, dtype=torch.long),
    ...                       {"energy": "scalar", "centre": "vector"})
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from e3nn import o3

Fn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], Mapping[str, torch.Tensor]]

#: relative tolerances per dtype used by the assert helpers
TOLERANCES = {torch.float32: 1e-5, torch.float64: 1e-10}


def random_rotoinversion(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A random improper rotation (determinant −1)."""
    return (-o3.rand_matrix(dtype=torch.float64)).to(dtype)


def transform_output(value: torch.Tensor, kind: str, q: torch.Tensor) -> torch.Tensor:
    """Apply the O(3) matrix ``q`` to an output of the given kind."""
    q = q.to(value.dtype)
    if kind == "scalar":
        return value
    if kind == "vector":
        return value @ q.T
    if kind == "matrix":
        return q @ value @ q.T
    irreps = o3.Irreps(kind)
    return value @ irreps.D_from_matrix(q).to(value.dtype).T


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach(), b.detach()
    scale = max(float(b.abs().max()), float(a.abs().max()), 1e-30)
    return float((a - b).abs().max()) / scale


def o3_errors(
    fn: Fn,
    positions: torch.Tensor,
    atomic_numbers: torch.Tensor,
    kinds: Mapping[str, str],
    cell: torch.Tensor | None = None,
    q: torch.Tensor | None = None,
) -> dict[str, float]:
    """Relative error ``max|f(Qx) - Q·f(x)| / max|f(x)|`` of each output for one ``Q``."""
    q = random_rotoinversion(positions.dtype) if q is None else q.to(positions.dtype)
    out = fn(positions, atomic_numbers, cell)
    out_q = fn(positions @ q.T, atomic_numbers, None if cell is None else cell @ q.T)
    return {
        k: _relative_error(out_q[k], transform_output(out[k], kind, q)) for k, kind in kinds.items()
    }


def assert_o3_equivariant(
    fn: Fn,
    positions: torch.Tensor,
    atomic_numbers: torch.Tensor,
    kinds: Mapping[str, str],
    cell: torch.Tensor | None = None,
    *,
    trials: int = 3,
    rtol: float | None = None,
) -> None:
    """Assert equivariance under random rotations, with and without inversion.

    Each trial draws one proper rotation and one rotoinversion. ``rtol`` defaults to
    `TOLERANCES` for the dtype of ``positions``.
    """
    rtol = TOLERANCES.get(positions.dtype, 1e-5) if rtol is None else rtol
    for _ in range(trials):
        for q in (o3.rand_matrix(dtype=torch.float64), random_rotoinversion()):
            errors = o3_errors(fn, positions, atomic_numbers, kinds, cell, q)
            bad = {k: e for k, e in errors.items() if not e <= rtol}
            if bad:
                raise AssertionError(
                    f"not O(3)-equivariant (det Q = {float(torch.det(q)):+.0f}): relative "
                    f"errors {bad} exceed {rtol:g}"
                )


def assert_translation_invariant(
    fn: Fn,
    positions: torch.Tensor,
    atomic_numbers: torch.Tensor,
    kinds: Mapping[str, str],
    cell: torch.Tensor | None = None,
    *,
    rtol: float | None = None,
) -> None:
    """Assert every output is unchanged by a random rigid translation."""
    rtol = TOLERANCES.get(positions.dtype, 1e-5) if rtol is None else rtol
    shift = torch.randn(3, dtype=positions.dtype)
    out = fn(positions, atomic_numbers, cell)
    out_t = fn(positions + shift, atomic_numbers, cell)
    for k in kinds:
        err = _relative_error(out_t[k], out[k])
        if not err <= rtol:
            raise AssertionError(f"output {k!r} changes under translation: relative error {err:g}")


def assert_permutation_equivariant(
    fn: Fn,
    positions: torch.Tensor,
    atomic_numbers: torch.Tensor,
    per_atom: Mapping[str, bool],
    cell: torch.Tensor | None = None,
    *,
    rtol: float | None = None,
) -> None:
    """Assert that permuting the atoms permutes per-atom outputs and leaves the others alone.

    Args:
        per_atom: output name → whether its first axis runs over atoms.
    """
    rtol = TOLERANCES.get(positions.dtype, 1e-5) if rtol is None else rtol
    perm = torch.randperm(positions.shape[0])
    out = fn(positions, atomic_numbers, cell)
    out_p = fn(positions[perm], atomic_numbers[perm], cell)
    for k, is_per_atom in per_atom.items():
        expected = out[k][perm] if is_per_atom else out[k]
        err = _relative_error(out_p[k], expected)
        if not err <= rtol:
            raise AssertionError(f"output {k!r} is not permutation-equivariant: error {err:g}")


def radius_graph(
    positions: torch.Tensor, r_max: float, cell: torch.Tensor | None = None, images: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """All directed pairs closer than ``r_max`` by brute force, for small test systems.

    With a ``cell``, periodic images up to ``images`` cells away in every direction are
    included. Returns ``edge_index [2, E]`` (sender, receiver) and ``edge_vectors [E, 3]``
    (receiver minus sender, including the image shift), differentiable in ``positions``
    and ``cell``. Real workloads use the neighbour lists of ``mmh-data``.
    """
    if cell is None:
        shifts = positions.new_zeros(1, 3)
    else:
        rng = torch.arange(-images, images + 1, dtype=positions.dtype)
        grid = torch.stack(torch.meshgrid(rng, rng, rng, indexing="ij"), -1).reshape(-1, 3)
        shifts = grid @ cell
    vec = positions[None, :, None, :] - positions[:, None, None, :] + shifts[None, None]
    dist = torch.linalg.vector_norm(vec, dim=-1)
    mask = dist < r_max
    mask &= dist > 1e-8
    sender, receiver, image = torch.nonzero(mask, as_tuple=True)
    return torch.stack([sender, receiver]), vec[sender, receiver, image]
