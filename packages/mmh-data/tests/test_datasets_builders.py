"""Structure generation is deterministic from the seed."""

from __future__ import annotations

import numpy as np
import pytest
from mmh_data.datasets import _builders_bulk, _builders_surf, _generate


def _same(a, b):
    return (
        len(a) == len(b)
        and np.array_equal(a.numbers, b.numbers)
        and np.array_equal(a.positions, b.positions)
        and np.array_equal(a.cell[:], b.cell[:])
    )


def test_bulk_structures_are_deterministic():
    for t1, t2 in zip(_generate.tasks("bulk", 3), _generate.tasks("bulk", 3), strict=True):
        a, b = _builders_bulk.initial_structure(t1), _builders_bulk.initial_structure(t2)
        assert _same(a, b)
        assert 8 <= len(a) <= 16
        p1 = _builders_bulk.perturbed_structures(a, t1)
        p2 = _builders_bulk.perturbed_structures(b, t2)
        assert all(k1 == k2 and _same(x, y) for (k1, x), (k2, y) in zip(p1, p2, strict=True))
    t = _generate.tasks("bulk", 3)[0]
    other = _generate.tasks("bulk", 4)[0]
    a = _builders_bulk.initial_structure(t)
    assert not _same(
        _builders_bulk.perturbed_structures(a, t)[0][1],
        _builders_bulk.perturbed_structures(a, other)[0][1],
    )


def test_surf_structures_are_deterministic():
    for task in _generate.tasks("surf", 0):
        for ads in task.params["adsorbates"]:
            sub = _builders_surf.system_task(task, ads)
            a = _builders_surf.initial_structure(sub, 3.7)
            b = _builders_surf.initial_structure(sub, 3.7)
            assert _same(a, b)
            assert a.numbers.sum() % 2 == 0, "closed shell needs an even electron count"


def test_mol_structures_are_deterministic():
    pytest.importorskip("rdkit")
    from mmh_data.datasets import _builders_mol

    for name in ("mol", "mol-base"):
        tasks = _generate.tasks(name, 0)
        keys = [t.key for t in tasks]
        assert len(keys) == len(set(keys))
        for t in tasks[::7]:
            a = _builders_mol.initial_structures(t)
            b = _builders_mol.initial_structures(t)
            assert len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))


def test_splits_are_deterministic_and_keep_elements_in_training():
    from mmh_data.datasets._splits import assign_splits, family_index

    rng = np.random.default_rng(0)
    fams = np.repeat([f"f{i}" for i in range(30)], 20)
    numbers = [rng.choice([1, 6, 8, 9, 14], size=4) for _ in fams]
    numbers[0] = np.array([92, 92])  # uranium only in family f0: f0 can never be ood
    index = family_index(fams)
    s1 = assign_splits("bulk", fams, index, numbers, 0)
    assert np.array_equal(s1, assign_splits("bulk", fams, index, numbers, 0))
    assert not np.array_equal(s1, assign_splits("bulk", fams, index, numbers, 1))
    assert len(set(fams[s1 == "ood"])) == 6
    assert "f0" not in set(fams[s1 == "ood"])
    for fam in set(fams[s1 != "ood"]):
        counts = {s: int(np.sum((fams == fam) & (s1 == s))) for s in ("train", "valid", "test")}
        assert counts == {"train": 16, "valid": 2, "test": 2}, fam
    # the assignment follows a frame's position in its family, not its place in the file
    order = rng.permutation(len(fams))
    shuffled = assign_splits("bulk", fams[order], index[order], [numbers[k] for k in order], 0)
    assert np.array_equal(shuffled, s1[order])
    assert set(assign_splits("mol-base", fams, index, numbers, 0)) == {"test"}


_RUN_TWICE = """
import numpy as np
from mmh_data.datasets._builders_mol import run
from mmh_data.datasets._task import Task
task = Task("mol", "g2:H2O", "g2:H2O", {"g2": "H2O"}, 0)
(f1,), (f2,) = run(task, []).values(), run(task, []).values()
assert len(f1) == len(f2) > 10, (len(f1), len(f2))
for x, y in zip(f1, f2, strict=True):
    assert np.array_equal(x.positions, y.positions), x.config_type
    assert x.energy == y.energy and np.array_equal(x.forces, y.forces), x.config_type
print("identical", len(f1))
"""


def test_labelled_generation_is_reproducible():
    """Relaxation, normal modes, rattles and MD of one molecule twice give identical frames.

    Runs in a fresh interpreter with one OpenMP/BLAS thread, as the generation workers do.
    """
    pytest.importorskip("tblite")
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_TWICE], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "identical" in proc.stdout
