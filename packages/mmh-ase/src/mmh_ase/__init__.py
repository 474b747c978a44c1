"""The ASE calculator of mmh models: head choice, dtype, device, optional DFT-D3
dispersion and ``torch.compile``; batched evaluation of many structures.

Example:
    >>> from ase.build import bulk
    >>> from mmh_ase import MMHCalculator, list_heads
    >>> list_heads("model.safetensors")  # doctest: +SKIP
    ['pbe', 'r2scan']
    >>> atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    >>> atoms.calc = MMHCalculator("model.safetensors", head="pbe")  # doctest: +SKIP
    >>> atoms.get_forces()  # doctest: +SKIP
"""

from importlib import metadata as _metadata

from ._batched import BatchEvaluator, evaluate_structures
from ._calculator import MMHCalculator
from ._dispersion import D3Dispersion, D3Params, DispersionUnavailableError
from ._heads import HeadSelectionError, list_heads
from ._registry import ml_peg_entry

try:
    __version__ = _metadata.version("mmh-ase")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = [
    "BatchEvaluator",
    "D3Dispersion",
    "D3Params",
    "DispersionUnavailableError",
    "HeadSelectionError",
    "MMHCalculator",
    "__version__",
    "evaluate_structures",
    "list_heads",
    "ml_peg_entry",
]
