"""A neighbour list in plain torch, on the device of the positions."""

from __future__ import annotations

import math

import torch

__all__ = ["torch_neighbour_list"]


def _complete_cell(cell: torch.Tensor, pbc: torch.Tensor) -> torch.Tensor:
    """The cell with its non-periodic vectors replaced by unit vectors orthogonal to the
    periodic ones (and to each other), so that plane distances along the periodic
    directions are those within the periodic lattice."""
    k = int(pbc.sum())
    if k == 3:
        return cell
    _, _, vh = torch.linalg.svd(cell[pbc], full_matrices=True)
    box = cell.clone()
    box[~pbc] = vh[k:].to(cell.dtype)
    return box


def _image_range(cell: torch.Tensor, pbc: torch.Tensor, cutoff: float) -> list[int]:
    """How many cell images to search along each lattice vector."""
    counts = []
    volume = torch.linalg.det(cell).abs()
    for k in range(3):
        if not bool(pbc[k]):
            counts.append(0)
            continue
        # distance between the lattice planes spanned by the two other vectors
        a, b = cell[(k + 1) % 3], cell[(k + 2) % 3]
        height = float(volume / torch.linalg.vector_norm(torch.linalg.cross(a, b)))
        counts.append(math.ceil(cutoff / height))
    return counts


def torch_neighbour_list(
    positions: torch.Tensor,
    cell: torch.Tensor,
    pbc: torch.Tensor,
    cutoff: float,
    *,
    chunk_pairs: int = 4_000_000,
) -> tuple[torch.Tensor, torch.Tensor]:
    """All ordered pairs ``(i, j, S)`` with ``|r_j - r_i + S @ cell| < cutoff`` of one
    structure, computed with torch on the device of ``positions``.

    The convention is [`mmh_data.neighbour_list`][]'s: a full list, row 0 the sender
    ``i``, self-pairs only through periodic images. Positions may lie outside the cell.
    The search compares every atom with every atom image (in chunks of ``chunk_pairs``
    distances): quadratic, meant for the structures of batched MD and relaxation, not
    for millions of atoms.

    Args:
        positions: ``[N, 3]`` Å.
        cell: ``[3, 3]`` lattice vectors as rows (ignored along non-periodic directions).
        pbc: ``[3]`` bool.
        cutoff: Cutoff radius, Å.
        chunk_pairs: Most distances held in memory at once.

    Returns:
        ``edge_index [2, E]`` int64 and ``unit_shifts [E, 3]`` int64, on the device of
        ``positions``.

    Raises:
        ValueError: A periodic direction has a degenerate cell.
    """
    device, dtype = positions.device, positions.dtype
    n = positions.shape[0]
    pbc = torch.as_tensor(pbc, dtype=torch.bool, device="cpu").reshape(-1).expand(3)
    empty = (
        torch.zeros(2, 0, dtype=torch.int64, device=device),
        torch.zeros(0, 3, dtype=torch.int64, device=device),
    )
    if n == 0:
        return empty
    offsets = torch.zeros(n, 3, dtype=dtype, device=device)
    wrapped = positions
    if bool(pbc.any()):
        sub = cell[pbc.to(device)]
        if torch.linalg.matrix_rank(sub.double()) < sub.shape[0]:
            raise ValueError(
                f"periodic directions {pbc.nonzero().flatten().tolist()} need linearly "
                f"independent, non-zero cell vectors; got cell {cell.tolist()}"
            )
        # wrap periodic coordinates into the cell; the shifts are corrected afterwards
        box = _complete_cell(cell, pbc.to(device))
        frac = torch.linalg.solve(box.T, positions.T).T
        offsets = torch.where(pbc.to(device), torch.floor(frac), 0.0)
        wrapped = positions - offsets @ box
        counts = _image_range(box, pbc, cutoff)
    else:
        box = torch.zeros(3, 3, dtype=dtype, device=device)
        counts = [0, 0, 0]
    axes = [torch.arange(-c, c + 1, device=device, dtype=torch.int64) for c in counts]
    shifts = torch.cartesian_prod(*axes).reshape(-1, 3)
    images = shifts.to(dtype) @ box  # [S, 3]
    cutoff2 = float(cutoff) ** 2
    per_i = n * shifts.shape[0]
    step = max(1, chunk_pairs // max(per_i, 1))
    found_i, found_j, found_s = [], [], []
    zero_shift = (shifts == 0).all(dim=1)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        # d[i, s, j] = r_j + image_s - r_i
        d = wrapped[None, None, :, :] + images[None, :, None, :] - wrapped[lo:hi, None, None, :]
        close = (d * d).sum(-1) < cutoff2
        ii = torch.arange(lo, hi, device=device)
        self_pair = ii[:, None, None] == torch.arange(n, device=device)[None, None, :]
        close &= ~(self_pair & zero_shift[None, :, None])
        i, s, j = close.nonzero(as_tuple=True)
        found_i.append(i + lo)
        found_j.append(j)
        found_s.append(s)
    i, j, s = torch.cat(found_i), torch.cat(found_j), torch.cat(found_s)
    if i.numel() == 0:
        return empty
    # back to the unwrapped positions: r_j - r_i + S @ cell with S = s - off_j + off_i
    unit = shifts[s] - offsets[j].to(torch.int64) + offsets[i].to(torch.int64)
    order = torch.argsort(i * n + j, stable=True)
    return torch.stack([i, j])[:, order], unit[order]
