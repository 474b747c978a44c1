"""The ASE calculator of mmh models."""

__version__ = "0.1.0"
