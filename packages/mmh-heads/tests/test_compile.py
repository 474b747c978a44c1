"""``torch.compile`` of the model on the CPU agrees with eager execution (the kit's check, with
both compile back-ends)."""

import pytest
import torch
from mmh_heads.testing import check_compile_matches_eager, molecule, tiny_model, triclinic


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_inference_matches_eager(backend):
    """Energies, forces and stress of the compiled forward pass agree to 1e-5 (float32)."""
    check_compile_matches_eager(
        tiny_model(dtype=torch.float32),
        [triclinic(1, head="base"), molecule(2, head="new")],
        backend=backend,
    )
