"""Make the mace-torch model fixtures of the mmh-heads tests, with mace's own reference outputs.

Run from the repository root::

    uv run --frozen python packages/mmh-heads/tests/data/mace/make_fixtures.py

It needs access to the Python package index the first time: it creates (once, idempotently)
the isolated mace-torch environments of ``benchmarks/_reference.py`` — ``.benchmarks-env/``
(mace-torch 0.3.16, plus cuequivariance for the cueq fixture) and ``.benchmarks-env-0.3.15/``
(mace-torch 0.3.15) — with the workspace's torch version. mace-torch pins e3nn 0.4.4 and is never
imported here: every model is built, saved, evaluated and re-checked by
``_mace_fixture_worker.py`` running in those environments.

Each fixture is a gzipped ``torch.save(model)`` file (``<name>.model.gz``) and a JSON of the
construction arguments and the outputs of ``mace.calculators.MACECalculator`` for every head on
the structures of ``structures()``. The models are small, random (perturbed initial weights) and
hold no foundation-model weights. Options: ``--only NAME ...`` remakes some fixtures (those they
derive from must exist), ``--no-verify`` skips the re-check, ``--list`` prints the fixtures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[4]
WORKER = HERE / "_mace_fixture_worker.py"
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from _reference import (  # noqa: E402
    MACE_VERSION,
    ReferenceEnvError,
    ensure_reference_env,
    reference_env_vars,
)

OLD_MACE_VERSION = "0.3.15"
CUEQ_PACKAGES = ["cuequivariance==0.13.0", "cuequivariance-torch==0.13.0"]

# H, C, N, O and Si: organic molecules plus a crystal-forming element.
ATOMIC_NUMBERS = [1, 6, 7, 8, 14]
# Isolated-atom energies (eV) of two heads: PBE-like (small) and molecular-DFT-like (large).
E0S_A = {1: -3.3912, 6: -8.4127, 7: -7.3588, 8: -7.2841, 14: -5.4217}
E0S_B = {1: -13.5714, 6: -1029.8542, 7: -1484.2371, 8: -2041.9066, 14: -7870.3318}


def _e0s(values: dict[int, float]) -> str:
    return "{" + ", ".join(f"{z}: {e!r}" for z, e in values.items()) + "}"


def _heads(spec: dict[str, dict[int, float]]) -> str:
    """A ``--heads`` argument: per head a (never read) training file and the E0s."""
    return repr(
        {
            head: {"train_file": f"not_read_{head}.xyz", "E0s": _e0s(e0s)}
            for head, e0s in spec.items()
        }
    )


def _common(name: str, seed: int, dtype: str) -> list[str]:
    return [
        "--name", name,
        "--seed", str(seed),
        "--device", "cpu",
        "--default_dtype", dtype,
        "--save_cpu",
        "--atomic_numbers", str(ATOMIC_NUMBERS),
        "--avg_num_neighbors", "11.73",
        "--compute_avg_num_neighbors", "False",
        "--num_cutoff_basis", "5",
        "--correlation", "3",
        "--num_interactions", "2",
        "--MLP_irreps", "16x0e",
        "--radial_MLP", "[16, 16, 16]",
        "--gate", "silu",
    ]  # fmt: skip


def _mh1_args(name: str, seed: int, dtype: str, hidden: str, edge: str, max_ell: int,
              heads: dict[str, dict[int, float]]) -> list[str]:  # fmt: skip
    return [
        *_common(name, seed, dtype),
        "--model", "ScaleShiftMACE",
        "--interaction_first", "RealAgnosticResidualNonLinearInteractionBlock",
        "--interaction", "RealAgnosticResidualNonLinearInteractionBlock",
        "--hidden_irreps", hidden,
        "--edge_irreps", edge,
        "--use_edge_irreps_first", "True",
        "--use_agnostic_product", "True",
        "--pair_repulsion",
        "--distance_transform", "Agnesi",
        "--apply_cutoff", "False",
        "--max_ell", str(max_ell),
        "--r_max", "5.0",
        "--num_radial_basis", "10",
        "--heads", _heads(heads),
    ]  # fmt: skip


MH1_HEADS = {"omat_pbe": E0S_A, "spice_wb97m": E0S_B}
MH1_STATISTICS = {"mean": [0.0418, -0.1137], "std": [0.7736, 1.2419]}


def fixtures() -> list[dict[str, Any]]:
    """The fixtures, in the order they are made (derived ones after their source)."""
    mp0a = [
        *_common("linear_mp0a", 101, "float64"),
        "--train_file", "not_read.xyz",
        "--E0s", _e0s(E0S_A),
        "--model", "ScaleShiftMACE",
        "--interaction_first", "RealAgnosticResidualInteractionBlock",
        "--interaction", "RealAgnosticResidualInteractionBlock",
        "--num_channels", "12",
        "--max_L", "1",
        "--max_ell", "2",
        "--r_max", "5.0",
        "--num_radial_basis", "10",
        "--mean", "0.1372",
        "--std", "0.8731",
    ]  # fmt: skip
    mp0b = [
        *_common("nonresidual_mp0b", 102, "float64"),
        "--train_file", "not_read.xyz",
        "--E0s", _e0s(E0S_A),
        "--model", "MACE",
        "--interaction_first", "RealAgnosticInteractionBlock",
        "--interaction", "RealAgnosticResidualInteractionBlock",
        "--pair_repulsion",
        "--distance_transform", "Agnesi",
        "--num_channels", "12",
        "--max_L", "1",
        "--max_ell", "2",
        "--r_max", "4.5",
        "--num_radial_basis", "8",
        "--std", "1.1873",
    ]  # fmt: skip
    omat = [
        *_common("density_omat", 103, "float64"),
        "--train_file", "not_read.xyz",
        "--E0s", _e0s(E0S_A),
        "--model", "MACE",
        "--interaction_first", "RealAgnosticDensityInteractionBlock",
        "--interaction", "RealAgnosticDensityResidualInteractionBlock",
        "--pair_repulsion",
        "--distance_transform", "Agnesi",
        "--num_channels", "12",
        "--max_L", "1",
        "--max_ell", "2",
        "--r_max", "4.5",
        "--num_radial_basis", "8",
        "--std", "0.9417",
    ]  # fmt: skip
    shift_note = (
        "--model MACE builds ScaleShiftMACE with shift [0.0]*H; the shift buffer was then set "
        "to a non-zero value (buffer_overrides) so that a test sees whether it is applied."
    )
    l1_args = _mh1_args(
        "nonlinear_mh1_L1", 104, "float64", "16x0e+16x1o", "8x0e+8x1o", 3, MH1_HEADS
    )
    return [
        {
            "name": "linear_mp0a",
            "description": "MACE-MP-0a style: ScaleShiftMACE, RealAgnosticResidualInteractionBlock "
            "in both layers, one head, 0-d shift (--mean) and [1] scale (--std), float64.",
            "env": MACE_VERSION,
            "kind": "build",
            "seed": 1101,
            "dtype": "float64",
            "argv": mp0a,
        },
        {
            "name": "nonresidual_mp0b",
            "description": "MACE-MP-0b style: --model MACE (first layer "
            "RealAgnosticInteractionBlock, then RealAgnosticResidualInteractionBlock), ZBL, "
            "Agnesi transform, float64.",
            "env": MACE_VERSION,
            "kind": "build",
            "seed": 1102,
            "dtype": "float64",
            "argv": mp0b,
            "buffer_overrides": {"shift": [0.0853]},
            "notes": [shift_note],
        },
        {
            "name": "density_omat",
            "description": "MACE-MPA-0/OMAT-0 style: --model MACE, first layer "
            "RealAgnosticDensityInteractionBlock, then "
            "RealAgnosticDensityResidualInteractionBlock, ZBL, Agnesi transform, float64.",
            "env": MACE_VERSION,
            "kind": "build",
            "seed": 1103,
            "dtype": "float64",
            "argv": omat,
            "buffer_overrides": {"shift": [-0.0621]},
            "notes": [shift_note],
        },
        {
            "name": "nonlinear_mh1_L1",
            "description": "MACE-MH-1 style: RealAgnosticResidualNonLinearInteractionBlock in both "
            "layers, hidden 16x0e+16x1o, edge irreps 8x0e+8x1o, edge irreps first, agnostic "
            "product, ZBL, Agnesi, apply_cutoff False, max_ell 3, two heads with per-head E0s, "
            "scale and shift, float64.",
            "env": MACE_VERSION,
            "kind": "build",
            "seed": 1104,
            "dtype": "float64",
            "argv": l1_args,
            "statistics": MH1_STATISTICS,
        },
        {
            "name": "nonlinear_mh1_L2",
            "description": "As nonlinear_mh1_L1 with hidden irreps up to L=2 (12x0e+12x1o+12x2e, "
            "edge 8x0e+8x1o+8x2e), max_ell 2, two heads, float64.",
            "env": MACE_VERSION,
            "kind": "build",
            "seed": 1105,
            "dtype": "float64",
            "argv": _mh1_args(
                "nonlinear_mh1_L2",
                105,
                "float64",
                "12x0e+12x1o+12x2e",
                "8x0e+8x1o+8x2e",
                2,
                {"matpes_r2scan": E0S_A, "omol": E0S_B},
            ),
            "statistics": {"mean": [-0.0734, 0.2216], "std": [1.0913, 0.6582]},
        },
        {
            "name": "nonlinear_mh1_L1_f32",
            "description": "nonlinear_mh1_L1 built in float32 (--default_dtype float32, so every "
            "constant is computed in float32 as in the float32 MACE-MH-1 file) with the "
            "parameters of nonlinear_mh1_L1 rounded to float32.",
            "env": MACE_VERSION,
            "kind": "float32_of",
            "source": "nonlinear_mh1_L1",
            "dtype": "float32",
            "argv": _mh1_args(
                "nonlinear_mh1_L1_f32", 104, "float32", "16x0e+16x1o", "8x0e+8x1o", 3, MH1_HEADS
            ),
            "statistics": MH1_STATISTICS,
        },
        {
            "name": "nonlinear_mh1_L1_cueq",
            "description": "nonlinear_mh1_L1 converted by mace's e3nn -> cuequivariance converter "
            "(mace.cli.convert_e3nn_cueq, layout ir_mul), float64.",
            "env": MACE_VERSION,
            "kind": "cueq_of",
            "source": "nonlinear_mh1_L1",
            "dtype": "float64",
            "argv": l1_args,
            "statistics": MH1_STATISTICS,
        },
        {
            "name": "nonlinear_v0315",
            "description": "MACE-MH-1 style model built and pickled by mace-torch 0.3.15 (gate "
            "e3nn.nn.Gate): as nonlinear_mh1_L1, two heads, float64.",
            "env": OLD_MACE_VERSION,
            "kind": "build",
            "seed": 1108,
            "dtype": "float64",
            "argv": _mh1_args(
                "nonlinear_v0315", 108, "float64", "16x0e+16x1o", "8x0e+8x1o", 3, MH1_HEADS
            ),
            "statistics": {"mean": [0.0291, -0.1546], "std": [0.8124, 1.1337]},
            "backport": ["use_edge_irreps_first"],
            "notes": [
                "mace-torch 0.3.15 has no --use_edge_irreps_first flag and its configure_model "
                "does not pass the argument (0.3.16 does both), although its ScaleShiftMACE "
                "takes and stores it; MACE-MH-1 was trained from a branch that had it. The "
                "worker adds 0.3.16's flag to the 0.3.15 argparser and passes "
                "use_edge_irreps_first to the ScaleShiftMACE constructor (backported_flags).",
            ],
            "cross_check_env": MACE_VERSION,
        },
        {
            "name": "linear_mp0a_state_dict",
            "description": "The weights of linear_mp0a as mace's training checkpoint "
            "({'model': state_dict, 'optimizer': ..., 'lr_scheduler': ...}).",
            "env": MACE_VERSION,
            "kind": "state_dict_of",
            "source": "linear_mp0a",
            "file_name": "linear_mp0a_state_dict.pt.gz",
            "dtype": "float64",
            "argv": mp0a,
        },
    ]


# --------------------------------------------------------------------------------------------
# structures


def _atoms_record(atoms, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "numbers": [int(z) for z in atoms.numbers],
        "positions": atoms.positions.astype(float).tolist(),
        "cell": np.asarray(atoms.cell).astype(float).tolist(),
        "pbc": [bool(p) for p in atoms.pbc],
    }


def structures() -> dict[str, dict[str, Any]]:
    """Small test structures of H, C, N, O and Si (seeded; at most 7 atoms each)."""
    from ase import Atoms
    from ase.build import molecule

    rng = np.random.default_rng(20260)
    methanol = molecule("CH3OH")
    methanol.positions += rng.normal(scale=0.04, size=methanol.positions.shape)
    nitromethane = molecule("CH3NO2")
    nitromethane.positions += rng.normal(scale=0.04, size=nitromethane.positions.shape)

    cell = np.array([[4.31, 0.0, 0.0], [1.27, 4.06, 0.0], [-0.83, 0.94, 4.58]])
    frac = np.array(
        [
            [0.02, 0.03, 0.01],
            [0.51, 0.47, 0.52],
            [0.27, 0.74, 0.23],
            [0.76, 0.21, 0.71],
            [0.31, 0.18, 0.62],
            [0.68, 0.83, 0.34],
        ]
    )
    triclinic = Atoms("Si2CONH", scaled_positions=frac, cell=cell, pbc=True)
    triclinic.positions += rng.normal(scale=0.05, size=triclinic.positions.shape)

    slab_cell = np.array([[3.87, 0.0, 0.0], [1.71, 3.52, 0.0], [0.0, 0.0, 16.0]])
    in_plane = [[0.0, 0.0], [0.5, 0.5], [0.25, 0.7], [0.72, 0.2], [0.1, 0.45], [0.6, 0.8],
                [0.4, 0.1]]  # fmt: skip
    heights = [6.0, 6.6, 7.9, 8.1, 9.6, 9.9, 11.0]
    symbols = ["Si", "Si", "C", "O", "Si", "N", "H"]
    positions = [a * slab_cell[0] + b * slab_cell[1] + [0.0, 0.0, z]
                 for (a, b), z in zip(in_plane, heights, strict=True)]  # fmt: skip
    slab = Atoms(symbols, positions=positions, cell=slab_cell, pbc=[True, True, False])
    slab.positions += rng.normal(scale=0.05, size=slab.positions.shape)

    atom = Atoms("N", positions=[[0.0, 0.0, 0.0]], pbc=False)
    return {
        "molecule_methanol": _atoms_record(methanol, "CH3OH (ase g2), rattled 0.04 A"),
        "molecule_nitromethane": _atoms_record(nitromethane, "CH3NO2 (ase g2), rattled 0.04 A"),
        "triclinic": _atoms_record(
            triclinic,
            "Si2CONH in a skewed triclinic cell (lengths 4.3-4.7 A < 2 r_max, so atoms see "
            "their own periodic images), rattled 0.05 A, fully periodic",
        ),
        "slab": _atoms_record(
            slab,
            "Si3CONH slab in a skewed 2D cell, periodic in x and y, 16 A cell along z "
            "(vacuum), rattled 0.05 A",
        ),
        "isolated_atom": _atoms_record(atom, "a single N atom, no cell, not periodic"),
    }


# --------------------------------------------------------------------------------------------
# environments and the worker


def ensure_environments(needed: set[str]) -> dict[str, Path]:
    pythons = {}
    if MACE_VERSION in needed:
        python = ensure_reference_env()
        _ensure_cueq(python)
        pythons[MACE_VERSION] = python
    if OLD_MACE_VERSION in needed:
        pythons[OLD_MACE_VERSION] = ensure_reference_env(mace_version=OLD_MACE_VERSION)
    return pythons


def _ensure_cueq(python: Path) -> None:
    """cuequivariance(-torch) in the 0.3.16 environment, for mace's cueq converter (CPU only).

    Installing it does not change how the e3nn fixtures are built: mace uses it only for a
    cueq configuration or ``use_reduced_cg=True``, and the fixtures use neither.
    """
    check = [str(python), "-c", "import cuequivariance, cuequivariance_torch"]
    if subprocess.run(check, capture_output=True, env=reference_env_vars()).returncode == 0:
        return
    print(f"installing {' '.join(CUEQ_PACKAGES)} into {python.parent.parent}", file=sys.stderr)
    command = ["uv", "pip", "install", "--python", str(python), *CUEQ_PACKAGES]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReferenceEnvError(f"could not install cuequivariance:\n{proc.stderr.strip()}")


def run_worker(python: Path, spec: dict[str, Any]) -> dict[str, Any]:
    env = reference_env_vars()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    with tempfile.TemporaryDirectory() as tmp:  # mace may write logs into its working directory
        proc = subprocess.run(
            [str(python), str(WORKER)],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
        )
    if proc.returncode != 0:
        raise RuntimeError(
            f"worker failed on {spec.get('name', spec.get('json'))} (exit {proc.returncode}):\n"
            f"{proc.stderr.strip()[-6000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _max_abs_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    worst: dict[str, float] = {}
    for head, per_structure in a.items():
        for name, entry in per_structure.items():
            for key, value in entry.items():
                diff = float(np.max(np.abs(np.asarray(value) - np.asarray(b[head][name][key]))))
                worst[key] = max(worst.get(key, 0.0), diff)
    return worst


def make(fixture: dict[str, Any], pythons: dict[str, Path], out_dir: Path,
         structs: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    spec = {
        "task": "make",
        "out_dir": str(out_dir),
        "structures": structs,
        **{k: v for k, v in fixture.items() if k not in ("env", "source", "cross_check_env")},
    }
    if "source" in fixture:
        spec["source_name"] = fixture["source"]
        spec["source_file"] = str(out_dir / f"{fixture['source']}.model.gz")
        spec["source_json"] = str(out_dir / f"{fixture['source']}.json")
    answer = run_worker(pythons[fixture["env"]], spec)
    if "cross_check_env" in fixture:
        json_path = out_dir / f"{fixture['name']}.json"
        other = run_worker(
            pythons[fixture["cross_check_env"]],
            {
                "task": "evaluate",
                "json": str(json_path),
                "model_file": str(out_dir / f"{fixture['name']}.model.gz"),
            },
        )
        record = json.loads(json_path.read_text())
        record["cross_check"] = {
            "against": f"the same file evaluated by mace-torch {other['mace_version']}",
            "what": "max |outputs of this mace version - stored results| over heads, structures",
            "mace_version": other["mace_version"],
            "max_abs_diff": _max_abs_diff(record["results"], other["results"]),
        }
        json_path.write_text(json.dumps(record, indent=1) + "\n")
        answer["cross_check"] = record["cross_check"]
    return answer


def verify(fixture: dict[str, Any], pythons: dict[str, Path], out_dir: Path) -> dict[str, Any]:
    stem = Path(fixture.get("file_name", fixture["name"])).name.split(".")[0]
    spec = {"task": "verify", "json": str(out_dir / f"{stem}.json")}
    return run_worker(pythons[fixture["env"]], spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="make only these fixtures")
    parser.add_argument("--no-verify", action="store_true", help="skip the reload check")
    parser.add_argument("--list", action="store_true", help="list the fixtures and exit")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    opts = parser.parse_args(argv)

    todo = fixtures()
    if opts.list:
        for fixture in todo:
            print(f"{fixture['name']:24s} mace {fixture['env']:7s} {fixture['description']}")
        return 0
    if opts.only:
        unknown = set(opts.only) - {f["name"] for f in todo}
        if unknown:
            parser.error(f"unknown fixtures: {sorted(unknown)}")
        todo = [f for f in todo if f["name"] in opts.only]
    needed = {f["env"] for f in todo} | {f.get("cross_check_env") for f in todo}
    pythons = ensure_environments({v for v in needed if v})
    opts.out.mkdir(parents=True, exist_ok=True)
    structs = structures()
    for fixture in todo:
        t0 = time.perf_counter()
        answer = make(fixture, pythons, opts.out, structs)
        line = f"{fixture['name']}: made in {time.perf_counter() - t0:.0f} s"
        if not opts.no_verify:
            check = verify(fixture, pythons, opts.out)
            line += f"; reloaded and reproduced ({check.get('max_abs_diff', 'state dict equal')})"
        size = os.path.getsize(opts.out / answer["file"])
        print(f"{line}; {answer['file']} {size / 1024:.0f} KiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
