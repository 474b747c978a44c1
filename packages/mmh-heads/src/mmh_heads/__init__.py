"""The multi-head MACE model of mmh: a shared backbone with one shallow readout per level of
theory, per-head E0s and scale/shift, E0 re-estimation, head extraction, the model file, and
the import of mace-torch model files (which never runs code from the file) and export back.

The public names are re-exported here; the implementation modules are private.
"""

from importlib import metadata as _metadata

from ._config import ModelConfig
from ._e0 import average_head_e0s, estimate_e0s, predict_energies
from ._file import FORMAT_VERSION, ModelFileError, load_model, read_model_header, save_model
from ._mace_export import export_mace
from ._mace_import import import_mace, load_mace_model
from ._mace_spec import MaceFileError
from ._meta import HeadMeta
from ._model import MultiHeadMACE
from ._readout import HeadReadout

try:
    __version__ = _metadata.version("mmh-heads")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = [
    "FORMAT_VERSION",
    "HeadMeta",
    "HeadReadout",
    "MaceFileError",
    "ModelConfig",
    "ModelFileError",
    "MultiHeadMACE",
    "average_head_e0s",
    "estimate_e0s",
    "export_mace",
    "import_mace",
    "load_mace_model",
    "load_model",
    "predict_energies",
    "read_model_header",
    "save_model",
]
