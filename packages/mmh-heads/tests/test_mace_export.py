"""Export to mace-torch: mmh → mace ``.model`` → mace's own calculator gives mmh's numbers."""

import json
import os
import subprocess

import mace_fixtures as fx
import numpy as np
import pytest
from mmh_heads import export_mace, load_mace_model
from mmh_heads._mace_export import mace_arguments

pytestmark = pytest.mark.slow

_CHECK = """
import json, sys
import numpy as np, torch
torch.set_default_dtype(torch.float64)
from ase import Atoms
from mace.calculators import MACECalculator
spec = json.load(open(sys.argv[1]))
out = {}
for head in spec["heads"]:
    calc = MACECalculator(model_paths=sys.argv[2], device="cpu", default_dtype="float64", head=head)
    out[head] = {}
    for name, s in spec["structures"].items():
        atoms = Atoms(numbers=s["numbers"], positions=s["positions"], cell=s["cell"], pbc=s["pbc"])
        atoms.calc = calc
        out[head][name] = [atoms.get_potential_energy(), atoms.get_forces().tolist()]
print(json.dumps(out))
"""


@pytest.mark.parametrize(
    "name", ["linear_mp0a", "nonresidual_mp0b", "density_omat", "nonlinear_mh1_L1"]
)
def test_export_round_trip_through_mace_calculator(tmp_path, name):
    python = fx.mace_python()
    if python is None:
        pytest.skip("needs a python with mace-torch ($MMH_MACE_PYTHON or .benchmarks-env)")
    ref = fx.reference(name)
    model = load_mace_model(fx.model_file(name, tmp_path))
    out = export_mace(model, tmp_path / "exported.model", python=str(python))
    structures = {}
    ours = {}
    for s, data in ref["structures"].items():
        conf = fx.configuration(data)
        structures[s] = {
            "numbers": conf.atomic_numbers.tolist(),
            "positions": conf.positions.tolist(),
            "cell": conf.cell.tolist(),
            "pbc": conf.pbc.tolist(),
        }
        ours[s] = {h: fx.evaluate(model, conf, h) for h in model.heads}
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"heads": model.heads, "structures": structures}))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
    proc = subprocess.run(
        [str(python), "-c", _CHECK, str(spec), str(out)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    for head in model.heads:
        for s in structures:
            energy, forces = theirs[head][s]
            mine = ours[s][head]
            assert abs(energy - mine["energy"]) <= 1e-10 * abs(mine["energy"])
            scale = max(np.abs(mine["forces"]).max(), 1e-12)
            assert np.abs(np.array(forces) - mine["forces"]).max() <= 1e-10 * scale


def test_export_refuses_what_mace_cannot_hold(tmp_path):
    model = load_mace_model(fx.model_file("nonlinear_mh1_L1", tmp_path))
    model.add_head("wide", hidden=8)
    with pytest.raises(ValueError, match=r"one readout size"):
        mace_arguments(model)
