"""Equivariant building blocks and the MACE backbone (linear and non-linear interaction blocks) for mmh."""

__version__ = "0.1.0"
