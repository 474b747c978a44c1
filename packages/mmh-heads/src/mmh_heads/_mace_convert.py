"""Map the tensors of a mace-torch model onto an mmh ``MultiHeadMACE``, exactly.

Every parameter of the mmh model is filled from one named tensor of the file, and every tensor
of the file is either used, checked against the constant mmh computes, or known to be derived
(``output_mask``, empty bias buffers, the U matrices). Anything else is an error: nothing is
guessed and nothing is silently dropped.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch
from e3nn.math import normalize2mom
from mmh_layers import BackboneConfig, coupling_tensor

from ._config import ModelConfig
from ._mace_spec import MaceFileError, MaceSpec, function_name
from ._model import MultiHeadMACE

#: relative tolerance of stored constants against mmh's, per dtype of the file
_CONSTANT_RTOL = {"float64": 1e-12, "float32": 2e-7}


def model_config(spec: MaceSpec) -> ModelConfig:
    """The mmh hyper-parameters of the model a mace file describes."""
    blocks = spec.blocks
    backbone = BackboneConfig(
        elements=spec.elements,
        block=blocks[1],
        first_block=blocks[0] if blocks[0] != blocks[1] else None,
        channels=spec.channels,
        max_L=spec.max_L,
        edge_channels=spec.edge_channels if spec.edge_channels != spec.channels else None,
        edge_irreps_first=spec.edge_channels_first == spec.edge_channels,
        max_ell=spec.max_ell,
        correlation=spec.correlations,
        num_interactions=len(blocks),
        r_max=spec.r_max,
        num_bessel=spec.num_bessel,
        envelope_p=spec.envelope_p,
        envelope_after_mlp=not spec.apply_cutoff,
        radial_mlp=spec.radial_mlp,
        distance_transform=spec.distance_transform,
        agnostic_product=spec.agnostic_product,
        avg_num_neighbors=spec.avg_num_neighbors,
        keep_last_layer_irreps=spec.keep_last_layer_irreps,
        backend="e3nn",
    )
    heads = spec.heads
    return ModelConfig(
        backbone=backbone,
        heads=heads,
        readout_hidden=spec.readout_hidden,
        e0s={
            h: dict(zip(spec.elements, spec.e0s[k].tolist(), strict=True))
            for k, h in enumerate(heads)
        },
        scale={h: float(spec.scale[k]) for k, h in enumerate(heads)},
        shift={h: float(spec.shift[k]) for k, h in enumerate(heads)},
        zbl=spec.zbl,
        zbl_p=spec.zbl_p,
        readout_silu_norm=spec.silu_norm,
    )


class _Filler(dict):
    """Copies each mapped tensor into the model as soon as it is known (so the file's tensors
    never all sit in memory twice) and remembers which keys were filled."""

    def __init__(self, model: MultiHeadMACE, where: str) -> None:
        super().__init__()
        self.state = model.state_dict(keep_vars=True)
        self.where = where

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        if key not in self.state:
            raise MaceFileError(f"{self.where}: mmh's model has no tensor {key}")
        target = self.state[key]
        if tuple(target.shape) != value.shape:
            raise MaceFileError(
                f"{self.where}: {key} has shape {value.shape} in the file, mmh expects "
                f"{tuple(target.shape)}"
            )
        with torch.no_grad():
            target.copy_(torch.as_tensor(value))
        super().__setitem__(key, None)

    def update(self, other: dict) -> None:  # type: ignore[override]
        for key, value in other.items():
            self[key] = value


class _Source:
    """The file's tensors by name, with a record of which ones were used."""

    def __init__(self, spec: MaceSpec, where: str, model: MultiHeadMACE) -> None:
        self.tensors: dict[str, Any] = spec.root.state_dict()
        self.used: set[str] = set()
        self.where = where
        self.dtype = spec.dtype
        #: the contraction bases found in the file ("mace" = mace-torch's e3nn basis)
        self.bases: set[str] = set()
        if spec.cueq:
            self.tensors = _e3nn_form(self.tensors, spec, model, where)

    def get(self, key: str) -> np.ndarray:
        if key not in self.tensors:
            raise MaceFileError(f"{self.where}: the file has no tensor {key}")
        self.used.add(key)
        value = self.tensors[key]
        value = value if isinstance(value, np.ndarray) else value.numpy()
        return value.astype(np.float64, copy=False)

    def numel(self, key: str) -> int:
        value = self.tensors[key]
        return value.size if isinstance(value, np.ndarray) else value.numel

    def check(self, key: str, expected: Any, what: str) -> None:
        """The stored constant ``key`` must equal mmh's value (to the file's precision)."""
        value = self.get(key)
        expected = np.asarray(expected, dtype=np.float64)
        if value.shape != expected.shape and value.size == expected.size:
            value = value.reshape(expected.shape)
        rtol = _CONSTANT_RTOL[self.dtype]
        if value.shape != expected.shape or not np.allclose(value, expected, rtol=rtol, atol=0):
            raise MaceFileError(
                f"{self.where}: {key} ({what}) is {value.reshape(-1)[:4]}, mmh computes "
                f"{expected.reshape(-1)[:4]}; a model with other constants is not imported"
            )


def _e3nn_form(tensors: dict, spec: MaceSpec, model: MultiHeadMACE, where: str) -> dict:
    """The tensors of a cuequivariance-form file under the names and shapes of the e3nn form.

    mace's converter stores each linear map's e3nn weights as ``[1, numel]`` in the same
    order, and each product basis as one ``[Z|1, sum of paths, C]`` tensor that concatenates,
    output irrep by output irrep, e3nn's ``weights_max``, ``weights.0``, ... (orders ``nu``
    from the correlation down to 1, paths of mace's e3nn basis). The e3nn form's ``U``
    buffers are mace's basis, which ``coupling_tensor(basis="mace")`` rebuilds.
    """
    out: dict[str, Any] = {}
    for key, value in tensors.items():
        if key.endswith(".symmetric_contractions.projection"):
            continue  # derived by cuequivariance from the basis
        if key.endswith(".symmetric_contractions.weight"):
            layer = int(key.split(".")[1])
            out.update(_split_contraction(layer, value.numpy(), spec, model, where))
            continue
        if key.endswith(".weight") and len(value.shape) == 2 and value.shape[0] == 1:
            parent = key.rsplit(".", 1)[0]
            if spec.root.child(parent).cls.startswith("cuequivariance_torch."):
                out[key] = value.numpy().reshape(-1)
                continue
        out[key] = value
    return out


def _split_contraction(layer, weight, spec, model, where) -> dict:
    sc = model.backbone.products[layer].symmetric_contraction
    correlation = spec.correlations[layer]
    prefix = f"products.{layer}.symmetric_contractions.contractions"
    out, start = {}, 0
    for k, (_, ir) in enumerate(sc.irreps_out):
        for nu in range(correlation, 0, -1):
            u = coupling_tensor(sc.irreps_in, ir, nu, basis="mace").numpy()
            name = "weights_max" if nu == correlation else f"weights.{correlation - 1 - nu}"
            n = u.shape[-1]
            out[f"{prefix}.{k}.U_matrix_{nu}"] = u
            out[f"{prefix}.{k}.{name}"] = weight[:, start : start + n]
            start += n
    if start != weight.shape[1]:
        raise MaceFileError(
            f"{where}: products.{layer}.symmetric_contractions.weight has {weight.shape[1]} "
            f"paths, mace's basis for these irreps has {start}"
        )
    return out


def convert(spec: MaceSpec, where: str, dtype: torch.dtype | None = None) -> MultiHeadMACE:
    """Build the mmh model with the exact weights of a mace-torch file.

    Args:
        spec: what the file describes (see ``read_spec``).
        where: the file, for error messages.
        dtype: float dtype of the result; default the file's.
    """
    dtype = dtype or getattr(torch, spec.dtype)
    model = MultiHeadMACE(model_config(spec), dtype=dtype)
    src = _Source(spec, where, model)
    target = model.state_dict()
    values = _Filler(model, where)

    _backbone(spec, model, src, values)
    _readouts(spec, src, values)
    _check_constants(spec, model, src)

    for key in ("atomic_numbers", "r_max", "num_interactions"):
        src.used.add(key)
    src.used.add("atomic_energies_fn.atomic_energies")
    src.used.update(k for k in src.tensors if k.startswith("scale_shift."))

    derived_mmh = {k for k, v in target.items() if _derived(k, v)}
    missing = sorted(set(target) - set(values) - derived_mmh - {"e0", "scale", "shift"})
    if missing:
        raise MaceFileError(f"{where}: no tensor in the file for mmh's {', '.join(missing[:5])}")
    unused = sorted(
        k
        for k in set(src.tensors) - src.used
        if not (k.endswith("output_mask") or src.numel(k) == 0 or "U_matrix" in k)
        and not k.endswith("_zeroed")
    )
    if unused:
        raise MaceFileError(
            f"{where}: tensor(s) {', '.join(unused[:6])} of the file have no place in the mmh "
            "model; nothing is dropped silently"
        )
    for key in derived_mmh:
        mace_key = _mace_name(key)
        if key.endswith("output_mask") and mace_key in src.tensors:
            stored = src.get(mace_key)
            if stored.shape != tuple(target[key].shape) or not np.array_equal(
                stored.astype(np.float64), target[key].double().numpy()
            ):
                raise MaceFileError(f"{where}: {mace_key} differs from mmh's layout")
    model.provenance = {"contraction_basis": "+".join(sorted(src.bases))}
    return model


# --------------------------------------------------------------------------- names


def _derived(key: str, tensor: torch.Tensor) -> bool:
    """Buffers that e3nn derives from the irreps (masks, empty biases, Wigner-3j constants)."""
    return key.endswith("output_mask") or tensor.numel() == 0 or "._w3j_" in key


def _mace_name(mmh_key: str) -> str:
    """The name in the file of an mmh backbone tensor with the same meaning and layout."""
    key = mmh_key.removeprefix("backbone.")
    parts = key.split(".")
    # RadialMLP: mmh's Sequential children are mace's `net` children
    for i, part in enumerate(parts[:-1]):
        if part in ("conv_tp_weights", "density_fn") and parts[i + 1].isdigit():
            return ".".join([*parts[: i + 1], "net", *parts[i + 1 :]])
    return key


def _backbone(spec: MaceSpec, model: MultiHeadMACE, src: _Source, values: dict) -> None:
    backbone = model.backbone
    z = len(spec.elements)
    values["backbone.node_embedding.weight"] = src.get("node_embedding.linear.weight").reshape(
        z, spec.channels
    )
    values["backbone.radial_basis.frequencies"] = src.get(
        "radial_embedding.bessel_fn.bessel_weights"
    )
    if spec.distance_transform is not None:
        values["backbone.distance_transform.covalent_radii"] = src.get(
            "radial_embedding.distance_transform.covalent_radii"
        )
    if spec.zbl:
        values["zbl.covalent_radii"] = src.get("pair_repulsion_fn.covalent_radii")
    state = backbone.state_dict()
    for i, _ in enumerate(backbone.interactions):
        prefix = f"interactions.{i}."
        for key, tensor in state.items():
            if not key.startswith(prefix) or _derived(key, tensor):
                continue
            full = f"backbone.{key}"
            if ".skip_tp.weights." in key:
                continue  # element-dependent skip: split below
            value = src.get(_mace_name(key))
            if value.shape != tuple(tensor.shape) and value.size == tensor.numel():
                value = value.reshape(tuple(tensor.shape))  # flat e3nn [Z*C] -> [Z, C]
            values[full] = value
        skip = backbone.interactions[i].skip_tp
        if hasattr(skip, "paths"):
            flat = src.get(f"{prefix}skip_tp.weight").reshape(-1)
            start = 0
            for p, weight in enumerate(skip.weights):
                n = weight.numel()
                values[f"backbone.{prefix}skip_tp.weights.{p}"] = flat[start : start + n].reshape(
                    tuple(weight.shape)
                )
                start += n
            if start != flat.size:
                raise MaceFileError(f"{src.where}: {prefix}skip_tp.weight has {flat.size} values")
    for i, product in enumerate(backbone.products):
        values[f"backbone.products.{i}.linear.weight"] = src.get(f"products.{i}.linear.weight")
        values.update(_contraction(spec, i, product.symmetric_contraction, src))


# --------------------------------------------------------------------------- contraction


def _symmetrised(u: np.ndarray, nu: int) -> np.ndarray:
    """Average of ``u [M, D x nu, K]`` over the permutations of its ``nu`` input axes."""
    axes = list(range(1, nu + 1))
    total = np.zeros_like(u)
    perms = list(itertools.permutations(axes))
    for perm in perms:
        total += np.transpose(u, (0, *perm, nu + 1))
    return total / len(perms)


def basis_change(u_from: np.ndarray, u_to: np.ndarray, nu: int, where: str, rtol: float):
    """``T`` such that weights ``w`` in the ``from`` basis give the same contraction as
    ``T w`` in the ``to`` basis.

    When the coupling tensors span the same space as tensors (the same paths, in another order
    or sign), ``u_to T = u_from`` holds exactly and the contraction is the same tensor, so
    both codes round alike. Otherwise only the symmetric part of each coupling tensor can
    matter (the inputs are symmetric), and ``Sym(u_to) T = Sym(u_from)`` is solved instead.

    Returns:
        ``(T, residual, symmetrised)``.

    Raises:
        MaceFileError: neither holds to ``rtol``: the bases differ.
    """
    residual = np.inf
    for symmetrise in (False, True):
        a = (_symmetrised(u_to, nu) if symmetrise else u_to).reshape(-1, u_to.shape[-1])
        b = (_symmetrised(u_from, nu) if symmetrise else u_from).reshape(-1, u_from.shape[-1])
        t, *_ = np.linalg.lstsq(a, b, rcond=1e-9)
        residual = np.abs(a @ t - b).max() / max(np.abs(b).max(), 1e-300)
        if residual <= rtol:
            return t, residual, symmetrise
    raise MaceFileError(
        f"{where}: the file's coupling basis is not spanned by mmh's (relative residual "
        f"{residual:.1e}); the file was built with another contraction basis"
    )


def _contraction(spec: MaceSpec, layer: int, sc: torch.nn.Module, src: _Source) -> dict:
    """mmh's ``weights.{k}_{nu}`` of one product basis, re-expressed in mmh's basis."""
    prefix = f"products.{layer}.symmetric_contractions.contractions"
    correlation = spec.correlations[layer]
    rtol = 1e-10 if spec.dtype == "float64" else 1e-5
    out = {}
    irreps_in = sc.irreps_in
    for k, (_, ir) in enumerate(sc.irreps_out):
        where = f"{src.where}: {prefix}.{k}"
        for nu in range(1, correlation + 1):
            name = "weights_max" if nu == correlation else f"weights.{correlation - 1 - nu}"
            key = f"{prefix}.{k}.{name}"
            w_mace = src.get(key)  # [Z|1, K_mace, C]
            u_mace = src.get(f"{prefix}.{k}.U_matrix_{nu}")
            if ir.l == 0 and u_mace.ndim == nu + 1:
                u_mace = u_mace[None]
            u_mmh = coupling_tensor(irreps_in, ir, nu).numpy()
            mmh_key = f"backbone.products.{layer}.symmetric_contraction.weights.{k}_{nu}"
            if u_mmh.shape[-1] == 0:
                if np.any(u_mace) and np.any(w_mace):
                    raise MaceFileError(f"{where}: order {nu} has paths that mmh's basis lacks")
                continue
            t, _, symmetrised = basis_change(u_mace, u_mmh, nu, f"{where} (order {nu})", rtol)
            # the same couplings up to order and sign: mace's e3nn basis; otherwise (e.g. the
            # reduced basis mace builds when cuequivariance is installed) only the symmetric
            # parts agree
            src.bases.add("other" if symmetrised else "mace-e3nn")
            out[mmh_key] = np.einsum("jk,ekc->ejc", t, w_mace)
    return out


# --------------------------------------------------------------------------- readouts


def _readouts(spec: MaceSpec, src: _Source, values: dict) -> None:
    heads = len(spec.heads)
    c = spec.channels
    hidden = spec.readout_hidden
    first = src.get("readouts.0.linear.weight").reshape(c, heads)
    w1 = src.get("readouts.1.linear_1.weight").reshape(c, hidden * heads)
    w2 = src.get("readouts.1.linear_2.weight").reshape(hidden * heads, heads)
    for h in range(heads):
        block = slice(h * hidden, (h + 1) * hidden)
        values[f"readouts.{h}.linear"] = first[:, h]
        values[f"readouts.{h}.mlp_in"] = w1[:, block]
        # e3nn normalises linear_2 by 1/sqrt(hidden * H); one head's MLP by 1/sqrt(hidden)
        values[f"readouts.{h}.mlp_out"] = w2[block, h] / math.sqrt(heads)


# --------------------------------------------------------------------------- constants


def _check_constants(spec: MaceSpec, model: MultiHeadMACE, src: _Source) -> None:
    r_max = spec.r_max
    src.check("radial_embedding.bessel_fn.r_max", r_max, "Bessel cutoff")
    src.check("radial_embedding.bessel_fn.prefactor", math.sqrt(2.0 / r_max), "Bessel prefactor")
    src.check(
        "radial_embedding.bessel_fn.bessel_weights",
        model.backbone.radial_basis.frequencies.double().numpy(),
        "Bessel frequencies",
    )
    src.check("radial_embedding.cutoff_fn.r_max", r_max, "envelope cutoff")
    src.check("radial_embedding.cutoff_fn.p", spec.envelope_p, "envelope order")
    if spec.distance_transform is not None:
        agnesi = model.backbone.distance_transform
        for name in ("q", "p", "a"):
            src.check(f"radial_embedding.distance_transform.{name}", getattr(agnesi, name), name)
        src.check(
            "radial_embedding.distance_transform.covalent_radii",
            agnesi.covalent_radii.double().numpy(),
            "covalent radii",
        )
    if spec.zbl:
        from mmh_layers._zbl import _PHI_C

        src.check("pair_repulsion_fn.c", _PHI_C, "ZBL coefficients")
        src.check("pair_repulsion_fn.p", spec.zbl_p, "ZBL envelope order")
        src.check("pair_repulsion_fn.a_exp", 0.3, "ZBL screening exponent")
        src.check("pair_repulsion_fn.a_prefactor", 0.4543, "ZBL screening prefactor")
        src.check(
            "pair_repulsion_fn.covalent_radii",
            model.zbl.covalent_radii.double().numpy(),
            "covalent radii",
        )
    for key in src.tensors:
        if key.endswith("_zeroed"):
            src.used.add(key)
    _check_activation_constants(spec, src.where)


def _check_activation_constants(spec: MaceSpec, where: str) -> None:
    """Stored activation constants must be the ones mmh's layers compute (e3nn's)."""
    reference = {
        "torch.nn.functional.silu": normalize2mom(torch.nn.functional.silu).cst,
        "torch.nn.functional.sigmoid": normalize2mom(torch.sigmoid).cst,
        "torch.sigmoid": normalize2mom(torch.sigmoid).cst,
    }
    for node in spec.root.modules():
        if node.path.startswith("readouts."):
            continue  # the readout keeps its stored constant
        pairs = []
        if node.class_name == "normalize2mom":
            pairs.append((function_name(node.attrs.get("f")), node.attrs.get("cst")))
        if node.class_name == "GatedEquivariantBlock":
            pairs.append(("torch.nn.functional.silu", node.attrs.get("_scalar_cst")))
            pairs.append(("torch.nn.functional.sigmoid", node.attrs.get("_gate_cst")))
        for name, cst in pairs:
            if cst is None:
                continue
            if name not in reference:
                raise MaceFileError(f"{where}: {node.path} uses activation {name}")
            if abs(float(cst) - reference[name]) > 1e-12 * reference[name]:
                raise MaceFileError(
                    f"{where}: {node.path} stores the normalisation constant {cst!r} for "
                    f"{name}, mmh's layers use {reference[name]!r}"
                )
