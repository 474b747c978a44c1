import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory):
    """A two-head model (float64) saved to a file."""
    from md_kit import shared_model
    from mmh_heads import save_model

    return save_model(shared_model(), tmp_path_factory.mktemp("model") / "two-head.safetensors")
