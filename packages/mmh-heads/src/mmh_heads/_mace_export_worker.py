"""Build a mace-torch model from an mmh export and save it as mace's ``.model``.

This script runs in an environment that has mace-torch (never in mmh's own process: mace
pins e3nn 0.4 and turns off torch's safe loading for the whole process when imported). It
reads ``spec.json`` and ``tensors.npz`` from the folder given as its first argument and writes
the ``.model`` file named by the second. It uses only the standard library, numpy, torch and
mace-torch.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

BLOCKS = {
    "linear": "RealAgnosticResidualInteractionBlock",
    "linear_nonresidual": "RealAgnosticInteractionBlock",
    "density": "RealAgnosticDensityResidualInteractionBlock",
    "density_nonresidual": "RealAgnosticDensityInteractionBlock",
    "nonlinear": "RealAgnosticResidualNonLinearInteractionBlock",
}


def _symmetrised(u, nu):
    import numpy as np

    total = np.zeros_like(u)
    perms = list(itertools.permutations(range(1, nu + 1)))
    for perm in perms:
        total += np.transpose(u, (0, *perm, nu + 1))
    return total / len(perms)


def main(folder: str, output: str) -> None:
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    import numpy as np
    import torch
    from e3nn import o3
    from mace import modules

    spec = json.loads((Path(folder) / "spec.json").read_text())
    tensors = dict(np.load(Path(folder) / "tensors.npz", allow_pickle=False))
    dtype = getattr(torch, spec["dtype"])
    torch.set_default_dtype(dtype)
    kw = spec["kwargs"]
    kwargs = {
        **kw,
        "interaction_cls": modules.interaction_classes[BLOCKS[kw["interaction_cls"]]],
        "interaction_cls_first": modules.interaction_classes[BLOCKS[kw["interaction_cls_first"]]],
        "hidden_irreps": o3.Irreps(kw["hidden_irreps"]),
        "MLP_irreps": o3.Irreps(kw["MLP_irreps"]),
        "edge_irreps": o3.Irreps(kw["edge_irreps"]) if kw["edge_irreps"] else None,
        "atomic_energies": np.array(kw["atomic_energies"]),
        "gate": modules.gate_dict["silu"],
    }
    model = modules.ScaleShiftMACE(**kwargs)
    state = model.state_dict()
    unset = {name for name, _ in model.named_parameters()}
    rtol = 1e-10 if spec["dtype"] == "float64" else 1e-5
    for key, value in tensors.items():
        if key.startswith("__mmh_U__"):
            continue
        if key.startswith("__mmh_W__"):
            # contraction weights in mmh's basis: re-express them in mace's
            layer, k, nu, name = key.removeprefix("__mmh_W__").split("|")
            prefix = f"products.{layer}.symmetric_contractions.contractions.{k}"
            u_mace = state[f"{prefix}.U_matrix_{nu}"].double().numpy()
            nu = int(nu)
            if u_mace.ndim == nu + 1:
                u_mace = u_mace[None]
            u_mmh = tensors[f"__mmh_U__{layer}|{k}|{nu}"]
            t = None
            for symmetrise in (False, True):
                a = (_symmetrised(u_mace, nu) if symmetrise else u_mace).reshape(
                    -1, u_mace.shape[-1]
                )
                b = (_symmetrised(u_mmh, nu) if symmetrise else u_mmh).reshape(-1, u_mmh.shape[-1])
                t, *_ = np.linalg.lstsq(a, b, rcond=1e-9)
                residual = np.abs(a @ t - b).max() / max(np.abs(b).max(), 1e-300)
                if residual <= rtol:
                    break
            else:
                raise SystemExit(f"{prefix} order {nu}: basis change residual {residual:.1e}")
            value = np.einsum("jk,ekc->ejc", t, value)
            key = f"{prefix}.{name}"
        if key not in state:
            raise SystemExit(f"mace's model has no tensor {key}")
        if tuple(state[key].shape) != value.shape:
            value = value.reshape(tuple(state[key].shape))
        with torch.no_grad():
            state[key].copy_(torch.from_numpy(value))
        unset.discard(key)
    # structurally-zero contraction paths stay zero
    unset = {k for k in unset if not state[k].abs().sum() == 0 or "weights" not in k}
    if unset:
        raise SystemExit(f"no value for mace parameter(s) {sorted(unset)[:5]}")
    model.load_state_dict(state)
    torch.save(model.cpu(), output)
    print(json.dumps({"written": output, "parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
