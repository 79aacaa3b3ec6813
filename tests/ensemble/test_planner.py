"""The runtime planner: power-law fits, keep-or-drop decisions, grouping, a real small plan."""

from __future__ import annotations

import numpy as np
import pytest

from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.ensemble.planner import (
    GRAPH_LABEL,
    NEIGHBOR_GROUP,
    GroupTimings,
    fit_power_law,
    make_plan,
    plan_detectors,
    timed_fit,
)

SIZES = (2_000, 4_000, 8_000, 16_000)


@pytest.mark.parametrize("exponent", [0.5, 1.0, 1.5, 2.0, 2.5])
def test_power_law_recovers_known_exponents(exponent: float) -> None:
    rng = np.random.default_rng(0)
    noise = np.exp(rng.normal(0, 0.02, size=len(SIZES)))
    seconds = [3e-7 * n**exponent * e for n, e in zip(SIZES, noise, strict=True)]
    law = fit_power_law(SIZES, seconds)
    assert law.exponent == pytest.approx(exponent, abs=0.05)
    assert law(300_000) == pytest.approx(3e-7 * 300_000**exponent, rel=0.25)


def test_power_law_clamps_and_falls_back() -> None:
    assert fit_power_law(SIZES, [1.0, 1.0, 1.0, 1.0]).exponent == 0.5
    assert fit_power_law(SIZES, [1e-9, 1e-6, 1e-3, 1.0]).exponent == 2.5
    single = fit_power_law([1_000], [0.5])
    assert single.exponent == 1.0
    assert single(2_000) == pytest.approx(1.0)


def timing(label: str, seconds_at_2k: float, exponent: float = 1.0) -> GroupTimings:
    return GroupTimings(
        (label,), label, SIZES, tuple(seconds_at_2k * (n / 2_000) ** exponent for n in SIZES)
    )


def test_slow_detector_is_dropped_under_a_small_budget() -> None:
    timings = [timing("ecod", 0.001), timing("slow", 0.01, exponent=2.0)]
    plan = make_plan(timings, ("ecod", "slow"), n_rows=300_000, time_budget=10.0)
    assert plan.kept_specs == ("ecod",)
    slow = plan.entries[1]
    assert not slow.kept and slow.forecast_seconds == pytest.approx(225.0, rel=0.01)
    assert "over" in slow.reason
    assert len(plan.rows()) == 2 and plan.to_table().row_count == 2


def test_never_drops_everything() -> None:
    timings = [timing("a", 1.0), timing("b", 0.5)]
    plan = make_plan(timings, ("a", "b"), n_rows=1_000_000, time_budget=1.0)
    assert plan.kept_specs == ("b",)
    assert "cheapest" in plan.entries[1].reason


def test_compare_sums_the_graph_into_the_neighbour_group() -> None:
    timings = [
        GroupTimings(("knn", "lof"), NEIGHBOR_GROUP, SIZES, (0.1, 0.2, 0.4, 0.8)),
        timing("ecod", 0.001),
    ]
    plan = make_plan(timings, ("knn", "ecod", "lof"), n_rows=32_000, time_budget=60.0)
    assert plan.kept_specs == ("knn", "ecod", "lof")
    rows = plan.compare({GRAPH_LABEL: 1.0, "knn": 0.3, "lof": 0.3, "ecod": 0.016})
    assert [r.group for r in rows] == [NEIGHBOR_GROUP, "ecod"]
    assert rows[0].actual_seconds == pytest.approx(1.6)
    assert rows[0].ratio == pytest.approx(1.0)


@pytest.fixture(scope="module")
def matrix() -> np.ndarray:
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 5, size=(5, 6))
    return (centers[rng.integers(0, 5, 4_000)] + rng.normal(size=(4_000, 6))).astype("float32")


def test_plan_on_a_real_matrix_groups_neighbours_and_keeps_all(matrix: np.ndarray) -> None:
    specs = ("knn", "iforest", "lof35=lof(n_neighbors=35)", "ecod", "robust_z")
    plan = plan_detectors(matrix, specs, n_neighbors=10, time_budget=600.0, sizes=[500, 1_000])
    groups = {e.group: e for e in plan.entries}
    assert groups[NEIGHBOR_GROUP].labels == ("knn", "lof35")
    assert set(groups) == {NEIGHBOR_GROUP, "iforest", "ecod", "robust_z"}
    assert plan.kept_specs == specs
    assert all(e.forecast_seconds > 0 and e.probe_sizes == (500, 1_000) for e in plan.entries)


def test_timed_fit_matches_fit(matrix: np.ndarray) -> None:
    specs = ("knn", "iforest")
    timed = DetectorEnsemble(specs, n_neighbors=5)
    seconds = timed_fit(timed, matrix)
    plain = DetectorEnsemble(specs, n_neighbors=5).fit(matrix)
    assert set(seconds) == {GRAPH_LABEL, "knn", "iforest"}
    for label in specs:
        np.testing.assert_allclose(timed.train_scores_[label], plain.train_scores_[label])
    np.testing.assert_allclose(timed.score(matrix[:50])["knn"], plain.score(matrix[:50])["knn"])
