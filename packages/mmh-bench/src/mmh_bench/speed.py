"""Speed: energy + forces evaluations per second of any ASE calculator (paper §XII.B).

The default structure is the paper's: a 1000-atom carbon fcc crystal with a = 3.8 Å. Each
timed step moves the atoms (a tiny displacement that alternates in sign, so no calculator
can answer from a cache and neighbour lists are rebuilt, as in molecular dynamics), then
asks for the energy and the forces. For an [`mmh_ase.MMHCalculator`][] the model alone
is timed as well, on a graph built once ("no graph"), with the graph construction timed on
its own.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk

from ._elements import describe_calculator
from ._result import BenchmarkResult

__all__ = ["carbon_fcc", "speed"]

#: Size of the displacement of each timed step, Å.
STEP_DISPLACEMENT = 1e-3


def carbon_fcc(n: int = 1000, a: float = 3.8) -> Atoms:
    """A periodic carbon fcc crystal of ``n`` atoms with lattice constant ``a`` (Å).

    ``n = k**3`` repeats the one-atom primitive cell ``k x k x k`` (1000 atoms: 10x10x10,
    the paper's speed benchmark); otherwise ``n = 4 k**3`` repeats the four-atom cubic
    cell.

    Raises:
        ValueError: ``n`` is neither a cube nor four times a cube.

    Example:
        >>> len(carbon_fcc(1000)), len(carbon_fcc(32))
        (1000, 32)
    """
    k = round(n ** (1 / 3))
    if k**3 == n and n > 0:
        return bulk("C", "fcc", a=a).repeat((k, k, k))
    k = round((n / 4) ** (1 / 3))
    if 4 * k**3 == n and n > 0:
        return bulk("C", "fcc", a=a, cubic=True).repeat((k, k, k))
    raise ValueError(f"an fcc crystal has k**3 or 4*k**3 atoms, not {n}")


def _timed(fn: Callable[[], Any]) -> tuple[float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _summary(times: list[float]) -> float:
    return float(statistics.median(times))


def speed(
    calc: Any,
    *,
    atoms: Atoms | None = None,
    steps: int = 10,
    warmup: int = 2,
    stress: bool = False,
    seed: int = 0,
) -> BenchmarkResult:
    """Energy + forces steps per second of ``calc``, with and without graph construction.

    Args:
        calc: Any ASE calculator.
        atoms: The structure (default `carbon_fcc`: 1000 atoms, a = 3.8 Å); it is
            copied, not modified.
        steps: Timed steps (the median is reported).
        warmup: Untimed steps before them (first-call set-up, compilation).
        stress: Ask for the stress as well at every step.
        seed: Seed of the step displacement.

    Returns:
        A ``speed`` result. Metrics: ``steps_per_s`` (1 / median wall time per step),
        ``seconds_per_step`` and ``cpu_seconds_per_step`` (process CPU time, all threads:
        less sensitive than wall time to other load). For an
        [`mmh_ase.MMHCalculator`][] also ``steps_per_s_no_graph`` (the model on a
        prebuilt graph) and ``graph_seconds`` (building the graph and moving it to the
        device). ``data`` holds every timing, the structure and the threads used.

    Example:
        >>> from ase.calculators.emt import EMT
        >>> speed(EMT(), atoms=carbon_fcc(32), steps=3).metrics["steps_per_s"]  # doctest: +SKIP
        812.3
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"need steps >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    atoms = (carbon_fcc() if atoms is None else atoms).copy()
    atoms.calc = calc
    base = atoms.positions.copy()
    shift = np.random.default_rng(seed).normal(size=base.shape)
    shift *= STEP_DISPLACEMENT / np.linalg.norm(shift, axis=1, keepdims=True)

    def step(k: int) -> None:
        atoms.positions = base + (1 if k % 2 else -1) * shift
        atoms.get_potential_energy()
        atoms.get_forces()
        if stress:
            atoms.get_stress()

    warm = [_timed(lambda k=k: step(k))[0] for k in range(warmup)]
    timed = [_timed(lambda k=k: step(k)) for k in range(warmup, warmup + steps)]
    wall, cpu = [t[0] for t in timed], [t[1] for t in timed]
    metrics = {
        "steps_per_s": 1.0 / _summary(wall),
        "seconds_per_step": _summary(wall),
        "cpu_seconds_per_step": _summary(cpu),
    }
    units = {"steps_per_s": "steps/s", "seconds_per_step": "s", "cpu_seconds_per_step": "s"}
    data: dict[str, Any] = {
        "num_atoms": len(atoms),
        "formula": atoms.get_chemical_formula(),
        "cell_lengths": atoms.cell.lengths().tolist(),
        "steps": steps,
        "warmup": warmup,
        "stress": stress,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "warmup_seconds": warm,
    }
    try:
        import torch

        data["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch comes with mmh-ase
        pass

    from mmh_ase import MMHCalculator

    if isinstance(calc, MMHCalculator):
        data.update(_model_only(calc, atoms, steps=steps, warmup=warmup, stress=stress))
        metrics["steps_per_s_no_graph"] = 1.0 / _summary(data["no_graph_wall_seconds"])
        metrics["graph_seconds"] = _summary(data["graph_seconds"])
        units.update(steps_per_s_no_graph="steps/s", graph_seconds="s")
    return BenchmarkResult(
        name="speed",
        domain="speed",
        metrics=metrics,
        units=units,
        data=data,
        calculator=describe_calculator(calc),
    )


def _model_only(calc: Any, atoms: Atoms, *, steps: int, warmup: int, stress: bool) -> dict:
    """Times of the model on one prebuilt graph, and of building that graph."""
    import torch

    graph_times = []
    batch = None
    for _ in range(steps):
        t0 = time.perf_counter()
        batch = calc.build_batch(atoms)
        if batch.device.type == "cuda":
            torch.cuda.synchronize(batch.device)
        graph_times.append(time.perf_counter() - t0)

    def evaluate() -> None:
        out = calc.evaluate(batch, forces=True, stress=stress)
        # results to host memory, as the calculator does (this also waits for the device)
        out["energy"].detach().cpu()
        out["forces"].detach().cpu()
        if stress:
            out["stress"].detach().cpu()

    for _ in range(warmup):
        evaluate()
    timed = [_timed(evaluate) for _ in range(steps)]
    return {
        "num_edges": batch.num_edges,
        "graph_seconds": graph_times,
        "no_graph_wall_seconds": [t[0] for t in timed],
        "no_graph_cpu_seconds": [t[1] for t in timed],
        "device": str(batch.device),
        "dtype": str(batch.dtype).removeprefix("torch."),
    }
