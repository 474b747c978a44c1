"""The multi-head MACE model of mmh: per-head readouts, E0s, scale/shift, head extraction and the model file."""

__version__ = "0.1.0"
