"""Equivariant operations behind a backend switch (e3nn or cuequivariance-torch).

Every operation keeps its trainable parameters in one backend-independent layout, so
that a model converts between backends by copying its state dict (see
`mmh_layers.convert_backend`). The e3nn implementations are the reference.
"""

from __future__ import annotations

import importlib.util

import torch
from e3nn import o3

BACKENDS = ("e3nn", "cueq")


class BackendUnavailableError(ImportError):
    """The requested backend is not installed; nothing falls back silently."""


def check_backend(backend: str) -> str:
    """Validate a backend name and that its library is importable."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    if backend == "cueq" and importlib.util.find_spec("cuequivariance_torch") is None:
        raise BackendUnavailableError(
            "backend 'cueq' needs cuequivariance-torch: pip install 'mmh-layers[cueq]' "
            "(and cuequivariance-ops-torch-cu12 or -cu13 for the CUDA kernels)"
        )
    return backend


def linear(irreps_in: o3.Irreps, irreps_out: o3.Irreps, backend: str = "e3nn") -> torch.nn.Module:
    """Equivariant linear map without bias (e3nn normalisation: ``1/sqrt(fan_in)``)."""
    if backend == "cueq":
        from ._cueq import CueLinear

        return CueLinear(irreps_in, irreps_out)
    return o3.Linear(irreps_in, irreps_out, internal_weights=True, shared_weights=True)


def conv_tensor_product(
    irreps_node: o3.Irreps,
    irreps_sh: o3.Irreps,
    irreps_mid: o3.Irreps,
    instructions: list,
    backend: str = "e3nn",
) -> torch.nn.Module:
    """Channel-wise (``uvu``) tensor product of node features with spherical harmonics,
    with per-edge weights supplied by the caller."""
    if backend == "cueq":
        from ._cueq import CueConvTensorProduct

        return CueConvTensorProduct(irreps_node, irreps_sh, irreps_mid, instructions)
    return o3.TensorProduct(
        irreps_node,
        irreps_sh,
        irreps_mid,
        instructions=instructions,
        shared_weights=False,
        internal_weights=False,
    )


def symmetric_contraction(
    irreps_in: o3.Irreps,
    irreps_out: o3.Irreps,
    correlation: int,
    num_elements: int,
    channels: int,
    backend: str = "e3nn",
) -> torch.nn.Module:
    """The product basis contraction (see [`mmh_layers.SymmetricContraction`][])."""
    if backend == "cueq":
        from ._cueq import CueSymmetricContraction

        return CueSymmetricContraction(irreps_in, irreps_out, correlation, num_elements, channels)
    from ._symmetric_contraction import SymmetricContraction

    return SymmetricContraction(irreps_in, irreps_out, correlation, num_elements, channels)


def scatter_sum(src: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Sum rows of ``src`` into ``num_nodes`` rows by ``index``."""
    out = src.new_zeros(num_nodes, *src.shape[1:])
    return out.index_add(0, index, src)
