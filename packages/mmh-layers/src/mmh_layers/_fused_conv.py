"""The fused channel-wise convolution: gather by sender, tensor product, scatter to receivers.

`FusedConvolution` computes what an interaction block's e3nn path computes,

    ``A_i = sum_j conv_tp(h_j, Y(r_ij); w_ij)``  (``conv_tp`` a ``uvu`` e3nn ``TensorProduct``)

in one native operator with no per-edge message tensor (see ``csrc/fused_conv.cpp``). Its
coupling paths are read off the e3nn tensor product itself, by evaluating it on basis vectors
in float64, so they carry e3nn's Clebsch–Gordan coefficients and normalisation exactly,
whatever e3nn version built the model. Features and results stay in e3nn's ``mul_ir``
layout at the interface; the kernel works channel-innermost.
"""

from __future__ import annotations

import copy

import torch
from e3nn import o3

from ._native import native_enabled

__all__ = ["FusedConvolution", "coupling_paths"]


def _single_multiplicity(irreps: o3.Irreps) -> int | None:
    muls = {mul for mul, _ in irreps}
    return muls.pop() if len(muls) == 1 else None


def _ir_mul_positions(blocks: tuple[tuple[int, int], ...]) -> torch.Tensor:
    """For each position of a ``mul_ir`` vector (blocks of ``mul x dim``, one ``mul`` = C),
    its position in the ``[sum(dim), C]`` channel-innermost layout."""
    positions, comp = [], 0
    channels = blocks[0][0] if blocks else 0
    for mul, dim in blocks:
        for u in range(mul):
            for m in range(dim):
                positions.append((comp + m) * channels + u)
        comp += dim
    return torch.tensor(positions, dtype=torch.long)


def coupling_paths(tp: o3.TensorProduct) -> tuple[torch.Tensor, torch.Tensor]:
    """The sparse path list of a channel-wise (``uvu``) e3nn tensor product.

    Returns ``(index [P, 4] int32, coef [P] float64)``: path ``p`` adds
    ``coef[p] * sh[s] * w[k, u] * x[i, u]`` to output component ``o`` of channel ``u``, with
    ``index[p] = (k, i, s, o)``: ``k`` the instruction (weight row), ``i`` and ``o`` the
    per-channel component of the input and output (irrep blocks side by side, ``2l+1`` each)
    and ``s`` the spherical-harmonic component. Paths are sorted by ``(k, i)``.

    The coefficients are measured on the module: one evaluation in float64 with basis vectors
    for channel 0 of every (instruction, input component, harmonic component).
    """
    irreps_in, irreps_sh, irreps_out = tp.irreps_in1, tp.irreps_in2, tp.irreps_out
    if any(ins.connection_mode != "uvu" for ins in tp.instructions):
        raise ValueError("the fused convolution needs a channel-wise ('uvu') tensor product")
    in_start, in_comp, out_start, out_comp = [], [], [], []
    pos = comp = 0
    for mul, ir in irreps_in:
        in_start.append(pos)
        in_comp.append(comp)
        pos += mul * ir.dim
        comp += ir.dim
    pos = comp = 0
    for mul, ir in irreps_out:
        out_start.append(pos)
        out_comp.append(comp)
        pos += mul * ir.dim
        comp += ir.dim
    weight_start, offset = [], 0
    for ins in tp.instructions:
        weight_start.append(offset)
        offset += ins.path_shape[0] if ins.path_shape else 1

    probes = []  # (k, i_comp, s, block_in, m_in)
    for k, ins in enumerate(tp.instructions):
        _, ir_in = irreps_in[ins.i_in1]
        for m in range(ir_in.dim):
            for s in range(irreps_sh.dim):
                probes.append((k, ins.i_in1, m, s))
    if not probes:
        return torch.zeros(0, 4, dtype=torch.int32), torch.zeros(0, dtype=torch.float64)
    num = len(probes)
    x = torch.zeros(num, irreps_in.dim, dtype=torch.float64)
    sh = torch.zeros(num, irreps_sh.dim, dtype=torch.float64)
    w = torch.zeros(num, tp.weight_numel, dtype=torch.float64)
    for row, (k, block, m, s) in enumerate(probes):
        x[row, in_start[block] + m] = 1.0  # channel 0 of component m of the block
        sh[row, s] = 1.0
        w[row, weight_start[k]] = 1.0
    probe_tp = copy.deepcopy(tp).to(torch.float64)
    with torch.no_grad():
        out = probe_tp(x, sh, w)
    rows = []
    for row, (k, block, m, s) in enumerate(probes):
        i_comp = in_comp[block] + m
        for b, (_, ir) in enumerate(irreps_out):
            for m_out in range(ir.dim):
                value = float(out[row, out_start[b] + m_out])  # channel 0
                if abs(value) > 1e-13:
                    rows.append((k, i_comp, s, out_comp[b] + m_out, value))
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3]))
    index = torch.tensor([r[:4] for r in rows], dtype=torch.int32).reshape(-1, 4)
    coef = torch.tensor([r[4] for r in rows], dtype=torch.float64)
    return index, coef


class FusedConvolution(torch.nn.Module):
    """The native fused form of one interaction block's convolution (no parameters).

    Built from the block's e3nn ``conv_tp``; `supports` says whether it applies (one
    channel count across the node and output irreps, a ``uvu`` product). Called as
    ``(h [N, irreps_in.dim], edge_sh [E, S], weights [E, weight_numel], edge_index [2, E])``,
    it returns the scattered messages ``[N, irreps_out.dim]`` in e3nn's layout.
    """

    def __init__(self, tp: o3.TensorProduct) -> None:
        super().__init__()
        self.channels = _single_multiplicity(tp.irreps_in1)
        self.in_layout = tuple((mul, ir.dim) for mul, ir in tp.irreps_in1)
        self.out_layout = tuple((mul, ir.dim) for mul, ir in tp.irreps_out)
        self.num_weight_rows = len(tp.instructions)
        self.num_out = sum(d for _, d in self.out_layout)
        self._in_perm = _ir_mul_positions(self.in_layout).argsort()
        self._out_perm = _ir_mul_positions(self.out_layout)
        index, coef = coupling_paths(tp)
        # plain attributes, not buffers: the kernel runs on the CPU, and the coefficients
        # stay float64 whatever dtype the model is cast to
        self.path_index, self.path_coef = index, coef

    @staticmethod
    def supports(tp: torch.nn.Module) -> bool:
        """Whether ``tp`` is an e3nn channel-wise product with one channel count."""
        if not isinstance(tp, o3.TensorProduct):
            return False
        c = _single_multiplicity(tp.irreps_in1)
        return (
            c is not None
            and _single_multiplicity(tp.irreps_out) == c
            and all(ins.connection_mode == "uvu" for ins in tp.instructions)
            and all(tp.irreps_in2[ins.i_in2].mul == 1 for ins in tp.instructions)
            and tp.weight_numel == c * len(tp.instructions)
        )

    @staticmethod
    def applies(h: torch.Tensor) -> bool:
        """Whether this path runs for features ``h``: CPU tensors, native kernels enabled."""
        return h.device.type == "cpu" and native_enabled()

    def _to_ir_mul(self, h: torch.Tensor) -> torch.Tensor:
        """``[N, irreps_in.dim]`` (``mul_ir``) → ``[N, I, C]``, one gather."""
        if self._in_perm.device != h.device:
            self._in_perm = self._in_perm.to(h.device)
        return h.index_select(1, self._in_perm).view(h.shape[0], -1, self.channels)

    def _to_mul_ir(self, a: torch.Tensor) -> torch.Tensor:
        """``[N, O, C]`` → ``[N, irreps_out.dim]`` (``mul_ir``), one gather."""
        if self._out_perm.device != a.device:
            self._out_perm = self._out_perm.to(a.device)
        return a.reshape(a.shape[0], -1).index_select(1, self._out_perm)

    def forward(
        self,
        h: torch.Tensor,
        edge_sh: torch.Tensor,
        weights: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        num_edges = weights.shape[0]
        w = weights.reshape(num_edges, self.num_weight_rows, self.channels)
        x = self._to_ir_mul(h)
        a = torch.ops.mmh_native.conv_fwd(
            w,
            x,
            edge_sh.to(w.dtype),
            edge_index[0],
            edge_index[1],
            h.shape[0],
            self.path_index,
            self.path_coef,
            self.num_out,
        )
        return self._to_mul_ir(a)
