"""Export an mmh model to mace-torch's ``.model`` format, for models whose blocks mace has.

mace-torch is never imported here: it pins e3nn 0.4 and disables torch's safe loading for the
whole process. The tensors are mapped onto mace's names in this process, and a worker script
(``_mace_export_worker.py``) builds mace's own ``ScaleShiftMACE`` in an environment that has
mace-torch, loads them and saves the model with ``torch.save``, as ``mace_run_train`` does.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
from e3nn.math import normalize2mom
from mmh_layers import coupling_tensor, hidden_irreps

from ._file import load_model
from ._mace_convert import _mace_name
from ._mace_spec import MaceFileError
from ._model import MultiHeadMACE

#: the mace-torch release the export targets
MACE_VERSION = "0.3.16"

_WORKER = Path(__file__).with_name("_mace_export_worker.py")


def mace_arguments(model: MultiHeadMACE) -> dict:
    """The ``ScaleShiftMACE`` constructor arguments of an mmh model (JSON-ready)."""
    cfg = model.config
    bb = cfg.backbone
    hidden = set(cfg.readout_hidden)
    if len(hidden) != 1:
        raise MaceFileError(f"mace needs one readout size for all heads, not {sorted(hidden)}")
    if cfg.zbl and cfg.zbl_p != bb.envelope_p:
        raise MaceFileError(
            f"mace's ZBL uses the envelope order {bb.envelope_p}; this model has {cfg.zbl_p}"
        )
    if bb.num_interactions != 2:
        raise MaceFileError("the export writes models with two interaction layers")
    edge = str(hidden_irreps(bb.edge_channels, bb.max_L)) if bb.edge_channels else None
    return {
        "r_max": bb.r_max,
        "num_bessel": bb.num_bessel,
        "num_polynomial_cutoff": bb.envelope_p,
        "max_ell": bb.max_ell,
        "interaction_cls": bb.block,
        "interaction_cls_first": bb.first_block or bb.block,
        "num_interactions": bb.num_interactions,
        "num_elements": len(bb.elements),
        "hidden_irreps": str(hidden_irreps(bb.channels, bb.max_L)),
        "MLP_irreps": f"{hidden.pop()}x0e",
        "atomic_energies": model.e0.double().tolist(),
        "avg_num_neighbors": bb.avg_num_neighbors,
        "atomic_numbers": list(bb.elements),
        "correlation": list(bb.correlations),
        "pair_repulsion": cfg.zbl,
        "apply_cutoff": not model.backbone.envelope_after_mlp,
        "use_reduced_cg": False,
        "use_agnostic_product": bb.agnostic,
        "distance_transform": "Agnesi" if bb.distance_transform == "agnesi" else "None",
        "edge_irreps": edge,
        "use_edge_irreps_first": bb.edge_irreps_first,
        "radial_MLP": list(bb.radial_mlp),
        "radial_type": "bessel",
        "heads": list(model.heads),
        "atomic_inter_scale": model.scale.double().tolist(),
        "atomic_inter_shift": model.shift.double().tolist(),
        "keep_last_layer_irreps": bb.keep_last_layer_irreps,
    }


def mace_tensors(model: MultiHeadMACE) -> dict[str, np.ndarray]:
    """The model's tensors under mace's names; contraction weights stay in mmh's basis and
    travel with mmh's coupling tensors (``__mmh_W__`` / ``__mmh_U__`` keys)."""
    out: dict[str, np.ndarray] = {}
    bb = model.backbone

    def put(key: str, value: torch.Tensor) -> None:
        out[key] = value.detach().cpu().double().numpy()

    put("node_embedding.linear.weight", bb.node_embedding.weight.reshape(-1))
    put("radial_embedding.bessel_fn.bessel_weights", bb.radial_basis.frequencies)
    if bb.distance_transform is not None:
        put(
            "radial_embedding.distance_transform.covalent_radii",
            bb.distance_transform.covalent_radii,
        )
    if model.zbl is not None:
        put("pair_repulsion_fn.covalent_radii", model.zbl.covalent_radii)
    for key, value in bb.state_dict().items():
        if not key.startswith("interactions.") or value.numel() == 0:
            continue
        if key.endswith("output_mask") or "._w3j_" in key or ".skip_tp.weights." in key:
            continue
        if key.endswith(("source_embedding.weight", "target_embedding.weight")):
            value = value.reshape(-1)
        put(_mace_name(key), value)
    for i, layer in enumerate(bb.interactions):
        skip = layer.skip_tp
        if hasattr(skip, "paths"):
            put(
                f"interactions.{i}.skip_tp.weight", torch.cat([w.reshape(-1) for w in skip.weights])
            )
    for i, product in enumerate(bb.products):
        put(f"products.{i}.linear.weight", product.linear.weight)
        sc = product.symmetric_contraction
        correlation = bb.config.correlations[i]
        for k, (_, ir) in enumerate(sc.irreps_out):
            for nu in range(1, correlation + 1):
                name = "weights_max" if nu == correlation else f"weights.{correlation - 1 - nu}"
                key = f"{k}_{nu}"
                if key not in sc.weights:
                    continue
                put(f"__mmh_W__{i}|{k}|{nu}|{name}", sc.weights[key])
                out[f"__mmh_U__{i}|{k}|{nu}"] = coupling_tensor(sc.irreps_in, ir, nu).numpy()
    # readouts: heads packed into mace's two readout blocks
    heads = len(model.heads)
    hidden = model.readouts[0].hidden
    mace_cst = normalize2mom(torch.nn.functional.silu).cst
    c = model.first_channels
    first = torch.stack([r.linear for r in model.readouts], dim=1)  # [C, H]
    w1 = torch.cat([r.mlp_in for r in model.readouts], dim=1)  # [C_last, hidden * H]
    w2 = torch.zeros(hidden * heads, heads, dtype=torch.float64)
    for h, r in enumerate(model.readouts):
        factor = math.sqrt(heads) * r.silu_norm / mace_cst
        w2[h * hidden : (h + 1) * hidden, h] = r.mlp_out.detach().double() * factor
    put("readouts.0.linear.weight", first.reshape(c * heads))
    put("readouts.1.linear_1.weight", w1.reshape(-1))
    put("readouts.1.linear_2.weight", w2.reshape(-1))
    return out


def _mace_python(python: str | None) -> str:
    python = python or os.environ.get("MMH_MACE_PYTHON")
    if python:
        return python
    uv = shutil.which("uv")
    if uv is None:
        raise MaceFileError(
            "the export needs a python with mace-torch: pass --python (or set MMH_MACE_PYTHON), "
            "or install uv so that mmh can create an isolated environment"
        )
    env = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mmh" / "mace-torch"
    target = env / "bin" / "python"
    if not target.exists():
        torch_version = torch.__version__.split("+", 1)[0]
        for command in (
            [uv, "venv", str(env), "--python", "3.11", "--clear"],
            [uv, "pip", "install", "--python", str(target), f"mace-torch=={MACE_VERSION}",
             f"torch=={torch_version}"],
        ):  # fmt: skip
            proc = subprocess.run(command, capture_output=True, text=True)
            if proc.returncode != 0:
                raise MaceFileError(f"cannot create the mace-torch environment: {proc.stderr}")
    return str(target)


def export_mace(
    path: str | Path | MultiHeadMACE,
    output: str | Path,
    *,
    python: str | None = None,
    force: bool = False,
) -> Path:
    """Write an mmh model as a mace-torch ``.model`` that mace's own tools read.

    Args:
        path: an mmh model file, or a model.
        output: the ``.model`` file to write.
        python: interpreter of an environment with mace-torch 0.3.16 (default:
            ``$MMH_MACE_PYTHON``, or an isolated environment that uv creates once).
        force: overwrite ``output`` if it exists.

    Raises:
        MaceFileError: the model uses something mace does not have, or mace-torch failed.
        FileExistsError: ``output`` exists and ``force`` is False.
    """
    output = Path(output)
    if output.exists() and not force:
        raise FileExistsError(f"{output} exists; pass force=True (--force) to overwrite it")
    model = path if isinstance(path, MultiHeadMACE) else load_model(path)
    spec = {"dtype": str(model.dtype).removeprefix("torch."), "kwargs": mace_arguments(model)}
    tensors = mace_tensors(model)
    interpreter = _mace_python(python)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "spec.json").write_text(json.dumps(spec))
        np.savez(Path(folder) / "tensors.npz", **tensors)
        tmp = Path(folder) / "model.model"
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
        proc = subprocess.run(
            [interpreter, str(_WORKER), folder, str(tmp)], capture_output=True, text=True, env=env
        )
        if proc.returncode != 0:
            raise MaceFileError(f"mace-torch could not build the model:\n{proc.stderr[-2000:]}")
        shutil.move(str(tmp), output)
    return output
