"""The multi-head MACE model of mmh: per-head readouts, E0s, scale/shift, head extraction and
the model file.

Not implemented yet: the package holds what it needs to build and install.
"""

__version__ = "0.1.0"
