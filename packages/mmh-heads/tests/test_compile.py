"""``torch.compile`` of the model on the CPU agrees with eager execution."""

import pytest
import torch
from heads_kit import batch_of, make_model, molecule, triclinic


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_inference_matches_eager(backend):
    """Energies, forces and stress of the compiled forward pass agree to 1e-5 (float32)."""
    model = make_model(dtype=torch.float32).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    batch = batch_of([triclinic(1), molecule(2)], heads=[0, 1], dtype=torch.float32)
    eager = model(batch)
    compiled = torch.compile(model, backend=backend)
    out = compiled(batch)
    for key in ("energy", "forces", "stress"):
        scale = float(eager[key].abs().max()) or 1.0
        assert float((out[key] - eager[key]).abs().max()) / scale < 1e-5, key
