"""The ASE calculator of mmh models.

Not implemented yet: the package holds what it needs to build and install.
"""

__version__ = "0.1.0"
