"""Density-normalised blocks of the original MACE family (MACE-MP-0b2/0b3, MPA-0, OMAT-0):
residual (``density``) and non-residual (``density_nonresidual``, their first layer)."""

from __future__ import annotations

from ._block_linear import LinearInteraction
from ._interaction import register_interaction_block


@register_interaction_block("density")
class DensityInteraction(LinearInteraction):
    r"""Residual block with density normalisation (mace
    ``RealAgnosticDensityResidualInteractionBlock``).

    .. math::
        \rho_i = \sum_j \tanh\big(\mathrm{MLP}_\rho(e_{ij})^2\big),\quad
        A_i = \frac{1}{\rho_i + 1} W \sum_j R(e_{ij})
              \odot \big(W_{up} h_j \otimes Y(\hat r_{ij})\big)

    As ``LinearInteraction`` (same parameters plus ``density_fn``, an e3nn
    ``FullyConnectedNet([num_bessel, 1])``, that is one bias-free linear map scaled by
    ``1/sqrt(num_bessel)``), but the message is divided by ``rho_i + 1`` instead of the
    average number of neighbours, which this block does not use. ``e_ij`` are the radial
    features; when the envelope is placed after the MLP it multiplies each edge term of
    ``rho_i`` as well as the tensor-product weights.
    """

    density_normalised = True


@register_interaction_block("density_nonresidual")
class DensityNonResidualInteraction(DensityInteraction):
    """Non-residual block with density normalisation (mace
    ``RealAgnosticDensityInteractionBlock``), the first layer of MPA-0 and OMAT-0.

    As ``DensityInteraction``, but without a self-connection from the node features: the
    element-dependent ``skip_tp`` (target irreps to target irreps) maps the normalised
    message, and the block returns no self-connection (see
    ``LinearNonResidualInteraction``).
    """

    residual = False
