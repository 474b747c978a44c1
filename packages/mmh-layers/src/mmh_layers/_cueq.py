"""cuequivariance-torch implementations of the equivariant operations.

Each class keeps its trainable parameters under the same names and shapes as the e3nn
implementation it replaces (features stay in e3nn's ``mul_ir`` layout), so a model moves
between backends by copying parameters; the numbers agree to rounding. The CUDA kernels
are used on GPU tensors when ``cuequivariance-ops-torch`` is installed; otherwise the
operations run through cuequivariance's PyTorch implementation.
"""

from __future__ import annotations

import cuequivariance as cue
import cuequivariance_torch as cuet
import torch
from e3nn import o3


def _cue_irreps(irreps: o3.Irreps) -> cue.Irreps:
    return cue.Irreps("O3", str(o3.Irreps(irreps)))


def _method() -> str | None:
    """``None`` lets cuequivariance pick its CUDA kernel (a CUDA device is present); without
    one, ``"naive"`` selects its PyTorch implementation."""
    return None if torch.cuda.is_available() else "naive"


class CueLinear(torch.nn.Module):
    """Equivariant linear map (cuequivariance), parameter ``weight [numel]`` as in e3nn."""

    #: weight decay applies to it, as to e3nn's linear maps
    weight_decay_applies = True

    def __init__(self, irreps_in: o3.Irreps, irreps_out: o3.Irreps) -> None:
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.op = cuet.Linear(
            _cue_irreps(irreps_in),
            _cue_irreps(irreps_out),
            layout=cue.mul_ir,
            shared_weights=True,
            internal_weights=False,
            dtype=torch.get_default_dtype(),
            method=_method(),
        )
        self.weight = torch.nn.Parameter(torch.randn(self.op.weight_numel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x, self.weight.unsqueeze(0))


class CueConvTensorProduct(torch.nn.Module):
    """Channel-wise tensor product with per-edge weights (cuequivariance).

    Called like e3nn's external-weight ``TensorProduct``: ``(x1, x2, weight)``.
    """

    def __init__(
        self,
        irreps_node: o3.Irreps,
        irreps_sh: o3.Irreps,
        irreps_mid: o3.Irreps,
        instructions: list,
    ) -> None:
        super().__init__()
        del instructions  # cuequivariance enumerates the same uvu paths in the same order
        filter_out = sorted({ir for _, ir in o3.Irreps(irreps_mid)})
        self.op = cuet.ChannelWiseTensorProduct(
            _cue_irreps(irreps_node),
            _cue_irreps(irreps_sh),
            filter_irreps_out=[cue.O3(ir.l, ir.p) for ir in filter_out],
            layout=cue.mul_ir,
            shared_weights=False,
            internal_weights=False,
            dtype=torch.get_default_dtype(),
            method=_method(),
        )
        if str(self.op.irreps_out) != str(o3.Irreps(irreps_mid)):
            raise RuntimeError(
                f"cuequivariance tensor product gives {self.op.irreps_out}, expected {irreps_mid}"
            )
        self.weight_numel = self.op.weight_numel

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return self.op(x1, x2, weight)


class CueSymmetricContraction(torch.nn.Module):
    """Symmetric contraction (cuequivariance), parameters as in
    [`mmh_layers.SymmetricContraction`][]: ``weights["<k>_<nu>"] [num_elements, K, C]``."""

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_out: o3.Irreps,
        correlation: int,
        num_elements: int,
        channels: int,
    ) -> None:
        super().__init__()
        from ._symmetric_contraction import contraction_weights

        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_out = o3.Irreps(irreps_out)
        self.correlation = correlation
        self.num_elements = num_elements
        self.channels = channels
        self.weights = contraction_weights(
            self.irreps_in, self.irreps_out, correlation, num_elements, channels
        )
        # cuequivariance's MACE-compatible basis: per output block, highest order first
        self.keys = [
            f"{k}_{nu}"
            for k in range(len(self.irreps_out))
            for nu in range(correlation, 0, -1)
            if f"{k}_{nu}" in self.weights
        ]
        self.op = cuet.SymmetricContraction(
            _cue_irreps(o3.Irreps([(channels, ir) for _, ir in self.irreps_in])),
            _cue_irreps(self.irreps_out),
            correlation,
            num_elements,
            layout_in=cue.ir_mul,
            layout_out=cue.mul_ir,
            original_mace=True,
            dtype=torch.get_default_dtype(),
            method=_method(),
        )
        del self.op.weight  # the parameters live in ``self.weights``

    def forward(self, x: torch.Tensor, species: torch.Tensor | None = None) -> torch.Tensor:
        """``x [N, C, D]``, ``species [N]`` → ``[N, irreps_out.dim]`` (``mul_ir``)."""
        if species is None:
            species = torch.zeros(x.shape[0], dtype=torch.int32, device=x.device)
        w = torch.cat([self.weights[k] for k in self.keys], dim=1)
        w = torch.einsum("zau,ab->zbu", w, self.op.projection.to(w.dtype)).flatten(1)
        out = self.op.f([w, x.transpose(1, 2).flatten(1)], input_indices={0: species.int()})
        return self.op.transpose_out(out[0])


class CueFusedConvolution(torch.nn.Module):
    """The whole edge convolution as one indexed cuequivariance polynomial (no parameters).

    ``A_i = sum_j conv_tp(h_j, Y(r_ij); w_ij)`` with the sender features gathered and the
    messages summed into the receivers inside the polynomial (``input_indices`` /
    ``output_indices``), in the channel-innermost ``ir_mul`` layout that its
    ``uniform_1d`` CUDA kernel works in; no per-edge message tensor exists. Features enter and
    leave in e3nn's ``mul_ir`` layout by one gather each. On the CPU it runs through
    cuequivariance's PyTorch implementation (for checks; mmh's native kernel is the CPU path).

    Called as [`FusedConvolution`][mmh_layers.FusedConvolution]:
    ``(h [N, irreps_node.dim], edge_sh [E, S], weights [E, weight_numel], edge_index [2, E])``.
    """

    def __init__(self, irreps_node: o3.Irreps, irreps_sh: o3.Irreps, irreps_mid: o3.Irreps) -> None:
        super().__init__()
        from ._fused_conv import _ir_mul_positions

        irreps_node, irreps_mid = o3.Irreps(irreps_node), o3.Irreps(irreps_mid)
        filter_out = sorted({ir for _, ir in irreps_mid})
        descriptor = cue.descriptors.channelwise_tensor_product(
            _cue_irreps(irreps_node),
            _cue_irreps(irreps_sh),
            [cue.O3(ir.l, ir.p) for ir in filter_out],
        )
        produced = str(descriptor.outputs[0].irreps)
        if produced != str(irreps_mid):
            raise RuntimeError(
                f"cuequivariance convolution gives {produced}, expected {irreps_mid}"
            )
        polynomial = descriptor.flatten_coefficient_modes().squeeze_modes().polynomial
        self.op = cuet.SegmentedPolynomial(
            polynomial,
            method="uniform_1d" if torch.cuda.is_available() else "naive",
            math_dtype=torch.get_default_dtype(),
        )
        blocks_in = tuple((mul, ir.dim) for mul, ir in irreps_node)
        blocks_out = tuple((mul, ir.dim) for mul, ir in irreps_mid)
        self.register_buffer("in_perm", _ir_mul_positions(blocks_in).argsort(), persistent=False)
        self.register_buffer("out_perm", _ir_mul_positions(blocks_out), persistent=False)

    @staticmethod
    def applies(h: torch.Tensor) -> bool:
        """Always: the cueq backend convolves this way on every device."""
        return True

    def forward(
        self,
        h: torch.Tensor,
        edge_sh: torch.Tensor,
        weights: torch.Tensor,
        edge_index: torch.Tensor,
    ) -> torch.Tensor:
        x = h.index_select(1, self.in_perm)
        (out,) = self.op(
            [weights, x, edge_sh.to(weights.dtype)],
            input_indices={1: edge_index[0]},
            output_shapes={0: h[:, :1]},
            output_indices={0: edge_index[1]},
        )
        return out.index_select(1, self.out_perm)
