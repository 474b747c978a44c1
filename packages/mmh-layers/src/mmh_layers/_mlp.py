"""Radial multilayer perceptrons that turn edge features into tensor-product weights."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from e3nn import nn as e3nn_nn


class RadialMLP(torch.nn.Sequential):
    """``Linear → LayerNorm → SiLU`` per hidden layer, then a final ``Linear`` (all with bias).

    Used by the non-linear block, whose inputs are the Bessel features concatenated with
    the source and target element embeddings.

    Args:
        sizes: layer widths, input first and output last, e.g. ``[1034, 64, 64, 64, 1280]``.
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"a radial MLP needs at least two sizes, got {sizes}")
        layers: list[torch.nn.Module] = []
        for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(torch.nn.Linear(n_in, n_out))
            if k < len(sizes) - 2:
                layers += [torch.nn.LayerNorm(n_out), torch.nn.SiLU()]
        super().__init__(*layers)
        self.sizes = tuple(sizes)


def scaled_silu_mlp(sizes: Sequence[int]) -> torch.nn.Module:
    """Bias-free MLP with second-moment-normalised SiLU (e3nn ``FullyConnectedNet``).

    This is the radial network of the original MACE block: weights drawn from N(0, 1) and
    scaled by ``1/sqrt(fan_in)`` in the forward pass, so that a zero input maps to zero.
    """
    return e3nn_nn.FullyConnectedNet(list(sizes), torch.nn.functional.silu)
