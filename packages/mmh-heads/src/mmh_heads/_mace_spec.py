"""What a mace-torch model file describes: its classes, checked against the supported ones, and
its hyper-parameters, read as data from the module tree (nothing from the file runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._torch_archive import LazyArray, ModuleRecord, Record

#: mace interaction classes and the mmh blocks that compute the same thing
INTERACTION_BLOCKS = {
    "RealAgnosticResidualInteractionBlock": "linear",
    "RealAgnosticInteractionBlock": "linear_nonresidual",
    "RealAgnosticDensityResidualInteractionBlock": "density",
    "RealAgnosticDensityInteractionBlock": "density_nonresidual",
    "RealAgnosticResidualNonLinearInteractionBlock": "nonlinear",
}

#: every class a supported file may hold, by its last name component
_SUPPORTED_CLASSES = frozenset(
    {
        # models and mace blocks
        "ScaleShiftMACE",
        "MACE",
        "LinearNodeEmbeddingBlock",
        "RadialEmbeddingBlock",
        "BesselBasis",
        "AgnesiTransform",
        "PolynomialCutoff",
        "ZBLBasis",
        "AtomicEnergiesBlock",
        "EquivariantProductBasisBlock",
        "SymmetricContraction",
        "Contraction",
        "LinearReadoutBlock",
        "NonLinearReadoutBlock",
        "ScaleShiftBlock",
        "RadialMLP",
        "GatedEquivariantBlock",
        "reshape_irreps",
        *INTERACTION_BLOCKS,
        # e3nn
        "Linear",
        "TensorProduct",
        "FullyConnectedTensorProduct",
        "FullyConnectedNet",
        "_Layer",
        "normalize2mom",
        "SphericalHarmonics",
        "Activation",
        "Gate",
        "_Sortcut",
        "Extract",
        "ElementwiseTensorProduct",
        "Identity",
        # torch
        "ModuleList",
        "ParameterList",
        "Sequential",
        "LayerNorm",
        "SiLU",
        # mace's einsum graphs (rebuilt from Python source by torch; ignored here)
        "reduce_graph_module",
        "GraphModule",
    }
)

_CLASS_PACKAGES = ("mace.", "e3nn.", "torch.nn.", "torch.fx.")

#: model attributes that the importer reads or knows to be irrelevant to the energy
_ROOT_ATTRS = frozenset(
    {
        "heads",
        "lammps_mliap",
        "apply_cutoff",
        "edge_irreps",
        "use_reduced_cg",
        "use_agnostic_product",
        "use_so3",
        "use_last_readout_only",
        "use_edge_irreps_first",
        "pair_repulsion",
        "use_embedding_readout",
        "keep_last_layer_irreps",
    }
)
_ROOT_CHILDREN = frozenset(
    {
        "node_embedding",
        "radial_embedding",
        "pair_repulsion_fn",
        "spherical_harmonics",
        "atomic_energies_fn",
        "interactions",
        "products",
        "readouts",
        "scale_shift",
    }
)

#: what this reader reads, for error messages
SUPPORTED = (
    "ScaleShiftMACE and MACE models with two interaction layers of the families "
    + ", ".join(INTERACTION_BLOCKS)
    + "; Bessel radial basis, optional Agnesi transform and ZBL; e3nn or cuequivariance form"
)


class MaceFileError(ValueError):
    """A mace-torch file holds something the importer does not read (names what and where)."""


@dataclass
class MaceSpec:
    """The hyper-parameters and constants of a mace-torch model, as its file states them.

    Attributes:
        root: the module tree of the file.
        model_class: ``ScaleShiftMACE`` or ``MACE``.
        blocks: the mmh block name of each interaction layer.
        elements: the element table (atomic numbers in one-hot order).
        heads: head names in model order.
        channels, max_L: hidden node features ``channels x (0e + 1o + ... + max_L)``.
        edge_channels: channels of the convolution of layers after the first.
        edge_channels_first: channels of the first layer's scalar convolution.
        keep_last_layer_irreps: the last layer keeps all hidden irreps.
        max_ell, correlations, r_max, num_bessel, envelope_p, radial_mlp: as in mmh's
            ``BackboneConfig``.
        distance_transform: ``None`` or ``"agnesi"``.
        agnostic_product: element-agnostic product weights.
        apply_cutoff: the envelope multiplies the radial basis (True) or the MLP output.
        avg_num_neighbors: the message normalisation (one value for all layers).
        readout_hidden: hidden units per head of the last-layer readout.
        silu_norm: the readout's stored SiLU normalisation constant.
        zbl, zbl_p: ZBL repulsion and its envelope order.
        e0s: ``[H, Z]`` isolated-atom energies.
        scale, shift: ``[H]`` each.
        dtype: ``"float32"`` or ``"float64"``.
        cueq: the file is in cuequivariance form.
        version: the mace-torch versions whose files look like this one.
        classes: the class of each interaction layer and of the gate, for the record.
    """

    root: ModuleRecord
    model_class: str
    blocks: tuple[str, ...]
    elements: tuple[int, ...]
    heads: tuple[str, ...]
    channels: int
    max_L: int
    edge_channels: int
    edge_channels_first: int
    keep_last_layer_irreps: bool
    max_ell: int
    correlations: tuple[int, ...]
    r_max: float
    num_bessel: int
    envelope_p: int
    radial_mlp: tuple[int, ...]
    distance_transform: str | None
    agnostic_product: bool
    apply_cutoff: bool
    avg_num_neighbors: float
    readout_hidden: int
    silu_norm: float
    zbl: bool
    zbl_p: int
    e0s: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    dtype: str
    cueq: bool
    version: str
    classes: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- e3nn data


def irreps_of(value: Any, where: str) -> list[tuple[int, int, int]]:
    """``[(mul, l, p), ...]`` of a pickled e3nn ``Irreps`` (or its string form)."""
    if isinstance(value, str):
        out = []
        for term in value.replace(" ", "").split("+"):
            mul, ir = term.split("x") if "x" in term else ("1", term)
            out.append((int(mul), int(ir[:-1]), 1 if ir[-1] == "e" else -1))
        return out
    if not (isinstance(value, Record) and value.cls.endswith("Irreps") and value.args):
        raise MaceFileError(f"{where}: expected e3nn irreps, found {value!r:.80}")
    out = []
    for mul_ir in value.args[0]:
        mul, ir = mul_ir.args[0] if isinstance(mul_ir, Record) else mul_ir
        l, p = ir.args[0] if isinstance(ir, Record) else ir
        out.append((int(mul), int(l), int(p)))
    return out


def irreps_str(irreps: list[tuple[int, int, int]]) -> str:
    """e3nn's string form of ``[(mul, l, p), ...]``."""
    return "+".join(f"{m}x{l}{'e' if p == 1 else 'o'}" for m, l, p in irreps)


def _hidden_form(irreps: list[tuple[int, int, int]], where: str) -> tuple[int, int]:
    """``(channels, max_L)`` of irreps ``C x (0e + 1o + ... + L)``; an error otherwise."""
    channels = irreps[0][0]
    expected = [(channels, l, (-1) ** l) for l in range(len(irreps))]
    if irreps != expected:
        raise MaceFileError(
            f"{where}: irreps {irreps_str(irreps)} are not of the form C x (0e + 1o + 2e + ...) "
            "that mmh's backbone builds"
        )
    return channels, len(irreps) - 1


def scalar(value: Any, where: str) -> float:
    """A Python number from a 0-d (or one-element) tensor or a plain number."""
    if isinstance(value, LazyArray):
        arr = value.numpy()
        if arr.size != 1:
            raise MaceFileError(f"{where}: expected one number, found shape {arr.shape}")
        return arr.reshape(()).item()
    if isinstance(value, bool | int | float):
        return value
    raise MaceFileError(f"{where}: expected a number, found {value!r:.80}")


def function_name(value: Any) -> str:
    """The dotted name of a pickled function reference (an inert stand-in)."""
    return getattr(value, "cls", None) or repr(value)


# --------------------------------------------------------------------------- checks


def _check_classes(root: ModuleRecord, source: str, version: str) -> bool:
    """Every module's class must be a supported one; returns whether the file is cueq-form."""
    cueq = False
    for node in root.modules():
        if node.cls.startswith(("cuequivariance_torch.", "cuequivariance.")):
            cueq = True
            continue
        if node.class_name in _SUPPORTED_CLASSES and node.cls.startswith(_CLASS_PACKAGES):
            continue
        if any(node.path.startswith(p) for p in _cueq_subtrees(root)):
            continue
        raise MaceFileError(
            f"{source}: {node.path or 'the model'} is {node.cls}, which mmh does not import "
            f"(file from mace-torch {version}). Supported: {SUPPORTED}."
        )
    return cueq


def _cueq_subtrees(root: ModuleRecord) -> list[str]:
    return [n.path + "." for n in root.modules() if n.cls.startswith("cuequivariance")]


def _check_root(root: ModuleRecord, source: str, version: str) -> None:
    where = f"{source} (mace-torch {version})"
    unknown_attrs = sorted(set(root.attrs) - _ROOT_ATTRS)
    if unknown_attrs:
        raise MaceFileError(
            f"{where}: the model has attribute(s) {', '.join(unknown_attrs)} that mmh does not "
            f"know; nothing is guessed. Supported: {SUPPORTED}."
        )
    unknown = sorted(set(root.children) - _ROOT_CHILDREN)
    if unknown:
        raise MaceFileError(
            f"{where}: the model has module(s) {', '.join(unknown)} that mmh does not import "
            "(for example the charge/spin embedding of MACE-OMOL); nothing is guessed. "
            f"Supported: {SUPPORTED}."
        )
    flags = {
        "use_so3": False,
        "use_last_readout_only": False,
        "use_embedding_readout": False,
    }
    for name, expected in flags.items():
        if bool(root.attrs.get(name, expected)) != expected:
            raise MaceFileError(f"{where}: {name}={not expected} is not supported by mmh")


def infer_version(root: ModuleRecord) -> str:
    """The mace-torch versions whose files have this layout (mace stores no version)."""
    nonlin = [n for n in root.modules() if n.class_name == "GatedEquivariantBlock"]
    gate = [n for n in root.modules() if n.cls == "e3nn.nn._gate.Gate"]
    if nonlin:
        return "0.3.16 or later"
    if "use_edge_irreps_first" in root.attrs:
        return "0.3.15" if gate else "0.3.15 or later"
    if "edge_irreps" in root.attrs:
        return "0.3.14"
    if "lammps_mliap" in root.attrs:
        return "0.3.13"
    if "heads" in root.attrs:
        return "0.3.7 to 0.3.12"
    return "0.3.6 or earlier"


# --------------------------------------------------------------------------- reading


def read_spec(root: ModuleRecord, source: str | Path) -> MaceSpec:
    """The hyper-parameters of a mace model file, with every class and flag checked.

    Raises:
        MaceFileError: the file holds a class, attribute or setting that mmh does not read.
    """
    source = str(source)
    version = infer_version(root)
    where = f"{source} (mace-torch {version})"
    if root.class_name not in ("ScaleShiftMACE", "MACE") or not root.cls.startswith("mace."):
        raise MaceFileError(
            f"{source}: the model is {root.cls}, which mmh does not import (file from "
            f"mace-torch {version}). Supported: {SUPPORTED}."
        )
    cueq = _check_classes(root, source, version)
    _check_root(root, source, version)
    try:
        return _read(root, source, version, where, cueq)
    except KeyError as err:
        raise MaceFileError(f"{where}: expected {err.args[0]} in the file; it is missing") from err


def _read(root: ModuleRecord, source: str, version: str, where: str, cueq: bool) -> MaceSpec:
    elements = tuple(int(z) for z in root.tensor("atomic_numbers").numpy().tolist())
    num_interactions = int(scalar(root.tensor("num_interactions"), f"{where} num_interactions"))
    interactions = [root.child(f"interactions.{i}") for i in range(num_interactions)]
    products = [root.child(f"products.{i}") for i in range(num_interactions)]
    if num_interactions != 2:
        raise MaceFileError(
            f"{where}: {num_interactions} interaction layers; mmh imports models with two "
            "(every MACE foundation model it supports has two)"
        )
    blocks = []
    for layer in interactions:
        if layer.class_name not in INTERACTION_BLOCKS:
            raise MaceFileError(
                f"{where}: {layer.path} is {layer.cls}, which mmh does not implement. "
                f"Supported: {SUPPORTED}."
            )
        blocks.append(INTERACTION_BLOCKS[layer.class_name])
    if blocks[1].endswith("_nonresidual"):
        raise MaceFileError(f"{where}: a non-residual block after the first layer is not supported")

    hidden = irreps_of(interactions[0].attrs["hidden_irreps"], f"{where} hidden irreps")
    channels, max_l = _hidden_form(hidden, f"{where} interactions.0.hidden_irreps")
    last = irreps_of(interactions[-1].attrs["hidden_irreps"], f"{where} last irreps")
    keep_last = last != [(channels, 0, 1)]
    if keep_last and last != hidden:
        raise MaceFileError(f"{where}: last-layer irreps {irreps_str(last)} are not supported")

    edge_first = irreps_of(interactions[0].attrs["edge_irreps"], f"{where} edge irreps")
    edge_rest = irreps_of(interactions[1].attrs["edge_irreps"], f"{where} edge irreps")
    edge_c, edge_l = _hidden_form(edge_rest, f"{where} interactions.1.edge_irreps")
    if edge_l != max_l or len(edge_first) != 1 or edge_first[0][1:] != (0, 1):
        raise MaceFileError(
            f"{where}: edge irreps {irreps_str(edge_first)} / {irreps_str(edge_rest)} do not "
            f"match the hidden irreps {irreps_str(hidden)}"
        )
    edge_c_first = edge_first[0][0]
    if edge_c_first not in (channels, edge_c):
        raise MaceFileError(f"{where}: first-layer edge irreps {irreps_str(edge_first)}")

    sh = root.child("spherical_harmonics").attrs
    if not sh.get("normalize", True) or sh.get("normalization", "component") != "component":
        raise MaceFileError(f"{where}: spherical harmonics must be normalised, 'component'")
    max_ell = int(sh["_lmax"])

    correlations = tuple(
        len(p.child("symmetric_contractions.contractions.0.weights").parameters) + 1
        if not cueq
        else int(p.attrs.get("correlation", 0)) or _cueq_correlation(p, where)
        for p in products
    )
    radial = root.child("radial_embedding")
    bessel = radial.child("bessel_fn")
    if bessel.class_name != "BesselBasis":
        raise MaceFileError(
            f"{where}: radial basis {bessel.cls}; mmh implements the Bessel basis only"
        )
    num_bessel = bessel.tensor("bessel_weights").numel
    envelope_p = int(scalar(radial.child("cutoff_fn").tensor("p"), f"{where} cutoff p"))
    distance = None
    if radial.has("distance_transform"):
        transform = radial.child("distance_transform")
        if transform.class_name != "AgnesiTransform":
            raise MaceFileError(f"{where}: distance transform {transform.cls} is not supported")
        distance = "agnesi"
    apply_cutoff = bool(root.attrs.get("apply_cutoff", radial.attrs.get("apply_cutoff", True)))

    mlp = interactions[0].child("conv_tp_weights")
    hs = mlp.attrs.get("hs")
    if hs is None:
        raise MaceFileError(f"{where}: {mlp.path} has no layer sizes (hs)")
    radial_mlp = tuple(int(h) for h in hs[1:-1])
    for layer in interactions[1:]:
        other = tuple(int(h) for h in layer.child("conv_tp_weights").attrs["hs"][1:-1])
        if other != radial_mlp:
            raise MaceFileError(f"{where}: radial MLPs differ between layers")
    averages = {float(layer.attrs["avg_num_neighbors"]) for layer in interactions}
    if len(averages) != 1:
        raise MaceFileError(f"{where}: avg_num_neighbors differs between layers: {averages}")

    agnostic = bool(root.attrs.get("use_agnostic_product", False))
    for p in products:
        if bool(p.attrs.get("use_agnostic_product", agnostic)) != agnostic:
            raise MaceFileError(f"{where}: {p.path} disagrees on use_agnostic_product")

    heads = tuple(str(h) for h in root.attrs.get("heads") or ["Default"])
    num_heads = len(heads)
    readouts = root.child("readouts")
    if sorted(readouts.children) != ["0", "1"]:
        raise MaceFileError(f"{where}: expected two readouts, found {sorted(readouts.children)}")
    lin, mlp_readout = readouts.child("0"), readouts.child("1")
    if lin.class_name != "LinearReadoutBlock" or mlp_readout.class_name != "NonLinearReadoutBlock":
        raise MaceFileError(
            f"{where}: readouts {lin.cls} / {mlp_readout.cls}; mmh imports a linear first and a "
            "non-linear last readout"
        )
    mlp_irreps = irreps_of(mlp_readout.attrs["hidden_irreps"], f"{where} readout irreps")
    if len(mlp_irreps) != 1 or mlp_irreps[0][1:] != (0, 1) or mlp_irreps[0][0] % num_heads:
        raise MaceFileError(f"{where}: readout hidden irreps {irreps_str(mlp_irreps)}")
    readout_hidden = mlp_irreps[0][0] // num_heads
    if int(mlp_readout.attrs.get("num_heads", 1)) != num_heads:
        raise MaceFileError(f"{where}: the readout's num_heads does not match the heads")
    act = mlp_readout.child("non_linearity.acts.0")
    if function_name(act.attrs.get("f")) != "torch.nn.functional.silu":
        raise MaceFileError(
            f"{where}: readout activation {function_name(act.attrs.get('f'))}; mmh's readout "
            "uses SiLU"
        )
    silu_norm = float(act.attrs["cst"])

    e0s = root.child("atomic_energies_fn").tensor("atomic_energies").numpy().astype(np.float64)
    e0s = _per_head_rows(e0s, num_heads, len(elements), f"{where} atomic_energies")
    if root.class_name == "ScaleShiftMACE":
        block = root.child("scale_shift")
        scale = _per_head(block.tensor("scale").numpy(), num_heads, f"{where} scale")
        shift = _per_head(block.tensor("shift").numpy(), num_heads, f"{where} shift")
    else:
        scale, shift = np.ones(num_heads), np.zeros(num_heads)

    zbl = root.has("pair_repulsion_fn")
    zbl_p = envelope_p
    if zbl:
        zbl_p = int(scalar(root.child("pair_repulsion_fn").tensor("p"), f"{where} ZBL p"))

    dtype = str(root.child("atomic_energies_fn").tensor("atomic_energies").dtype)
    dtype = {"float64": "float64", "float32": "float32"}.get(dtype)
    if dtype is None:
        raise MaceFileError(f"{where}: weights in {dtype}; mmh imports float32 and float64")
    classes = {layer.path: layer.cls for layer in interactions}
    gates = [n.cls for n in root.modules() if n.class_name in ("GatedEquivariantBlock", "Gate")]
    if gates:
        classes["gate"] = gates[0]
    return MaceSpec(
        root=root,
        model_class=root.class_name,
        blocks=tuple(blocks),
        elements=elements,
        heads=heads,
        channels=channels,
        max_L=max_l,
        edge_channels=edge_c,
        edge_channels_first=edge_c_first,
        keep_last_layer_irreps=keep_last,
        max_ell=max_ell,
        correlations=correlations,
        r_max=float(scalar(root.tensor("r_max"), f"{where} r_max")),
        num_bessel=num_bessel,
        envelope_p=envelope_p,
        radial_mlp=radial_mlp,
        distance_transform=distance,
        agnostic_product=agnostic,
        apply_cutoff=apply_cutoff,
        avg_num_neighbors=averages.pop(),
        readout_hidden=readout_hidden,
        silu_norm=silu_norm,
        zbl=zbl,
        zbl_p=zbl_p,
        e0s=e0s,
        scale=scale,
        shift=shift,
        dtype=dtype,
        cueq=cueq,
        version=version,
        classes=classes,
    )


def _cueq_correlation(product: ModuleRecord, where: str) -> int:
    sc = product.child("symmetric_contractions")
    for key in ("contraction_degree", "correlation"):
        if key in sc.attrs:
            return int(sc.attrs[key])
    raise MaceFileError(f"{where}: cannot find the correlation order of {product.path}")


def _per_head(values: np.ndarray, num_heads: int, where: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 1:
        return np.full(num_heads, values[0])
    if values.size != num_heads:
        raise MaceFileError(f"{where}: {values.size} values for {num_heads} heads")
    return values


def _per_head_rows(values: np.ndarray, num_heads: int, num_z: int, where: str) -> np.ndarray:
    if values.shape == (num_z,):
        return np.tile(values, (num_heads, 1))
    if values.shape == (num_heads, num_z):
        return values
    if values.shape == (1, num_z):
        return np.tile(values[0], (num_heads, 1))
    raise MaceFileError(f"{where}: shape {values.shape} for {num_heads} heads and {num_z} elements")
