"""Equivariant building blocks and the MACE backbone of mmh.

The public names are re-exported here; the implementation modules are private.
"""

from importlib import metadata as _metadata

from ._allocator import keep_freed_cpu_memory
from ._backbone import MACEBackbone
from ._block_density import DensityInteraction, DensityNonResidualInteraction
from ._block_linear import LinearInteraction, LinearNonResidualInteraction
from ._block_nonlinear import NonLinearInteraction
from ._config import BackboneConfig
from ._coupling import coupling_tensor
from ._embedding import ElementEmbedding, ElementLinear
from ._fused_conv import FusedConvolution
from ._gate import Gate
from ._interaction import (
    INTERACTION_BLOCKS,
    InteractionBlock,
    InteractionSpec,
    register_interaction_block,
)
from ._irreps import channels_first, channels_last, hidden_irreps
from ._mlp import RadialMLP
from ._native import native_available, native_build_error, native_enabled, use_native
from ._ops import BACKENDS, BackendUnavailableError
from ._product import ProductBasis
from ._radial import AgnesiTransform, BesselBasis, PolynomialEnvelope, polynomial_envelope
from ._symmetric_contraction import SymmetricContraction
from ._zbl import ZBLRepulsion

try:
    __version__ = _metadata.version("mmh-layers")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = [
    "BACKENDS",
    "INTERACTION_BLOCKS",
    "AgnesiTransform",
    "BackboneConfig",
    "BackendUnavailableError",
    "BesselBasis",
    "DensityInteraction",
    "DensityNonResidualInteraction",
    "ElementEmbedding",
    "ElementLinear",
    "FusedConvolution",
    "Gate",
    "InteractionBlock",
    "InteractionSpec",
    "LinearInteraction",
    "LinearNonResidualInteraction",
    "MACEBackbone",
    "NonLinearInteraction",
    "PolynomialEnvelope",
    "ProductBasis",
    "RadialMLP",
    "SymmetricContraction",
    "ZBLRepulsion",
    "channels_first",
    "channels_last",
    "coupling_tensor",
    "hidden_irreps",
    "keep_freed_cpu_memory",
    "native_available",
    "native_build_error",
    "native_enabled",
    "polynomial_envelope",
    "register_interaction_block",
    "use_native",
]
