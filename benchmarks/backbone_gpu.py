"""Energy + forces of the mmh backbone on a GPU: e3nn backend against cuequivariance.

Same model and crystal as ``backbone_speed.py`` (1000-atom carbon fcc, a = 3.8 Å, r_max 6 Å,
float32, positions rattled by 0.05 Å), both backends with identical parameters; prints
milliseconds per step, the speed-up
of cuequivariance, and the largest relative difference of energies and forces.

Usage::

    python benchmarks/backbone_gpu.py [--channels 128] [--max-L 1] [--repeats 20]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from ase.neighborlist import neighbor_list
from backbone_speed import BLOCK_OPTIONS, MH1_ELEMENTS, EnergyModel, crystal
from mmh_layers import BackboneConfig
from mmh_layers._convert import copy_parameters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=128)
    parser.add_argument("--max-L", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--blocks", nargs="+", default=["nonlinear", "linear"])
    args = parser.parse_args()
    device = torch.device("cuda")
    atoms = crystal()
    atoms.rattle(0.05, seed=0)  # forces of the perfect crystal vanish by symmetry
    i, j, shift = neighbor_list("ijS", atoms, 6.0)
    edge_index = torch.from_numpy(np.stack([i, j])).long().to(device)
    shifts = torch.tensor(shift @ atoms.cell.array, dtype=torch.float32, device=device)
    z = torch.tensor(atoms.numbers, dtype=torch.long, device=device)
    base = torch.tensor(atoms.positions, dtype=torch.float32, device=device)
    print(
        f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {len(atoms)} atoms, "
        f"{edge_index.shape[1]} edges, {args.channels} channels, L={args.max_L}"
    )
    for block in args.blocks:
        cfg = dict(
            elements=MH1_ELEMENTS,
            block=block,
            channels=args.channels,
            max_L=args.max_L,
            num_bessel=10,
            r_max=6.0,
            **BLOCK_OPTIONS[block][0],
        )
        torch.manual_seed(0)
        models = {}
        for backend in ("e3nn", "cueq"):
            models[backend] = EnergyModel(BackboneConfig(**cfg, backend=backend))
        copy_parameters(models["e3nn"], models["cueq"])
        results = {}
        for backend, model in models.items():
            model = model.to(device).eval()
            for p in model.parameters():
                p.requires_grad_(False)

            def step(model=model):
                pos = base.clone().requires_grad_(True)
                energy = model(z, pos, edge_index, shifts)
                (grad,) = torch.autograd.grad(energy, pos)
                return energy.detach(), -grad

            for _ in range(3):
                step()
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(args.repeats):
                out = step()
            end.record()
            torch.cuda.synchronize()
            results[backend] = (start.elapsed_time(end) / args.repeats, out)
        (t_e, (e_e, f_e)), (t_c, (e_c, f_c)) = results["e3nn"], results["cueq"]
        de = float((e_e - e_c).abs() / e_e.abs())
        df = float((f_e - f_c).abs().max() / f_e.abs().max())
        print(
            f"{block:9s} e3nn {t_e:7.2f} ms/step | cueq {t_c:7.2f} ms/step | "
            f"speed-up {t_e / t_c:.2f}x | rel. diff energy {de:.1e}, forces {df:.1e}"
        )


if __name__ == "__main__":
    main()
