"""Reference worker: builds mace-torch 0.3.16's ScaleShiftMACE and counts or times it, or runs
one interaction block on random inputs.

This script runs in the isolated reference environment (see ``benchmarks/_reference.py``),
never in the workspace interpreter: it imports mace-torch, which pins e3nn 0.4.4. It reads one
JSON spec (from the file named by the first argument, from the argument itself when it starts
with ``{``, or from stdin) and prints one JSON object on stdout.

Spec keys (all optional; defaults in ``DEFAULTS``):

- ``task``: ``"count"`` (parameter count with a per-module breakdown), ``"time"``
  (energy + forces on a crystal, forward and backward through the positions) or ``"block"``
  (one interaction block ``block`` of layer ``layer``, built in float64 with its random
  initial parameters rounded to 1e-4 and run on random inputs on the same grid; the answer
  holds the irreps, parameters, inputs and outputs, for a direct comparison).
- ``block``: the interaction block of the layers after the first (of every layer when
  ``block_first`` is not given), by its mmh name (``BLOCKS``): ``"linear"``
  (``RealAgnosticResidualInteractionBlock``, the original MACE block), ``"nonlinear"``
  (``RealAgnosticResidualNonLinearInteractionBlock``, the MACE-MH-1 block), ``"density"``
  (``RealAgnosticDensityResidualInteractionBlock``), or the non-residual
  ``"linear_nonresidual"`` (``RealAgnosticInteractionBlock``) and ``"density_nonresidual"``
  (``RealAgnosticDensityInteractionBlock``).
- ``block_first``: the block of layer 0 (mace's ``interaction_cls_first``); null or absent
  means ``block``. mace builds the first product basis with ``use_sc`` only when this class is
  a residual one ("Residual" in its name); the count records ``use_sc`` of every product.
- ``atomic_numbers`` (list of Z) or ``num_elements`` (Z = 1..n); the one-hot width.
- ``hidden_irreps`` (string) or ``num_channels`` + ``max_L`` (``C x (0e + 1o + ... + L)``).
- ``edge_irreps`` (string or null), ``use_edge_irreps_first`` (bool).
- ``max_ell``, ``correlation``, ``num_interactions``, ``r_max``, ``num_bessel``,
  ``num_polynomial_cutoff``, ``radial_MLP``, ``distance_transform`` (``"None"`` | ``"Agnesi"``),
  ``pair_repulsion``, ``apply_cutoff``, ``use_agnostic_product``, ``use_reduced_cg``,
  ``avg_num_neighbors``, ``MLP_irreps``, ``num_heads``.
- ``dtype`` (``"float32"`` | ``"float64"``), ``num_threads``, ``seed``.
- ``block`` only: ``layer`` (0: scalar node features in, edge irreps scalars only when
  ``use_edge_irreps_first``; otherwise the hidden irreps in), ``num_nodes``, ``num_edges``;
  ``apply_cutoff`` false passes the envelope values to the block as ``cutoff``.
- ``time`` only: ``structure`` = ``{"symbol", "crystal", "a", "cubic", "repeat", "rattle"}``
  (passed to ``ase.build.bulk`` then ``Atoms.repeat``), ``warmup``, ``repeats``,
  ``compute_stress``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import warnings
from pathlib import Path
from typing import Any

BLOCKS = {
    "linear": "RealAgnosticResidualInteractionBlock",
    "nonlinear": "RealAgnosticResidualNonLinearInteractionBlock",
    "linear_nonresidual": "RealAgnosticInteractionBlock",
    "density": "RealAgnosticDensityResidualInteractionBlock",
    "density_nonresidual": "RealAgnosticDensityInteractionBlock",
}

# The MACE-MH-1 element table: Z = 1..83 and 89..94.
MH1_ATOMIC_NUMBERS = [*range(1, 84), *range(89, 95)]

DEFAULTS: dict[str, Any] = {
    "task": "count",
    "block": "nonlinear",
    "block_first": None,
    "atomic_numbers": MH1_ATOMIC_NUMBERS,
    "hidden_irreps": "512x0e+512x1o",
    "edge_irreps": "128x0e+128x1o",
    "use_edge_irreps_first": True,
    "max_ell": 3,
    "correlation": 3,
    "num_interactions": 2,
    "r_max": 6.0,
    "num_bessel": 10,
    "num_polynomial_cutoff": 5,
    "radial_MLP": [64, 64, 64],
    "distance_transform": "Agnesi",
    "pair_repulsion": True,
    "apply_cutoff": False,
    "use_agnostic_product": True,
    "use_reduced_cg": False,
    "avg_num_neighbors": 30.0,
    "MLP_irreps": "16x0e",
    "num_heads": 1,
    "dtype": "float32",
    "num_threads": 2,
    "seed": 0,
    "structure": {
        "symbol": "C",
        "crystal": "fcc",
        "a": 3.8,
        "cubic": False,
        "repeat": [10, 10, 10],
        "rattle": 0.0,
    },
    "warmup": 2,
    "repeats": 5,
    "compute_stress": False,
    "layer": 0,
    "num_nodes": 6,
    "num_edges": 16,
}


def read_spec(argv: list[str]) -> dict[str, Any]:
    if len(argv) > 1:
        arg = argv[1]
        text = arg if arg.lstrip().startswith("{") else Path(arg).read_text()
    else:
        text = sys.stdin.read()
    spec = json.loads(text) if text.strip() else {}
    unknown = set(spec) - set(DEFAULTS) - {"num_elements", "num_channels", "max_L"}
    if unknown:
        raise SystemExit(f"unknown spec keys: {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **spec}
    merged["structure"] = {**DEFAULTS["structure"], **spec.get("structure", {})}
    if "num_elements" in spec and "atomic_numbers" not in spec:
        merged["atomic_numbers"] = list(range(1, int(spec["num_elements"]) + 1))
    if "num_channels" in spec or "max_L" in spec:
        if "hidden_irreps" in spec:
            raise SystemExit("give either hidden_irreps or num_channels + max_L, not both")
        channels, max_l = int(spec["num_channels"]), int(spec["max_L"])
        parities = ["e" if ell % 2 == 0 else "o" for ell in range(max_l + 1)]
        merged["hidden_irreps"] = "+".join(f"{channels}x{ell}{p}" for ell, p in enumerate(parities))
    merged.pop("num_elements", None)
    merged.pop("num_channels", None)
    merged.pop("max_L", None)
    if merged["block_first"] is None:
        merged["block_first"] = merged["block"]
    for key in ("block", "block_first"):
        if merged[key] not in BLOCKS:
            raise SystemExit(f"{key} must be one of {sorted(BLOCKS)}, got {merged[key]!r}")
    return merged


def configure_threads(spec: dict[str, Any]) -> None:
    # Before torch is imported, so that the OpenMP pool has the requested size.
    n = str(int(spec["num_threads"]))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = n
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")


def build_model(spec: dict[str, Any]):
    import numpy as np
    import torch
    from e3nn import o3
    from mace import modules

    torch.manual_seed(int(spec["seed"]))
    block_cls = modules.interaction_classes[BLOCKS[spec["block"]]]
    block_first_cls = modules.interaction_classes[BLOCKS[spec["block_first"]]]
    zs = [int(z) for z in spec["atomic_numbers"]]
    num_heads = int(spec["num_heads"])
    heads = ["Default"] if num_heads == 1 else [f"head{i}" for i in range(num_heads)]
    edge_irreps = o3.Irreps(spec["edge_irreps"]) if spec["edge_irreps"] else None
    kwargs = {
        "r_max": float(spec["r_max"]),
        "num_bessel": int(spec["num_bessel"]),
        "num_polynomial_cutoff": int(spec["num_polynomial_cutoff"]),
        "max_ell": int(spec["max_ell"]),
        "interaction_cls": block_cls,
        "interaction_cls_first": block_first_cls,
        "num_interactions": int(spec["num_interactions"]),
        "num_elements": len(zs),
        "hidden_irreps": o3.Irreps(spec["hidden_irreps"]),
        "MLP_irreps": o3.Irreps(spec["MLP_irreps"]),
        "atomic_energies": np.zeros((num_heads, len(zs))),
        "avg_num_neighbors": float(spec["avg_num_neighbors"]),
        "atomic_numbers": zs,
        "correlation": int(spec["correlation"]),
        "gate": modules.gate_dict["silu"],
        "pair_repulsion": bool(spec["pair_repulsion"]),
        "apply_cutoff": bool(spec["apply_cutoff"]),
        "use_reduced_cg": bool(spec["use_reduced_cg"]),
        "use_agnostic_product": bool(spec["use_agnostic_product"]),
        "distance_transform": str(spec["distance_transform"]),
        "edge_irreps": edge_irreps,
        "use_edge_irreps_first": bool(spec["use_edge_irreps_first"]),
        "radial_MLP": [int(x) for x in spec["radial_MLP"]],
        "radial_type": "bessel",
        "heads": heads,
        "atomic_inter_scale": [1.0] * num_heads,
        "atomic_inter_shift": [0.0] * num_heads,
    }
    model = modules.ScaleShiftMACE(**kwargs)
    recorded = {k: _jsonable(v) for k, v in kwargs.items() if k != "atomic_energies"}
    recorded["gate"] = "silu"
    return model, recorded


def _jsonable(value: Any) -> Any:
    if isinstance(value, type):
        return value.__name__
    if value is None or isinstance(value, bool | int | float | str | list):
        return value
    return str(value)


def _numel(module) -> int:
    return sum(p.numel() for p in module.parameters())


def count(spec: dict[str, Any]) -> dict[str, Any]:
    model, recorded = build_model(spec)
    top = {name: _numel(child) for name, child in model.named_children()}
    modules_count: dict[str, Any] = {}
    for name, child in model.named_children():
        if name in ("interactions", "products", "readouts"):
            for i, layer in enumerate(child):
                modules_count[f"{name}.{i}"] = {
                    "total": _numel(layer),
                    "submodules": {sub: _numel(m) for sub, m in layer.named_children()},
                    "type": type(layer).__name__,
                }
        else:
            modules_count[name] = {"total": top[name], "type": type(child).__name__}
    parameters = {
        name: {"shape": list(p.shape), "requires_grad": bool(p.requires_grad)}
        for name, p in model.named_parameters()
    }
    total = _numel(model)
    readouts = top.get("readouts", 0)
    # Irreps chosen inside the blocks, for comparison with the backbone under test.
    irreps = {}
    for i, inter in enumerate(model.interactions):
        entry = {
            "node_feats_irreps": str(inter.node_feats_irreps),
            "edge_irreps": str(inter.edge_irreps),
            "target_irreps": str(inter.target_irreps),
            "hidden_irreps": str(inter.hidden_irreps),
            "conv_tp_irreps_out": str(inter.conv_tp.irreps_out),
            "conv_tp_weight_numel": int(inter.conv_tp.weight_numel),
        }
        if hasattr(inter, "irreps_nonlin"):
            entry["irreps_nonlin"] = str(inter.irreps_nonlin)
        irreps[f"interactions.{i}"] = entry
    for i, prod in enumerate(model.products):
        sc = prod.symmetric_contractions
        irreps[f"products.{i}"] = {
            "irreps_in": str(sc.irreps_in),
            "irreps_out": str(sc.irreps_out),
            "use_sc": bool(prod.use_sc),
        }
    return {
        "total": total,
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "backbone": total - readouts,
        "modules": modules_count,
        "parameters": parameters,
        "irreps": irreps,
        "constructor": recorded,
    }


def block_io(spec: dict[str, Any]) -> dict[str, Any]:
    """One interaction block on random inputs: irreps, parameters, inputs and outputs."""
    import torch
    from e3nn import o3
    from mace import modules

    torch.set_default_dtype(torch.float64)
    torch.manual_seed(int(spec["seed"]))
    block_cls = modules.interaction_classes[BLOCKS[spec["block"]]]
    num_elements = len(spec["atomic_numbers"])
    hidden = o3.Irreps(spec["hidden_irreps"])
    channels = hidden.count(o3.Irrep(0, 1))
    sh = o3.Irreps.spherical_harmonics(int(spec["max_ell"]))
    target = (sh * channels).sort()[0].simplify()
    edge = o3.Irreps(spec["edge_irreps"]) if spec["edge_irreps"] else None
    if int(spec["layer"]) == 0:
        node = o3.Irreps(f"{channels}x0e")
        if edge is not None:
            edge = o3.Irreps(f"{edge.count(o3.Irrep(0, 1))}x0e")
        if not spec["use_edge_irreps_first"]:
            edge = None
    else:
        node = hidden
    block = block_cls(
        node_attrs_irreps=o3.Irreps(f"{num_elements}x0e"),
        node_feats_irreps=node,
        edge_attrs_irreps=sh,
        edge_feats_irreps=o3.Irreps(f"{int(spec['num_bessel'])}x0e"),
        target_irreps=target,
        hidden_irreps=hidden,
        avg_num_neighbors=float(spec["avg_num_neighbors"]),
        edge_irreps=edge,
        radial_MLP=[int(x) for x in spec["radial_MLP"]],
    )
    n, e = int(spec["num_nodes"]), int(spec["num_edges"])
    species = torch.randint(num_elements, (n,))
    sender = torch.randint(n, (e,))
    receiver = (sender + torch.randint(1, n, (e,))) % n
    inputs = {
        "species": species,
        "node_feats": torch.randn(n, node.dim),
        "edge_index": torch.stack([sender, receiver]),
        "edge_attrs": torch.randn(e, sh.dim),
        "edge_feats": torch.randn(e, int(spec["num_bessel"])),
        "cutoff": None if spec["apply_cutoff"] else torch.rand(e, 1),
    }
    # Parameters and inputs on a 1e-4 grid: short in JSON, and read back to the same numbers.
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.round(p * 1e4) / 1e4)
    for key in ("node_feats", "edge_attrs", "edge_feats", "cutoff"):
        if inputs[key] is not None:
            inputs[key] = torch.round(inputs[key] * 1e4) / 1e4
    one_hot = torch.nn.functional.one_hot(species, num_elements).double()
    with torch.no_grad():
        message, sc = block(
            one_hot,
            inputs["node_feats"],
            inputs["edge_attrs"],
            inputs["edge_feats"],
            inputs["edge_index"],
            cutoff=inputs["cutoff"],
        )

    def plain(t):
        return None if t is None else t.tolist()

    return {
        "irreps": {
            "node": str(node),
            "edge": str(block.edge_irreps),
            "sh": str(sh),
            "target": str(target),
            "hidden": str(hidden),
        },
        "num_elements": num_elements,
        "parameters": {name: plain(p.detach()) for name, p in block.named_parameters()},
        "inputs": {k: plain(v) for k, v in inputs.items()},
        "message": plain(message),
        "sc": plain(sc),
        "block_class": type(block).__name__,
        "constructor": {k: _jsonable(spec[k]) for k in sorted(spec) if k != "structure"},
    }


def build_structure(spec: dict[str, Any]):
    import numpy as np
    from ase.build import bulk

    s = spec["structure"]
    atoms = bulk(s["symbol"], s["crystal"], a=float(s["a"]), cubic=bool(s["cubic"]))
    atoms = atoms.repeat(tuple(int(n) for n in s["repeat"]))
    if float(s["rattle"]) > 0:
        rng = np.random.default_rng(int(spec["seed"]))
        atoms.positions += rng.normal(scale=float(s["rattle"]), size=atoms.positions.shape)
    return atoms


def peak_rss_kib() -> float:
    """Peak resident memory of this process in KiB (``VmHWM``).

    ``getrusage``'s ``ru_maxrss`` is not used: Linux carries it across ``exec``, so a worker
    started by a large parent process would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def timing(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import torch
    from mace import data as mace_data
    from mace.tools import torch_geometric, utils

    dtype = {"float32": torch.float32, "float64": torch.float64}[spec["dtype"]]
    torch.set_default_dtype(dtype)
    torch.set_num_threads(int(spec["num_threads"]))
    model, recorded = build_model(spec)
    model = model.to(dtype).eval()
    for p in model.parameters():
        p.requires_grad_(False)

    atoms = build_structure(spec)
    z_table = utils.AtomicNumberTable([int(z) for z in spec["atomic_numbers"]])
    config = mace_data.config_from_atoms(atoms)
    graph = mace_data.AtomicData.from_config(
        config, z_table=z_table, cutoff=float(spec["r_max"]), heads=model.heads
    )
    batch = torch_geometric.Batch.from_data_list([graph])
    base = {
        k: (v.to(dtype) if torch.is_floating_point(v) else v)
        for k, v in batch.to_dict().items()
        if torch.is_tensor(v)
    }
    num_atoms = int(base["positions"].shape[0])
    num_edges = int(base["edge_index"].shape[1])

    def step() -> float:
        inputs = {k: v.clone() for k, v in base.items()}
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = model(
            inputs,
            training=False,
            compute_force=True,
            compute_stress=bool(spec["compute_stress"]),
        )
        energy = float(out["energy"].sum())
        forces = out["forces"]
        assert forces is not None and forces.shape == (num_atoms, 3)
        elapsed = time.perf_counter() - t0
        cpu_seconds.append(time.process_time() - c0)
        step.last = (energy, float(forces.abs().max()))
        return elapsed

    # CPU time of the process (all threads): less sensitive than wall time to other load.
    cpu_seconds: list[float] = []

    rss_before = peak_rss_kib()
    warm = [step() for _ in range(int(spec["warmup"]))]
    times = [step() for _ in range(int(spec["repeats"]))]
    rss_peak = peak_rss_kib()
    return {
        "seconds_per_step": {
            "median": float(np.median(times)),
            "mean": float(np.mean(times)),
            "min": float(np.min(times)),
            "all": times,
            "warmup": warm,
        },
        "cpu_seconds_per_step": {
            "median": float(np.median(cpu_seconds[len(warm) :])),
            "all": cpu_seconds[len(warm) :],
        },
        "num_atoms": num_atoms,
        "num_edges": num_edges,
        "avg_neighbors": num_edges / num_atoms,
        "peak_rss_mib": rss_peak / 1024.0,
        "rss_before_timing_mib": rss_before / 1024.0,
        "energy": step.last[0],
        "max_abs_force": step.last[1],
        "num_parameters": _numel(model),
        "threads": torch.get_num_threads(),
        "constructor": recorded,
        "structure": spec["structure"],
    }


def main(argv: list[str]) -> int:
    spec = read_spec(argv)
    configure_threads(spec)
    # mace prints notices on stdout at import time: keep stdout for the JSON answer only.
    answer, sys.stdout = sys.stdout, sys.stderr
    warnings.filterwarnings("ignore")
    import importlib.metadata as md

    if spec["task"] == "count":
        result = count(spec)
    elif spec["task"] == "time":
        result = timing(spec)
    elif spec["task"] == "block":
        result = block_io(spec)
    else:
        raise SystemExit(f"task must be 'count', 'time' or 'block', got {spec['task']!r}")
    result["task"] = spec["task"]
    result["block"] = spec["block"]
    result["block_class"] = BLOCKS[spec["block"]]
    result["block_first"] = spec["block_first"]
    result["block_first_class"] = BLOCKS[spec["block_first"]]
    result["versions"] = {pkg: md.version(pkg) for pkg in ("mace-torch", "torch", "e3nn")}
    json.dump(result, answer, indent=1)
    answer.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
