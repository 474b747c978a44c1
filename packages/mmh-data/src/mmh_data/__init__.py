"""Labelled structures for many heads: readers, neighbour lists, graphs, statistics, replay
selection, domain-bridging sets, streaming and the bundled datasets of mmh.

Data flow::

    file (extxyz | ASE db | LMDB) --read_configurations--> Configuration (numpy)
      --GraphBuilder--> AtomicGraph (torch) --collate--> Batch --> model
"""

from importlib import metadata as _metadata

from ._batch import Batch, collate
from ._bridging import (
    BRIDGING_PROPERTIES,
    bridging_configurations,
    bridging_frame_count,
    bridging_heads,
    open_bridging_sources,
    read_bridging_frames,
)
from ._configuration import DEFAULT_CONFIG_TYPE, DEFAULT_HEAD, Configuration
from ._convert import AtomsConverter, configurations_from_atoms
from ._descriptors import structure_descriptors
from ._e0s import (
    ISOLATED_ATOM,
    average_e0s,
    fit_e0s,
    is_isolated_atom,
    isolated_atom_energies,
    solve_e0s,
)
from ._errors import (
    BadCellError,
    BadLabelError,
    CloseAtomsError,
    DataError,
    DataWarning,
    EmptyDatasetError,
    MalformedFileError,
    MissingFileError,
    MissingLabelWarning,
    UnknownElementError,
    UnknownHeadError,
)
from ._fields import (
    CALCULATOR_PROPERTIES,
    LABEL_NAMES,
    LABELS,
    LabelField,
    label_field,
    matrix_to_voigt,
    voigt_to_matrix,
)
from ._graph import AtomicGraph, GraphBuilder, build_graph
from ._keys import KeySpec
from ._lmdb import update_lmdb_metadata, write_lmdb
from ._lmdb_reader import LMDBReader
from ._loader import GraphDataset, graph_loader
from ._metrics import METRIC_PROPERTIES, METRIC_UNITS, ErrorAccumulator, format_metrics
from ._neighbours import neighbour_list
from ._read import iter_configurations, read_configurations
from ._replay import (
    element_filter_mask,
    farthest_point_sampling,
    select_replay,
    select_replay_indices,
)
from ._skill import baseline_metrics, centred_energy_mae, linear_energies, skill_scores
from ._sources import (
    ConcatSource,
    ConfigurationSource,
    SubsetSource,
    open_source,
    open_sources,
)
from ._statistics import (
    HeadStatistics,
    StatisticsAccumulator,
    compute_statistics,
    format_statistics,
)
from ._statistics_cache import SIDECAR_SUFFIX, cached_statistics, statistics_key
from ._streaming import LMDBDataset, distributed_rank
from ._validate import DEFAULT_MIN_DISTANCE, check_configuration

try:
    __version__ = _metadata.version("mmh-data")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = [
    "BRIDGING_PROPERTIES",
    "CALCULATOR_PROPERTIES",
    "DEFAULT_CONFIG_TYPE",
    "DEFAULT_HEAD",
    "DEFAULT_MIN_DISTANCE",
    "ISOLATED_ATOM",
    "LABELS",
    "LABEL_NAMES",
    "METRIC_PROPERTIES",
    "METRIC_UNITS",
    "SIDECAR_SUFFIX",
    "AtomicGraph",
    "AtomsConverter",
    "BadCellError",
    "BadLabelError",
    "Batch",
    "CloseAtomsError",
    "ConcatSource",
    "Configuration",
    "ConfigurationSource",
    "DataError",
    "DataWarning",
    "EmptyDatasetError",
    "ErrorAccumulator",
    "GraphBuilder",
    "GraphDataset",
    "HeadStatistics",
    "KeySpec",
    "LMDBDataset",
    "LMDBReader",
    "LabelField",
    "MalformedFileError",
    "MissingFileError",
    "MissingLabelWarning",
    "StatisticsAccumulator",
    "SubsetSource",
    "UnknownElementError",
    "UnknownHeadError",
    "__version__",
    "average_e0s",
    "baseline_metrics",
    "bridging_configurations",
    "bridging_frame_count",
    "bridging_heads",
    "build_graph",
    "cached_statistics",
    "centred_energy_mae",
    "check_configuration",
    "collate",
    "compute_statistics",
    "configurations_from_atoms",
    "distributed_rank",
    "element_filter_mask",
    "farthest_point_sampling",
    "fit_e0s",
    "format_metrics",
    "format_statistics",
    "graph_loader",
    "is_isolated_atom",
    "isolated_atom_energies",
    "iter_configurations",
    "label_field",
    "linear_energies",
    "matrix_to_voigt",
    "neighbour_list",
    "open_bridging_sources",
    "open_source",
    "open_sources",
    "read_bridging_frames",
    "read_configurations",
    "select_replay",
    "select_replay_indices",
    "skill_scores",
    "solve_e0s",
    "statistics_key",
    "structure_descriptors",
    "update_lmdb_metadata",
    "voigt_to_matrix",
    "write_lmdb",
]
