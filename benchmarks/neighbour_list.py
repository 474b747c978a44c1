"""Neighbour-list speed: mmh-data (vesin) against ASE and matscipy.

Times ``neighbor_list("ijS")``-equivalent calls on a periodic crystal of 10,000 atoms
(and, for the record, on small molecules, where per-call overhead dominates), checks that
all libraries return the same pairs and shifts, and prints the speed-up over ASE.

Run from the repository root::

    uv run python benchmarks/neighbour_list.py [--cutoff 5.0] [--repeats 5]

Single-threaded throughout (vesin is created with ``n_threads=1``; torch is not used).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from ase.build import bulk, molecule
from ase.neighborlist import neighbor_list as ase_neighbor_list
from mmh_data import neighbour_list

try:
    from matscipy.neighbours import neighbour_list as matscipy_neighbour_list
except ImportError:  # matscipy is in the dev group only
    matscipy_neighbour_list = None


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _pairs(i, j, s) -> set:
    return set(zip(i.tolist(), j.tolist(), map(tuple, np.asarray(s).tolist()), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoff", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rc = args.cutoff

    # 10,000 atoms: fcc Cu, 4-atom cubic cell repeated 10 x 10 x 25, slightly rattled,
    # with a sheared (triclinic) cell.
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((10, 10, 25))
    atoms.rattle(0.05, seed=0)
    cell = atoms.cell.array.copy()
    cell[2] += 0.3 * cell[0]
    atoms.set_cell(cell, scale_atoms=True)
    pos, cell, pbc = atoms.positions, atoms.cell.array, atoms.pbc
    print(f"system: {len(atoms)} atoms, periodic triclinic cell, cutoff {rc} Å")

    ref = ase_neighbor_list("ijS", atoms, rc)
    edge_index, shifts = neighbour_list(pos, cell, pbc, rc)
    assert _pairs(edge_index[0], edge_index[1], shifts) == _pairs(*ref), "mismatch vs ASE"
    print(f"pairs: {len(ref[0])} (identical sets from ASE and mmh-data)")

    results = {
        "ase": _time(lambda: ase_neighbor_list("ijS", atoms, rc), max(2, args.repeats // 2)),
        "mmh-data (vesin)": _time(lambda: neighbour_list(pos, cell, pbc, rc), args.repeats),
    }
    if matscipy_neighbour_list is not None:
        got = matscipy_neighbour_list("ijS", atoms, rc)
        assert _pairs(*got) == _pairs(*ref), "matscipy mismatch vs ASE"
        results["matscipy"] = _time(lambda: matscipy_neighbour_list("ijS", atoms, rc), args.repeats)
    for name, seconds in results.items():
        print(f"  {name:<18} {seconds * 1e3:10.2f} ms   {results['ase'] / seconds:7.1f}x ASE")
    ratio = results["ase"] / results["mmh-data (vesin)"]
    print(f"speed-up of mmh-data over ASE on {len(atoms)} atoms: {ratio:.1f}x")

    # Small molecules: per-call overhead
    mol = molecule("C6H6")
    mol.center(vacuum=0.0)
    calls = 2000
    small = {
        "ase": _time(lambda: [ase_neighbor_list("ijS", mol, rc) for _ in range(calls // 10)], 3)
        * 10,
        "mmh-data (vesin)": _time(
            lambda: [neighbour_list(mol.positions, None, False, rc) for _ in range(calls)], 3
        ),
    }
    if matscipy_neighbour_list is not None:
        small["matscipy"] = _time(
            # matscipy needs a non-singular cell even without pbc
            lambda: [
                matscipy_neighbour_list(
                    "ijS",
                    positions=mol.positions,
                    cell=np.eye(3) * 50.0,
                    pbc=[False] * 3,
                    cutoff=rc,
                )
                for _ in range(calls)
            ],
            3,
        )
    print("benzene (12 atoms, non-periodic), per call:")
    for name, seconds in small.items():
        print(f"  {name:<18} {seconds / calls * 1e6:10.1f} µs   {small['ase'] / seconds:7.1f}x ASE")


if __name__ == "__main__":
    main()
