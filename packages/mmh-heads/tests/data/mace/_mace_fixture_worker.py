"""Worker of ``make_fixtures.py``: builds, saves, evaluates and re-checks one mace-torch fixture.

This script runs inside an isolated mace-torch environment (``.benchmarks-env/`` for mace-torch
0.3.16, ``.benchmarks-env-0.3.15/`` for 0.3.15; see ``benchmarks/_reference.py``), never in the
workspace interpreter, because mace-torch pins e3nn 0.4.4. It reads one JSON spec on stdin and
prints one JSON answer on stdout; mace's own prints go to stderr.

Tasks (``spec["task"]``):

- ``"make"``: build a model as ``mace_run_train`` does (mace's argparser, ``check_args``, the
  head configurations, E0s, ``configure_model``), perturb every trainable parameter, save it with
  ``torch.save(model, path)``, gzip it, evaluate it with ``mace.calculators.MACECalculator`` on
  the given structures for every head and write the fixture JSON. ``spec["kind"]`` selects
  ``"build"`` (from the argument list), ``"float32_of"`` (the same arguments in float32, with the
  parameters of an existing float64 fixture), ``"cueq_of"`` (mace's e3nn -> cueq converter
  applied to an existing fixture) or ``"state_dict_of"`` (mace's checkpoint dictionary of an
  existing fixture).
- ``"evaluate"``: the calculator outputs of a fixture file (used to cross-check a file written
  by another mace version).
- ``"verify"``: reload a fixture file in a fresh process and check that it reproduces the
  outputs stored in its JSON.
"""

from __future__ import annotations

import ast
import contextlib
import gzip
import hashlib
import importlib.metadata as md
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

SCHEMA_VERSION = 1
DTYPES = ("float32", "float64")


# --------------------------------------------------------------------------------------------
# small helpers


def versions() -> dict[str, str]:
    out = {}
    for pkg in (
        "mace-torch",
        "torch",
        "e3nn",
        "numpy",
        "ase",
        "cuequivariance",
        "cuequivariance-torch",
    ):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def class_path(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a mace configuration value (irreps, classes, arrays, ...)."""
    import numpy as np
    import torch

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | torch.Tensor):
        return value.tolist()
    if isinstance(value, type):
        return class_path(value)
    if callable(value) and hasattr(value, "__name__") and hasattr(value, "__module__"):
        return f"{value.__module__}.{value.__name__}"
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and type(value).__module__ == "builtins":
        return [jsonable(v) for v in value]
    return str(value)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gzip_file(src: Path, dst: Path) -> None:
    # mtime=0 and no file name in the header: the gzip layer adds nothing that changes per run.
    with open(src, "rb") as fin, open(dst, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as fout:
            shutil.copyfileobj(fin, fout)


@contextlib.contextmanager
def gunzipped(path: Path, stem: str):
    """The gzipped file ``path`` unpacked into a temporary ``<stem><suffix>`` file."""
    suffix = ".pt" if path.name.endswith(".pt.gz") or path.suffix == ".pt" else ".model"
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"{stem}{suffix}"
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fin, open(target, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        else:
            shutil.copyfile(path, target)
        yield target


def load_model(path: Path):
    import torch

    with gunzipped(path, "fixture") as tmp:
        return torch.load(tmp, map_location="cpu", weights_only=False)


# --------------------------------------------------------------------------------------------
# building a model as mace_run_train does


def _add_backported_flags(parser, names: list[str]) -> list[str]:
    """Add mace-torch 0.3.16 flags that an older argparser lacks (see ``backport``)."""
    from mace.tools.arg_parser import str2bool

    known = {opt for action in parser._actions for opt in action.option_strings}
    added = []
    if "use_edge_irreps_first" in names and "--use_edge_irreps_first" not in known:
        parser.add_argument(
            "--use_edge_irreps_first",
            help="use edge irreps in the first interaction block",
            type=str2bool,
            default=False,
        )
        added.append("--use_edge_irreps_first")
    return added


@contextlib.contextmanager
def _backport_use_edge_irreps_first(args, enabled: bool):
    """Pass ``use_edge_irreps_first`` to the model constructor where configure_model does not.

    mace-torch 0.3.15's ``ScaleShiftMACE`` has the ``use_edge_irreps_first`` argument (and stores
    it), but its ``configure_model`` does not pass it and its argparser has no flag; 0.3.16 does
    both. MACE-MH-1 was trained from a branch that did. The wrapper is a function, so the pickled
    model still names the real ``mace.modules.models.ScaleShiftMACE`` class.
    """
    from mace import modules

    original = modules.ScaleShiftMACE
    if enabled:

        def factory(*a, **kw):
            kw.setdefault("use_edge_irreps_first", bool(args.use_edge_irreps_first))
            return original(*a, **kw)

        modules.ScaleShiftMACE = factory
    try:
        yield
    finally:
        modules.ScaleShiftMACE = original


def build_model(spec: dict[str, Any], argv: list[str]):
    """``mace_run_train``'s model construction (``mace/cli/run_train.py``) up to the model.

    The data-dependent steps of run_train (E0s, the mean/std of the scale-shift block and the
    average number of neighbours) take their values from the argument list (``--E0s`` or the
    heads' ``E0s``, ``--mean``/``--std``, ``--avg_num_neighbors`` with
    ``--compute_avg_num_neighbors False``), so no training data is read. ``spec["statistics"]``
    (optional, ``{"mean": [...], "std": [...]}``, one value per head) stands for the per-head
    arrays that run_train's ``--scaling rms_forces_scaling`` computes from multi-head training
    data: argparse cannot give a per-head ``--mean``.
    """
    from copy import deepcopy

    import numpy as np
    from mace import tools
    from mace.data import KeySpecification, update_keyspec_from_kwargs
    from mace.tools.model_script_utils import configure_model
    from mace.tools.multihead_tools import dict_head_to_dataclass, prepare_default_head
    from mace.tools.scripts_utils import dict_to_array, get_atomic_energies, get_avg_num_neighbors
    from mace.tools.utils import AtomicNumberTable

    parser = tools.build_default_arg_parser()
    backported = _add_backported_flags(parser, spec.get("backport", []))
    args = parser.parse_args(argv)
    args, _ = tools.check_args(args)
    args.key_specification = KeySpecification()
    update_keyspec_from_kwargs(args.key_specification, vars(args))
    tools.set_seeds(args.seed)
    tools.set_default_dtype(args.default_dtype)

    if args.heads is not None:
        args.heads = ast.literal_eval(args.heads)
        for _, head_dict in args.heads.items():
            head_keyspec = deepcopy(args.key_specification)
            update_keyspec_from_kwargs(head_keyspec, head_dict)
            head_keyspec.update(
                info_keys=head_dict.get("info_keys", {}),
                arrays_keys=head_dict.get("arrays_keys", {}),
            )
            head_dict["key_specification"] = head_keyspec
    else:
        args.heads = prepare_default_head(args)
    heads = list(args.heads.keys())

    head_configs = []
    for head, head_args in args.heads.items():
        head_config = dict_head_to_dataclass(head_args, head, args)
        zs_list = ast.literal_eval(head_config.atomic_numbers)
        head_config.atomic_numbers = zs_list
        head_config.z_table = AtomicNumberTable(zs_list)
        head_configs.append(head_config)
    all_atomic_numbers = set()
    for head_config in head_configs:
        all_atomic_numbers.update(head_config.atomic_numbers)
    z_table = AtomicNumberTable(sorted(all_atomic_numbers))

    atomic_energies_dict = {
        hc.head_name: get_atomic_energies(hc.E0s, None, hc.z_table) for hc in head_configs
    }
    heads = sorted(heads, key=lambda x: -1000 if x == "pt_head" else 0)
    args.compute_energy = True
    args.compute_dipole = False
    args.compute_polarizability = False
    atomic_energies = dict_to_array(atomic_energies_dict, heads)
    args.avg_num_neighbors = get_avg_num_neighbors(head_configs, args, None, "cpu")

    statistics = spec.get("statistics")
    if statistics:
        if "mean" in statistics:
            args.mean = np.asarray(statistics["mean"], dtype=float)
        if "std" in statistics:
            args.std = [float(x) for x in statistics["std"]]

    with _backport_use_edge_irreps_first(args, "--use_edge_irreps_first" in backported):
        model, _ = configure_model(args, None, atomic_energies, None, heads, z_table, head_configs)
    model.to("cpu")
    return model, args, backported


def perturb(model, seed: int) -> dict[str, Any]:
    """Move every trainable parameter away from its initial value (seeded, reproducible).

    ``w += N(0, (0.1 (1 + |w|))^2)`` element-wise, drawn in float64 with numpy. The non-linear
    block's density normalisation ``message / (density * beta + alpha)`` starts at
    ``alpha = 20, beta = 0``, where the density hardly matters: they are drawn instead as
    ``alpha = 4 + |N(0, 1)|`` and ``beta = 0.5 + |N(0, 1)|``, so the density changes the message
    by tens of per cent. Parameters with ``requires_grad=False`` (mace's ``EmptyParam``: paths of
    the symmetric contraction whose U matrix is zero) stay zero.
    """
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    touched, skipped = 0, []
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not param.requires_grad or param.numel() == 0:
                skipped.append(name)
                continue
            w = param.detach().cpu().double().numpy()
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "alpha" and w.ndim == 0:
                new = 4.0 + abs(rng.normal())
            elif leaf == "beta" and w.ndim == 0:
                new = 0.5 + abs(rng.normal())
            else:
                new = w + rng.normal(size=w.shape) * 0.1 * (1.0 + np.abs(w))
            param.copy_(torch.as_tensor(np.asarray(new), dtype=param.dtype))
            touched += 1
    return {
        "rule": "w += N(0, (0.1*(1+|w|))^2) per element (numpy default_rng(seed), named_parameters "
        "order); non-linear block: alpha = 4 + |N(0,1)|, beta = 0.5 + |N(0,1)|; "
        "requires_grad=False parameters (EmptyParam) left at zero",
        "seed": seed,
        "num_perturbed": touched,
        "not_perturbed": skipped,
    }


def set_buffer(module, name: str, values) -> None:
    import torch

    old = getattr(module, name)
    new = torch.as_tensor(values, dtype=old.dtype).reshape(old.shape)
    with torch.no_grad():
        old.copy_(new)


# --------------------------------------------------------------------------------------------
# description of a model


def module_classes(model) -> dict[str, str]:
    """Class of every module, not descending into derived code (fx graphs, TorchScript, cueq)."""
    import torch

    out: dict[str, str] = {}

    def walk(prefix: str, module) -> None:
        out[prefix or "<root>"] = class_path(module)
        if isinstance(module, torch.fx.GraphModule | torch.jit.ScriptModule):
            return
        if type(module).__module__.startswith("cuequivariance"):
            return
        for child_name, child in module._modules.items():
            if child is None:
                continue
            walk(f"{prefix}.{child_name}" if prefix else child_name, child)

    walk("", model)
    return out


def state_dict_index(model) -> dict[str, Any]:
    out = {}
    for key, tensor in model.state_dict().items():
        if "._compiled_main" in key or ".graphs." in key:
            continue  # derived constants of e3nn/cueq code generation
        out[key] = {"shape": list(tensor.shape), "dtype": str(tensor.dtype).replace("torch.", "")}
    return out


def buffer_summary(model) -> dict[str, Any]:
    def entry(t):
        return {"shape": list(t.shape), "value": t.detach().cpu().double().tolist()}

    out = {
        "atomic_numbers": model.atomic_numbers.tolist(),
        "atomic_energies": entry(model.atomic_energies_fn.atomic_energies),
        "r_max": float(model.r_max),
    }
    if hasattr(model, "scale_shift"):
        out["scale"] = entry(model.scale_shift.scale)
        out["shift"] = entry(model.scale_shift.shift)
    for i, inter in enumerate(model.interactions):
        out[f"interactions.{i}.avg_num_neighbors"] = float(inter.avg_num_neighbors)
        for leaf in ("alpha", "beta"):
            if hasattr(inter, leaf):
                out[f"interactions.{i}.{leaf}"] = float(getattr(inter, leaf))
    return out


def describe(model) -> dict[str, Any]:
    from mace.tools.scripts_utils import extract_config_mace_model

    classes = module_classes(model)
    try:
        config = {k: jsonable(v) for k, v in extract_config_mace_model(model).items()}
    except Exception as err:  # recorded, not fatal
        config = {"error": f"{type(err).__name__}: {err}"}
    gates = {
        f"interactions.{i}": class_path(inter.equivariant_nonlin)
        for i, inter in enumerate(model.interactions)
        if hasattr(inter, "equivariant_nonlin")
    }
    params = [p for p in model.parameters()]
    return {
        "model_class": class_path(model),
        "heads": list(model.heads),
        "dtype": str(params[0].dtype).replace("torch.", ""),
        "interaction_classes": [class_path(m) for m in model.interactions],
        "product_classes": [class_path(m) for m in model.products],
        "readout_classes": [class_path(m) for m in model.readouts],
        "gate_classes": gates,
        "num_parameters": int(sum(p.numel() for p in params)),
        "buffers": buffer_summary(model),
        "mace_config": config,
        "module_classes": classes,
        "state_dict_index": state_dict_index(model),
    }


# --------------------------------------------------------------------------------------------
# evaluation with mace's calculator


def make_atoms(structure: dict[str, Any]):
    from ase import Atoms

    return Atoms(
        numbers=structure["numbers"],
        positions=structure["positions"],
        cell=structure["cell"],
        pbc=structure["pbc"],
    )


def evaluate_file(
    model_file: Path,
    heads: list[str],
    structures: dict[str, Any],
    dtype: str,
    torch_default_dtype: str | None = None,
) -> dict[str, Any]:
    """MACECalculator(model_paths=..., device="cpu", default_dtype=dtype, head=head) outputs.

    ``torch_default_dtype`` (default: ``dtype``) is set with ``torch.set_default_dtype`` before
    the calculator is made, as ``mace_run_train``, ``mace_eval_configs`` and the 0.3.15
    calculator do. The 0.3.16 calculator no longer sets it, and in a fresh process (float32)
    mace's ZBL term then computes ``14.3996 * Z_u * Z_v`` in float32 (a Python float times an
    integer tensor takes torch's default dtype): a ~1e-8 relative error in float64 models with
    ``--pair_repulsion``. The JSON records that effect separately.
    """
    import torch
    from mace.calculators import MACECalculator

    torch.set_num_threads(1)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, torch_default_dtype or dtype))
    try:
        results: dict[str, Any] = {}
        for head in heads:
            calc = MACECalculator(
                model_paths=str(model_file), device="cpu", default_dtype=dtype, head=head
            )
            if calc.head != head:
                raise RuntimeError(f"the calculator chose head {calc.head!r}, not {head!r}")
            per_structure = {}
            for name, structure in structures.items():
                atoms = make_atoms(structure)
                atoms.calc = calc
                energy = atoms.get_potential_energy()
                res = calc.results
                entry = {
                    "energy": float(energy),
                    "forces": res["forces"].astype(float).tolist(),
                    "node_energy": res["node_energy"].astype(float).tolist(),
                    "energies": res["energies"].astype(float).tolist(),
                }
                if any(structure["pbc"]):
                    entry["stress"] = res["stress"].astype(float).tolist()
                per_structure[name] = entry
            results[head] = per_structure
    finally:
        torch.set_default_dtype(previous)
    return results


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Largest absolute difference per quantity between two ``results`` dictionaries."""
    import numpy as np

    worst: dict[str, float] = {}
    for head, per_structure in a.items():
        for name, entry in per_structure.items():
            other = b[head][name]
            for key, value in entry.items():
                if key not in other:
                    raise KeyError(f"{head}/{name}/{key} missing")
                diff = float(np.max(np.abs(np.asarray(value) - np.asarray(other[key]))))
                worst[key] = max(worst.get(key, 0.0), diff)
    return worst


# --------------------------------------------------------------------------------------------
# tasks


def task_make(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    out_dir = Path(spec["out_dir"])
    name = spec["name"]
    kind = spec["kind"]
    dtype = spec.get("dtype", "float64")
    notes: list[str] = list(spec.get("notes", []))
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "description": spec.get("description", ""),
        "kind": kind,
    }
    argv = spec.get("argv")
    with tempfile.TemporaryDirectory() as tmp_str:
        tmp = Path(tmp_str)
        model_path = tmp / f"{name}.model"
        if kind == "build":
            model, _, backported = build_model(spec, argv)
            record["perturbation"] = perturb(model, int(spec["seed"]))
            for key, values in (spec.get("buffer_overrides") or {}).items():
                set_buffer(model.scale_shift, key, values)
            if backported:
                record["backported_flags"] = backported
        elif kind == "float32_of":
            model, _, _ = build_model(spec, argv)
            source = load_model(Path(spec["source_file"]))
            source_params = dict(source.named_parameters())
            with torch.no_grad():
                for pname, param in model.named_parameters():
                    param.copy_(source_params[pname].to(param.dtype))
            for key, values in (spec.get("buffer_overrides") or {}).items():
                set_buffer(model.scale_shift, key, values)
            record["parameters_from"] = spec["source_name"]
        elif kind == "cueq_of":
            from mace.cli.convert_e3nn_cueq import run as e3nn_to_cueq

            source = load_model(Path(spec["source_file"]))
            model = e3nn_to_cueq(source, device="cpu", return_model=True, layout="ir_mul")
            record["converted_from"] = spec["source_name"]
            record["converter"] = (
                "mace.cli.convert_e3nn_cueq.run(model, device='cpu', layout='ir_mul')"
            )
        elif kind == "state_dict_of":
            return task_state_dict(spec, record)
        else:
            raise SystemExit(f"unknown kind {kind!r}")

        record["mace_run_train_args"] = argv
        record["statistics"] = spec.get("statistics")
        record["buffer_overrides"] = spec.get("buffer_overrides")
        # As run_train saves (with --save_cpu): the whole module, on the CPU.
        torch.save(model.to("cpu"), model_path)
        gz_path = out_dir / f"{name}.model.gz"
        gzip_file(model_path, gz_path)
        record["file"] = gz_path.name
        record["file_sha256_uncompressed"] = sha256(model_path)
        record["file_bytes_uncompressed"] = model_path.stat().st_size
        record["saved_with"] = "torch.save(model, path)"
        record["mace_version"] = md.version("mace-torch")
        record["versions"] = versions()
        # Describe the model as it reads back from the file, as an importer sees it.
        reloaded = torch.load(model_path, map_location="cpu", weights_only=False)
        record.update(describe(reloaded))
        if record["dtype"] != dtype:
            raise RuntimeError(f"{name}: model dtype {record['dtype']}, expected {dtype}")
        structures = spec["structures"]
        record["structures"] = structures
        record["calculator"] = {
            "class": "mace.calculators.MACECalculator",
            "kwargs": {
                "model_paths": "<the gunzipped file>",
                "device": "cpu",
                "default_dtype": dtype,
                "head": "<each head>",
            },
            "torch_default_dtype": dtype,
            "mace_version": md.version("mace-torch"),
        }
        record["results"] = evaluate_file(model_path, record["heads"], structures, dtype)
        if dtype != "float32":
            fresh = evaluate_file(
                model_path, record["heads"], structures, dtype, torch_default_dtype="float32"
            )
            record["torch_default_dtype_effect"] = {
                "what": "max |outputs with torch's default dtype left at float32 (a fresh "
                "process; the 0.3.16 calculator does not set it) - results|",
                "max_abs_diff": compare(record["results"], fresh),
            }
        if dtype == "float32":
            record["results_float64"] = evaluate_file(
                model_path, record["heads"], structures, "float64"
            )
            notes.append(
                "results_float64: the same file evaluated with default_dtype='float64' "
                "(MACECalculator converts the model with .double(), which keeps the float32-"
                "rounded buffers)."
            )
        if kind == "cueq_of":
            source_json = json.loads(Path(spec["source_json"]).read_text())
            record["cross_check"] = {
                "against": spec["source_name"],
                "what": "max |cueq-file outputs - e3nn-file outputs| over heads and structures",
                "max_abs_diff": compare(record["results"], source_json["results"]),
            }
    record["notes"] = notes
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(record, indent=1) + "\n")
    return {
        "name": name,
        "file": record["file"],
        "json": json_path.name,
        "heads": record["heads"],
        "dtype": record["dtype"],
        "interaction_classes": record["interaction_classes"],
        "readout_classes": record["readout_classes"],
        "gate_classes": record["gate_classes"],
        "buffers": {
            k: record["buffers"][k]
            for k in ("atomic_energies", "scale", "shift")
            if k in record["buffers"]
        },
        "cross_check": record.get("cross_check"),
    }


def task_state_dict(spec: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """mace's checkpoint dictionary of a fixture, as ``CheckpointIO.save`` writes it."""
    import torch
    from mace.data import AtomicData, config_from_atoms
    from mace.tools import torch_geometric
    from mace.tools.checkpoint import CheckpointBuilder, CheckpointState
    from mace.tools.scripts_utils import LRScheduler, get_optimizer, get_params_options
    from mace.tools.utils import AtomicNumberTable

    out_dir = Path(spec["out_dir"])
    name = spec["name"]
    _, args, _ = build_model(spec, spec["argv"])  # the run's args, for the optimizer
    model = load_model(Path(spec["source_file"]))
    before = {k: v.clone() for k, v in model.state_dict().items()}

    optimizer = get_optimizer(args, get_params_options(args, model))
    lr_scheduler = LRScheduler(optimizer, args)
    # One optimizer step with the learning rate at zero fills the optimizer state (moments) as
    # after a training epoch without changing the weights; the learning rate is then restored.
    lrs = [group["lr"] for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["lr"] = 0.0
    structure = next(iter(spec["structures"].values()))
    z_table = AtomicNumberTable([int(z) for z in model.atomic_numbers])
    data = AtomicData.from_config(
        config_from_atoms(make_atoms(structure)),
        z_table=z_table,
        cutoff=float(model.r_max),
        heads=model.heads,
    )
    batch = torch_geometric.Batch.from_data_list([data]).to_dict()
    out = model(batch, training=True, compute_force=False)
    out["energy"].sum().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    for group, lr in zip(optimizer.param_groups, lrs, strict=True):
        group["lr"] = lr
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    if changed:
        raise RuntimeError(f"the zero-learning-rate step changed {changed[:5]}")

    checkpoint = CheckpointBuilder.create_checkpoint(
        CheckpointState(model, optimizer, lr_scheduler)
    )
    gz_path = out_dir / spec["file_name"]
    with tempfile.TemporaryDirectory() as tmp:
        pt_path = Path(tmp) / gz_path.name.removesuffix(".gz")
        torch.save(obj=checkpoint, f=pt_path)  # as mace.tools.checkpoint.CheckpointIO.save
        reread = torch.load(pt_path, map_location="cpu", weights_only=True)
        pt_sha256 = sha256(pt_path)
        pt_bytes = pt_path.stat().st_size
        gzip_file(pt_path, gz_path)
    index = {
        k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
        for k, v in reread["model"].items()
        if "._compiled_main" not in k
    }
    mismatched = [k for k, v in reread["model"].items() if not torch.equal(v, after[k])]
    if mismatched:
        raise RuntimeError(f"state dict round trip differs for {mismatched[:5]}")
    record.update(
        {
            "file": gz_path.name,
            "file_sha256_uncompressed": pt_sha256,
            "file_bytes_uncompressed": pt_bytes,
            "state_dict_of": spec["source_name"],
            "reference_outputs_in": f"{spec['source_name']}.json",
            "mace_run_train_args": spec["argv"],
            "statistics": spec.get("statistics"),
            "mace_version": md.version("mace-torch"),
            "versions": versions(),
            "saved_with": "torch.save(obj={'model': model.state_dict(), 'optimizer': "
            "optimizer.state_dict(), 'lr_scheduler': lr_scheduler.state_dict()}, f=path) "
            "(mace.tools.checkpoint.CheckpointBuilder.create_checkpoint + CheckpointIO.save)",
            "loads_with_weights_only": True,
            "checkpoint_keys": sorted(reread),
            "optimizer": {
                "class": class_path(optimizer),
                "num_param_groups": len(optimizer.param_groups),
                "state_entries": len(reread["optimizer"]["state"]),
            },
            "heads": list(model.heads),
            "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
            "state_dict_index": index,
            "num_state_dict_keys_with_codegen_constants": len(reread["model"]),
            "notes": [
                *spec.get("notes", []),
                "The weights equal those of the .model fixture named in state_dict_of; its "
                "JSON has the hyper-parameters (mace_config) and the reference outputs.",
                "model also holds e3nn's derived '*._compiled_main*' buffers (Wigner-3j "
                "constants of the code generation); state_dict_index leaves them out.",
            ],
        }
    )
    if record["heads"] != json.loads(Path(spec["source_json"]).read_text())["heads"]:
        raise RuntimeError("the heads differ from those of the source fixture")
    json_path = out_dir / f"{Path(spec['file_name']).name.split('.')[0]}.json"
    json_path.write_text(json.dumps(record, indent=1) + "\n")
    return {
        "name": name,
        "file": gz_path.name,
        "json": json_path.name,
        "checkpoint_keys": record["checkpoint_keys"],
        "heads": record["heads"],
        "dtype": record["dtype"],
    }


def task_evaluate(spec: dict[str, Any]) -> dict[str, Any]:
    record = json.loads(Path(spec["json"]).read_text())
    with gunzipped(Path(spec["model_file"]), record["name"]) as model_file:
        results = evaluate_file(
            model_file, record["heads"], record["structures"], spec.get("dtype", record["dtype"])
        )
    return {"mace_version": md.version("mace-torch"), "results": results}


TOLERANCES = {"float64": 1e-9, "float32": 1e-4}


def task_verify(spec: dict[str, Any]) -> dict[str, Any]:
    """Reload a fixture file and check that it reproduces the outputs stored in its JSON."""
    import torch

    record = json.loads(Path(spec["json"]).read_text())
    model_file = Path(spec["json"]).parent / record["file"]
    if record["kind"] == "state_dict_of":
        with gunzipped(model_file, record["name"]) as path:
            if sha256(path) != record["file_sha256_uncompressed"]:
                raise SystemExit(f"{record['name']}: sha256 of the gunzipped file differs")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        source = load_model(model_file.parent / f"{record['state_dict_of']}.model.gz")
        expected = source.state_dict()
        bad = [k for k, v in checkpoint["model"].items() if not torch.equal(v, expected[k])]
        missing = sorted(set(expected) - set(checkpoint["model"]))
        if bad or missing:
            raise SystemExit(f"{record['name']}: state dict differs: {bad[:5]} {missing[:5]}")
        return {"name": record["name"], "ok": True, "keys": len(checkpoint["model"])}
    checks = {"results": record["dtype"]}
    if "results_float64" in record:
        checks["results_float64"] = "float64"
    worst_all = {}
    with gunzipped(model_file, record["name"]) as path:
        if sha256(path) != record["file_sha256_uncompressed"]:
            raise SystemExit(f"{record['name']}: sha256 of the gunzipped file differs")
        for key, dtype in checks.items():
            results = evaluate_file(path, record["heads"], record["structures"], dtype)
            worst = compare(record[key], results)
            worst_all[key] = worst
            limit = TOLERANCES[dtype]
            bad = {k: v for k, v in worst.items() if v > limit}
            if bad:
                raise SystemExit(
                    f"{record['name']}: stored {key} not reproduced (limit {limit}): {bad}"
                )
    return {
        "name": record["name"],
        "ok": True,
        "max_abs_diff": worst_all,
        "mace_version": md.version("mace-torch"),
    }


def main() -> int:
    spec = json.loads(sys.stdin.read())
    answer, sys.stdout = sys.stdout, sys.stderr  # mace prints notices on stdout
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    task = spec["task"]
    if task == "make":
        result = task_make(spec)
    elif task == "evaluate":
        result = task_evaluate(spec)
    elif task == "verify":
        result = task_verify(spec)
    else:
        raise SystemExit(f"unknown task {task!r}")
    json.dump(result, answer)
    answer.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
