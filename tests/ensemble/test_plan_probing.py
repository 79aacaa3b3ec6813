"""Probing: which sizes each group gets within the probing budget, and what a probe will cost."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from loghunt.ensemble.plan_costs import CostPart
from loghunt.ensemble.plan_probing import (
    Prober,
    next_probe_seconds,
    probe_sizes,
    probe_within,
)

SIZES = [2_000, 8_000, 32_000]


@dataclass(frozen=True)
class BusyRunner:
    """A group whose fit burns ``cost(rows)`` CPU seconds: real timings, known shape."""

    cost: Callable[[int], float]

    def sizes(self, wanted: Sequence[int]) -> list[int]:
        return list(wanted)

    def measure(self, sub: np.ndarray, tiny: bool = False) -> dict[str, float]:
        started = time.process_time()
        while time.process_time() - started < self.cost(sub.shape[0]):
            pass
        return {"fit": time.process_time() - started}

    def cost_rows(self, size: int) -> int:
        return size

    @property
    def warm_up_in_regime(self) -> bool:
        return True

    def parts(
        self, sizes: Sequence[int], records: Sequence[dict[str, float]], warm: int = 0
    ) -> list[CostPart]:
        seconds = tuple(r["fit"] for r in records)
        return [CostPart("learn", tuple(sizes), seconds, 100_000, warm_points=warm)]


def probers(costs: dict[str, Callable[[int], float]]) -> list[Prober]:
    return [Prober((name,), name, BusyRunner(cost), list(SIZES)) for name, cost in costs.items()]


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.zeros((40_000, 2), dtype=np.float32)


def linear(per_row: float, fixed: float = 0.0) -> Callable[[int], float]:
    return lambda n: fixed + per_row * n


def test_an_ample_budget_probes_every_size(data: np.ndarray) -> None:
    groups = probers({"a": linear(2e-7), "b": linear(1e-7, 0.005)})
    probe_within(groups, data, budget=5.0, time_budget=60.0, rng=np.random.default_rng(0))
    assert [g.sizes for g in groups] == [SIZES, SIZES]
    assert all(g.cost().parts[0].sizes == tuple(SIZES) for g in groups)


def test_a_dear_group_leaves_the_cheap_ones_their_share(data: np.ndarray) -> None:
    # The dear group's 8,000-row probe (~0.4 s) is more than its share of 0.3 s; it must not
    # take what the cheap groups' next sizes need (~0.02 s each, run three times).
    groups = probers({"cheap1": linear(5e-7), "cheap2": linear(5e-7), "dear": linear(5e-5)})
    started = time.perf_counter()
    probe_within(groups, data, budget=0.3, time_budget=60.0, rng=np.random.default_rng(0))
    cheap1, cheap2, dear = groups
    assert cheap1.sizes == SIZES and cheap2.sizes == SIZES
    assert dear.sizes == SIZES[:1]  # the warm-up's first probe only
    assert sum(g.charged for g in groups) <= 0.3
    assert time.perf_counter() - started < 2.0


def test_what_cheap_groups_leave_goes_to_the_dear_one(data: np.ndarray) -> None:
    # The dear group's 8,000-row probe (~0.5 s) exceeds a third of the budget (0.45 s); the
    # cheap groups use little of theirs, and what they leave lets the dear group probe it
    # (even at 2.5 wall seconds per CPU second on a busy machine).
    groups = probers({"cheap1": linear(1e-7), "cheap2": linear(1e-7), "dear": linear(6e-5)})
    probe_within(groups, data, budget=1.35, time_budget=60.0, rng=np.random.default_rng(0))
    assert groups[2].sizes == SIZES[:2]  # not 32,000 rows: ~2 s


def test_next_probe_sees_fixed_cost_and_never_less_than_the_last() -> None:
    # Mostly a fixed cost: the next size costs little more, not 4x.
    assert next_probe_seconds([128, 2_000], [1.0, 1.05], 8_000) < 1.5
    # Linear growth is extrapolated as such.
    assert next_probe_seconds([2_000, 8_000], [0.02, 0.08], 32_000) == pytest.approx(0.32, 0.05)
    # A fit that dips below the largest probe so far is noise: the largest is the floor.
    assert next_probe_seconds([128, 2_000, 8_000], [0.5, 0.1, 0.3], 32_000) >= 0.3
    assert next_probe_seconds([], [], 8_000) == 0.0


def test_probe_sizes() -> None:
    assert probe_sizes(300_000, None) == [2_000, 8_000, 32_000, 128_000]
    assert probe_sizes(100_000, None) == [2_000, 8_000, 32_000, 100_000]
    assert probe_sizes(10_000, [500, 20_000]) == [500, 10_000]
