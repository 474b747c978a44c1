"""``compile=`` evaluates the model's forward pass through ``torch.compile``.

Compilation takes from half a minute (``aot_eager``) to several minutes (``inductor``) on a
small CPU, so these tests are marked slow.
"""

import numpy as np
import pytest
import torch
from ase_kit import shared_model
from mmh_ase import MMHCalculator
from mmh_ase.testing import atoms_of, jittered_cell
from mmh_heads.testing import molecule


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_calculator_matches_eager(backend):
    """float32; structures of several sizes share one compilation (dynamic shapes)."""
    torch._dynamo.reset()
    model = shared_model(torch.float32)
    eager = MMHCalculator(model, head="base")
    compiled = MMHCalculator(model, head="base", compile={"backend": backend})
    assert compiled.compiled and "compile=True" in repr(compiled)
    assert compiled.model is not model  # the given model is not touched
    structures = [
        jittered_cell(1),
        jittered_cell(2).repeat((2, 1, 1)),
        jittered_cell(3).repeat((2, 2, 1)),
    ]
    for atoms in structures:
        for name in ("energy", "forces", "stress"):
            a = np.asarray(compiled.get_property(name, atoms))
            b = np.asarray(eager.get_property(name, atoms))
            assert np.abs(a - b).max() < 1e-5 * max(1.0, float(np.abs(b).max())), name
    mol = atoms_of(molecule(3))
    assert compiled.get_potential_energy(mol) == pytest.approx(
        eager.get_potential_energy(mol), rel=1e-6
    )
    frames = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert frames <= 2, f"{frames} compilations for structures of different sizes"
