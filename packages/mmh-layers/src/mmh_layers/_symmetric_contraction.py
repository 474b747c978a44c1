"""Symmetric contraction: the many-body product basis of MACE (paper Eqs. 16–18)."""

from __future__ import annotations

import torch
from e3nn import o3

from ._coupling import coupling_tensor


def contraction_weights(
    irreps_in: o3.Irreps, irreps_out: o3.Irreps, correlation: int, num_elements: int, channels: int
) -> torch.nn.ParameterDict:
    """The weights of a symmetric contraction, shared by both backends.

    ``weights["<k>_<nu>"]`` of shape ``[num_elements, K_nu, channels]`` for output block ``k``
    and order ``nu`` with ``K_nu > 0`` coupling paths, initialised ``N(0, 1) / K_nu``.
    """
    weights = torch.nn.ParameterDict()
    for k, (_, ir) in enumerate(o3.Irreps(irreps_out)):
        for nu in range(1, correlation + 1):
            num_paths = coupling_tensor(irreps_in, ir, nu).shape[-1]
            if num_paths:
                w = torch.randn(num_elements, num_paths, channels) / num_paths
                weights[f"{k}_{nu}"] = torch.nn.Parameter(w)
    return weights


#: pair products per block of channels in `SymmetricContraction._contract_pairs` (16 Mi numbers,
#: 64 MiB in float32)
_PAIR_BLOCK = 1 << 24


class _ContractLast(torch.autograd.Function):
    """``y[..., r] = sum_d a[..., r, d] x[..., d]``, a batched matrix-vector product.

    Its backward forms the outer product ``g x^T`` elementwise (torch's ``bmm`` backward does
    it as many tiny GEMMs); both formulas use differentiable ops, so higher derivatives work.
    """

    @staticmethod
    def forward(ctx, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, x)
        return torch.matmul(a, x.unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        a, x = ctx.saved_tensors
        grad_a = grad_x = None
        if ctx.needs_input_grad[0]:
            grad_a = grad.unsqueeze(-1) * x.unsqueeze(-2)
        if ctx.needs_input_grad[1]:
            grad_x = torch.matmul(grad.unsqueeze(-2), a).squeeze(-2)
        return grad_a, grad_x


def _contract_last(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``a [..., R, D]``, ``x [..., D]`` → ``[..., R]``."""
    return _ContractLast.apply(a, x)


class SymmetricContraction(torch.nn.Module):
    r"""Channel-wise symmetric tensor products of the atomic basis up to a correlation order.

    For node features ``A[n, c, i]`` (``i`` runs over the ``(l_max+1)^2`` components of the
    one-particle basis) and every output irrep ``L`` this computes

    .. math:: B_{n c M} = \sum_{\nu=1}^{\nu_{max}} \sum_k W^{\nu}_{z_n k c}
              \sum_{i_1..i_\nu} U^{\nu}_{M i_1..i_\nu k} A_{n c i_1} \cdots A_{n c i_\nu}

    with ``U`` the generalised Clebsch–Gordan tensors of
    [`coupling_tensor`][mmh_layers.coupling_tensor]. The sum is evaluated with the weights
    folded into ``U`` once per call, so the per-node work is a batched matrix product per channel.

    Args:
        irreps_in: irreps of the atomic basis per channel, multiplicity one each
            (e.g. ``0e+1o+2e+3o``).
        irreps_out: output irreps, all with multiplicity ``channels``.
        correlation: maximum body order ``nu_max`` (1–3 supported and tested).
        num_elements: number of weight sets; 1 for an element-agnostic product.
        channels: number of channels ``C``.

    Parameters are named ``weights_<k>_<nu>`` for output block ``k`` and order ``nu``, each of
    shape ``[num_elements, K_nu, C]`` and initialised ``N(0, 1) / K_nu``.
    """

    def __init__(
        self,
        irreps_in: o3.Irreps,
        irreps_out: o3.Irreps,
        correlation: int,
        num_elements: int,
        channels: int,
    ) -> None:
        super().__init__()
        if not 1 <= correlation <= 4:
            raise ValueError(f"correlation must be in 1..4, got {correlation}")
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_out = o3.Irreps(irreps_out)
        if any(mul != channels for mul, _ in self.irreps_out):
            raise ValueError(f"every output irrep needs multiplicity {channels}: {irreps_out}")
        self.correlation = correlation
        self.num_elements = num_elements
        self.channels = channels
        self.dim_in = self.irreps_in.dim
        self.dim_out = self.irreps_out.dim
        self._out_dims = tuple(ir.dim for _, ir in self.irreps_out)
        self.weights = contraction_weights(
            self.irreps_in, self.irreps_out, correlation, num_elements, channels
        )
        for k, (_, ir) in enumerate(self.irreps_out):
            for nu in range(1, correlation + 1):
                u = coupling_tensor(self.irreps_in, ir, nu)
                self.register_buffer(
                    f"U_{k}_{nu}", u.to(torch.get_default_dtype()), persistent=False
                )

    def _folded(self, k: int, nu: int, element: int) -> torch.Tensor | None:
        """``sum_k U[M, i.., k] W[e, k, c]`` as ``[C, M, i_1, .., i_nu]`` (None if no path)."""
        key = f"{k}_{nu}"
        if key not in self.weights:
            return None
        u = getattr(self, f"U_{k}_{nu}")
        w = self.weights[key][element]
        folded = u.reshape(-1, u.shape[-1]) @ w  # [M * D^nu, C]
        return folded.t().reshape(self.channels, *u.shape[:-1])

    def _contract_block(self, x: torch.Tensor, k: int, element: int) -> torch.Tensor:
        """Output block ``k`` for channel-major features ``x [C, n, D]`` → ``[C, n, M]``.

        Horner scheme over the body order: the accumulator holds the coefficients of the
        remaining polynomial, ``[C, n, M * D^(nu-1), D]``; each step contracts its last index
        with ``x`` and adds the order-nu weights contracted with ``x`` (a GEMM per channel, so
        the weights are never broadcast over the nodes).
        """
        c, n, d = x.shape
        m_dim = self._out_dims[k]
        acc = None
        for nu in range(self.correlation, 0, -1):
            t = self._folded(k, nu, element)
            term = None
            if t is not None:
                # a contiguous operand: torch runs a strided [C, D, M*D^(nu-1)] view slowly
                t = t.reshape(c, m_dim * d ** (nu - 1), d).transpose(1, 2).contiguous()
                term = torch.bmm(x, t)  # [C, n, M * D^(nu-1)]
            if acc is not None:
                contracted = _contract_last(acc.reshape(c, n, -1, d), x)
                term = contracted if term is None else contracted + term
            acc = term
        if acc is None:
            return x.new_zeros(c, n, m_dim)
        return acc

    def _pair_weights(self, element: int) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        """The folded weights of all output blocks as matrices on the pair features.

        Returns ``W3 [C, D^2, sum_k M_k D]`` (None below correlation 3), ``W2 [C, D, ...]``
        and ``bias [C, 1, ...]``: column block ``k`` holds, for output component ``m`` and
        first index ``i1``, the order-3 weights of the pairs ``(i2, i3)``, the order-2 weights
        of ``i2`` and the order-1 weights. Orders without coupling paths contribute zeros.
        """
        c, d = self.channels, self.dim_in
        w3, w2, bias = [], [], []
        for k, m in enumerate(self._out_dims):
            if self.correlation >= 3:
                t3 = self._folded(k, 3, element)
                w3.append(
                    self._zeros(c, d * d, m * d)
                    if t3 is None
                    else t3.reshape(c, m * d, d * d).transpose(1, 2)
                )
            t2 = self._folded(k, 2, element)
            w2.append(
                self._zeros(c, d, m * d) if t2 is None else t2.reshape(c, m * d, d).transpose(1, 2)
            )
            t1 = self._folded(k, 1, element)
            bias.append(self._zeros(c, 1, m * d) if t1 is None else t1.reshape(c, 1, m * d))
        # contiguous operands: torch runs strided batched GEMMs on a slow path
        w3_all = torch.cat(w3, dim=2).contiguous() if w3 else None
        return w3_all, torch.cat(w2, dim=2).contiguous(), torch.cat(bias, dim=2)

    def _zeros(self, *shape: int) -> torch.Tensor:
        w = next(iter(self.weights.values()))
        return w.new_zeros(shape)

    def _contract_pairs(self, xc: torch.Tensor, element: int) -> list[torch.Tensor]:
        """All output blocks for ``xc [C, n, D]`` at correlation 2 or 3, as ``[C, n, M_k]``.

        ``B_m = sum_i1 x_i1 (sum_{i2 i3} W3 x_i2 x_i3 + sum_i2 W2 x_i2 + W1)``: one GEMM per
        channel on the ``D^2`` pair products and the ``D`` features, for all output blocks at
        once, then a contraction with ``x``. The same polynomial as the Horner scheme, with no
        ``[C, n, M D^2]`` temporary.
        """
        c, n, d = xc.shape
        w3, w2, bias = self._pair_weights(element)
        inner = torch.baddbmm(bias, xc, w2)  # [C, n, sum_k M_k D]
        if w3 is not None:
            # the pair products, a block of channels at a time: no [C, n, D^2] tensor (with
            # weights that need no gradient, as in inference, none is saved for backward
            # either, and the backward pass also runs block by block)
            step = max(1, _PAIR_BLOCK // max(1, n * d * d))
            chunks = []
            # split, not slices: a slice's backward fills a zero tensor of the whole input
            for xs, acc, ws in zip(xc.split(step), inner.split(step), w3.split(step), strict=True):
                pairs = (xs.unsqueeze(-1) * xs.unsqueeze(-2)).reshape(xs.shape[0], n, d * d)
                chunks.append(torch.baddbmm(acc, pairs, ws))
            inner = chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=0)
        parts = inner.split([m * d for m in self._out_dims], dim=2)
        return [
            (z.reshape(c, n, m, d) * xc.unsqueeze(2)).sum(-1)
            for z, m in zip(parts, self._out_dims, strict=True)
        ]

    def _contract(self, x: torch.Tensor, element: int) -> torch.Tensor:
        """``x [n, C, D]`` → ``[n, irreps_out.dim]`` for nodes of one weight set."""
        xc = x.transpose(0, 1).contiguous()  # [C, n, D]
        if self.correlation in (2, 3):
            blocks = self._contract_pairs(xc, element)
            return torch.cat([b.permute(1, 0, 2).reshape(x.shape[0], -1) for b in blocks], -1)
        blocks = []
        for k in range(len(self._out_dims)):
            b = self._contract_block(xc, k, element)  # [C, n, M]
            blocks.append(b.permute(1, 0, 2).reshape(x.shape[0], -1))
        return torch.cat(blocks, dim=-1)

    def forward(self, x: torch.Tensor, species: torch.Tensor | None = None) -> torch.Tensor:
        """Contract features ``x [N, C, D]``; ``species [N]`` picks the weight set per node
        (ignored, and may be None, when ``num_elements == 1``). Returns ``[N, irreps_out.dim]``
        in ``mul_ir`` layout."""
        if x.shape[1:] != (self.channels, self.dim_in):
            raise ValueError(f"expected [N, {self.channels}, {self.dim_in}], got {tuple(x.shape)}")
        if self.num_elements == 1:
            return self._contract(x, 0)
        if species is None:
            raise ValueError("species indices are required for an element-dependent product")
        out = x.new_zeros(x.shape[0], self.dim_out)
        for element in torch.unique(species).tolist():
            index = torch.nonzero(species == element).squeeze(-1)
            out = out.index_copy(0, index, self._contract(x[index], element))
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.channels}x({self.irreps_in}) -> {self.irreps_out}, "
            f"correlation={self.correlation}, num_elements={self.num_elements}"
        )
