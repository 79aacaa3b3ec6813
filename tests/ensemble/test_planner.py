"""The runtime planner: power laws, cost parts, keep-or-drop decisions, regimes, real plans."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from loghunt.detectors import available_detectors, make_detector
from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.ensemble.planner import (
    GRAPH_LABEL,
    LEARN_RANGE,
    NEIGHBOR_GROUP,
    CostPart,
    GroupCost,
    fit_overhead_law,
    fit_power_law,
    make_plan,
    plan_detectors,
    timed_fit,
)

SIZES = (2_000, 8_000, 32_000)


@pytest.mark.parametrize("exponent", [0.5, 1.0, 1.5, 2.0, 2.5])
def test_power_law_recovers_known_exponents(exponent: float) -> None:
    rng = np.random.default_rng(0)
    noise = np.exp(rng.normal(0, 0.02, size=len(SIZES)))
    seconds = [3e-7 * n**exponent * e for n, e in zip(SIZES, noise, strict=True)]
    law = fit_power_law(SIZES, seconds)
    assert law.exponent == pytest.approx(exponent, abs=0.05)
    assert law(300_000) == pytest.approx(3e-7 * 300_000**exponent, rel=0.25)


def test_power_law_clamps_and_falls_back() -> None:
    assert fit_power_law(SIZES, [1.0, 1.0, 1.0]).exponent == 0.5
    assert fit_power_law(SIZES, [1e-9, 1e-6, 1e-3]).exponent == 2.5
    single = fit_power_law([1_000], [0.5])
    assert single.exponent == 1.0 and single(2_000) == pytest.approx(1.0)
    assert fit_power_law([1_000], [0.5], single_exponent=0.5)(4_000) == pytest.approx(1.0)


def part(name: str, seconds: tuple[float, ...], full: int, **kw: Any) -> CostPart:
    return CostPart(name, SIZES[: len(seconds)], seconds, full, **kw)


def group(label: str, *parts: CostPart, wall_per_cpu: float = 1.0) -> GroupCost:
    sizes = parts[0].sizes
    return GroupCost((label,), label, parts, sizes, (1.0,) * len(sizes), 0.1, wall_per_cpu)


def test_capped_learning_stops_growing_while_scoring_stays_linear() -> None:
    # Learning on a sample of at most 32,000 rows (measured there), scoring per row.
    learn = part("learn", (1.0, 2.0, 4.0), 32_000, exponent_range=(0.5, 2.5))
    score = part("score", (1e-6, 1e-6, 1e-6), 1_000_000, units=1_000_000)
    cost = group("capped", learn, score)
    assert learn.forecast() == pytest.approx(4.0, rel=0.05)
    assert score.forecast() == pytest.approx(1.0)
    assert cost.forecast() == pytest.approx(5.0, rel=0.05)
    # One power law over the totals would have extrapolated 4 s at 32k to ~125 s at 1M.
    assert group("slow", learn, score, wall_per_cpu=2.0).forecast() == pytest.approx(10.0, 0.05)


def test_upper_forecast_is_more_conservative_with_fewer_probes() -> None:
    flat = (0.5, 0.5, 0.5)  # learning that looks like a fixed cost in the probes
    learn = {"exponent_range": LEARN_RANGE, "single_exponent": 0.5, "upper_floor": 1.0}
    three, two, one = (part("learn", flat[:k], 300_000, overhead=True, **learn) for k in (3, 2, 1))
    # Three sizes: the fitted model (a fixed cost) is trusted, with a margin.
    assert three.forecast() == pytest.approx(0.5)
    assert three.upper(0.1) == pytest.approx(0.5 * (300_000 / 32_000) ** 0.1)
    # Fewer: decisions assume learning grows at least linearly beyond the largest probe.
    assert two.upper(0.2) == pytest.approx(0.5 * (300_000 / 8_000) ** 1.2)
    assert one.forecast() == pytest.approx(0.5 * (300_000 / 2_000) ** 0.5)
    assert one.upper(0.3) == pytest.approx(0.5 * (300_000 / 2_000) ** 1.3)
    assert group("1", one).upper() > group("2", two).upper() > group("3", three).upper()


def test_overhead_law_separates_fixed_from_growing_cost() -> None:
    sizes = (2_000, 8_000, 32_000)
    linear = fit_overhead_law(sizes, [0.2 + 1e-5 * n for n in sizes])
    assert linear.overhead == pytest.approx(0.2, rel=0.01) and linear.exponent == 1.0
    # Steeper growth is believed only where it fits better than timing noise allows (a few %
    # over the probes): clearly superlinear, if less steep than the exact curve.
    quadratic = fit_overhead_law(sizes, [0.1 + 1e-9 * n**2 for n in sizes])
    assert 1.5 <= quadratic.exponent <= 2.0
    assert quadratic(128_000) == pytest.approx(0.1 + 1e-9 * 128_000**2, rel=0.5)
    # A fixed cost with one noisy larger probe (Isolation Forest on a busy machine) stays
    # linear instead of extrapolating the noise as ^1.5.
    assert fit_overhead_law(sizes, [0.201, 0.165, 0.276]).exponent == 1.0
    shrinking = fit_overhead_law(sizes, [0.5, 0.45, 0.4])
    assert shrinking.coefficient == 0.0 and 0.4 < shrinking(1e6) < 0.5
    # Noise around a fixed cost: no steep sliver of growth that would explode at 1M rows.
    noisy = fit_overhead_law(sizes, [0.5, 0.4, 0.45])
    assert noisy.exponent == 1.0 and noisy(1e6) < 0.45 * 1e6 / 32_000


def test_slow_and_uncertain_groups_are_dropped() -> None:
    costs = [
        group("fast", part("learn", (0.01, 0.04, 0.16), 300_000)),
        group("slow", part("learn", (0.1, 1.6, 25.6), 300_000, exponent_range=(0.5, 2.5))),
        # A point forecast of ~6 s from one probe, but it could be far more.
        group("unsure", part("learn", (0.7,), 300_000, single_exponent=0.5, upper_floor=1.0)),
    ]
    plan = make_plan(costs, ("fast", "slow", "unsure"), n_rows=300_000, time_budget=10.0)
    assert plan.kept_specs == ("fast",)
    fast, slow, unsure = plan.entries
    assert fast.forecast_seconds == pytest.approx(0.16 * 300_000 / 32_000, rel=0.05)
    assert "over" in slow.reason
    assert unsure.forecast_seconds < 10.0 < unsure.upper_seconds
    assert "uncertain" in unsure.reason
    assert len(plan.rows()) == 3 and plan.to_table().row_count == 3


def test_never_drops_everything() -> None:
    costs = [
        group("a", part("learn", (1.0,), 1_000_000)),
        group("b", part("learn", (0.5,), 1_000_000)),
    ]
    plan = make_plan(costs, ("a", "b"), n_rows=1_000_000, time_budget=1.0)
    assert plan.kept_specs == ("b",)
    assert "cheapest" in plan.entries[1].reason


def test_compare_sums_the_graph_into_the_neighbour_group() -> None:
    neighbours = GroupCost(
        ("knn", "lof"), NEIGHBOR_GROUP, (part("build", (0.1, 0.4, 1.6), 32_000),), SIZES, (1.0,) * 3
    )
    costs = [neighbours, group("ecod", part("learn", (0.001, 0.004, 0.016), 32_000))]
    plan = make_plan(costs, ("knn", "ecod", "lof"), n_rows=32_000, time_budget=60.0)
    assert plan.kept_specs == ("knn", "ecod", "lof")
    rows = plan.compare({GRAPH_LABEL: 1.0, "knn": 0.3, "lof": 0.3, "ecod": 0.016})
    assert [r.group for r in rows] == [NEIGHBOR_GROUP, "ecod"]
    assert rows[0].actual_seconds == pytest.approx(1.6)
    assert rows[0].ratio == pytest.approx(1.0, rel=0.05)


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
    assert [p.name for p in groups[NEIGHBOR_GROUP].parts] == ["build", "search", "detectors"]
    assert set(groups) == {NEIGHBOR_GROUP, "iforest", "ecod", "robust_z"}
    assert plan.kept_specs == specs
    assert all(e.forecast_seconds > 0 and e.probe_sizes == (500, 1_000) for e in plan.entries)
    assert all(e.upper_seconds >= e.forecast_seconds for e in plan.entries)
    assert plan.probe_seconds >= sum(e.probe_time for e in plan.entries) * 0.99


def test_without_probe_budget_only_the_warm_up_is_timed(matrix: np.ndarray) -> None:
    plan = plan_detectors(matrix, ("ecod", "iforest"), time_budget=60.0, probe_budget=0.0)
    # The warm-up's first probe (1/8 of these 4,000 rows), but no larger one.
    assert [e.probe_sizes for e in plan.entries] == [(500,), (500,)]
    assert plan.probe_budget == 0.0 and 0 < plan.warmup_seconds <= plan.probe_seconds
    # A group whose first probe would overrun the time budget keeps its tiny probe only.
    hopeless = plan_detectors(matrix, ("iforest",), time_budget=1e-6, probe_budget=0.0)
    assert hopeless.entries[0].probe_sizes == (128,)
    assert hopeless.entries[0].kept  # the only group is kept anyway, with a note
    assert "cheapest" in hopeless.entries[0].reason


def test_probes_follow_the_full_runs_regime(matrix: np.ndarray) -> None:
    # Learning capped by a sample: the learn part is forecast at the cap, not at n.
    params = {"rod": {"max_samples": 500}, "kmeans": {}}
    plan = plan_detectors(matrix, ("rod", "kmeans"), sizes=[250, 1_000], detector_params=params)
    rod, kmeans = plan.entries
    assert rod.parts[0].name == "learn" and rod.parts[0].full_size == 500
    assert rod.parts[0].sizes == (250, 500)  # the 1,000-row probe learnt from 500 rows
    assert rod.parts[1].sizes == (250, 1_000)  # scoring: every row
    assert kmeans.parts[0].full_size == matrix.shape[0]  # below kmeans' 100,000-row sample


def test_probes_use_the_approximate_solver_when_the_run_will() -> None:
    from loghunt.ensemble.plan_runners import DetectorRunner, ProbeSettings
    from loghunt.ensemble.presets import parse_detector_spec

    settings = ProbeSettings(20, "l2", 0, {})

    def runner(name: str, n: int) -> DetectorRunner:
        spec = parse_detector_spec(name)
        return DetectorRunner(spec, settings.make(spec), n, settings)

    X = np.random.default_rng(0).normal(size=(600, 3)).astype("float32")
    assert runner("ocsvm", 300_000).make().fit(X).exact_ is False  # type: ignore[attr-defined]
    assert runner("ocsvm", 5_000).make().fit(X).exact_ is True  # type: ignore[attr-defined]
    # kmeans learns from 100,000 rows at most, so 300,000 rows run MiniBatchKMeans; 40,000 not.
    assert runner("kmeans", 300_000).make().max_exact == 1  # type: ignore[attr-defined]
    assert runner("kmeans", 40_000).make().max_exact == 50_000  # type: ignore[attr-defined]
    # Warm-up runs on 128 rows use the exact solver: the approximate one costs more there.
    assert runner("ocsvm", 300_000).make(tiny=True).fit(X).exact_ is True  # type: ignore[attr-defined]
    assert make_detector("kmeans").max_exact == 50_000  # type: ignore[attr-defined]


def test_a_single_probe_is_fitted_with_the_warm_up_where_it_ran_in_regime(
    matrix: np.ndarray,
) -> None:
    from loghunt.ensemble.plan_runners import DetectorRunner, ProbeSettings
    from loghunt.ensemble.presets import parse_detector_spec

    settings = ProbeSettings(20, "l2", 0, {})

    def runner(name: str, n: int) -> DetectorRunner:
        spec = parse_detector_spec(name)
        return DetectorRunner(spec, settings.make(spec), n, settings)

    ecod = runner("ecod", 100_000)
    tiny, probe = {"fit": 0.011, "score": 0.001}, {"fit": 0.06, "score": 0.01}
    learn, score = ecod.parts([128, 1_000], [tiny, probe], warm=1)
    # The warm-up's 128 rows tell the fixed cost of learning from the growing one ...
    assert learn.sizes == (128, 1_000) and learn.warm_points == 1
    assert learn.law().exponent == 1.0 and learn.law().overhead == pytest.approx(0.0041, 0.05)
    assert score.sizes == (1_000,)  # ... but its per-call costs would inflate the per-row ones
    # Nor does it count as a probed size for the conservative forecast.
    assert learn.upper(0.0) >= learn.law()(1_000) * 100
    # Growing faster than linearly from it, it tells no fixed cost: the probe stands alone.
    (learn, _) = ecod.parts([128, 1_000], [{"fit": 1e-4, "score": 0.0}, probe], warm=1)
    assert learn.sizes == (1_000,) and learn.warm_points == 0
    # It is left out where the warm-up used another solver than the run will.
    assert runner("kmeans", 300_000).warm_up_in_regime is False
    assert runner("kmeans", 40_000).warm_up_in_regime is True
    # In a real plan, scoring is fitted on the real probe only.
    (entry,) = plan_detectors(matrix, ("ecod",), sizes=[1_000]).entries
    assert entry.parts[1].sizes == (1_000,) and entry.parts[0].sizes[-1] == 1_000


def test_graph_probes_above_the_query_sample_still_forecast(matrix: np.ndarray) -> None:
    big = np.vstack([matrix] * 3)  # 12,000 rows: probes of 10,000 search a sample of queries
    plan = plan_detectors(big, ("knn",), n_neighbors=5, sizes=[10_000])
    assert [p.name for p in plan.entries[0].parts] == ["build", "search"]
    assert plan.entries[0].forecast_seconds > 0


@pytest.mark.slow
def test_every_registered_detector_can_be_planned(matrix: np.ndarray) -> None:
    specs = tuple(available_detectors())
    plan = plan_detectors(matrix[:1_500], specs, n_neighbors=10, sizes=[300, 600])
    labels = [label for e in plan.entries for label in e.labels]
    assert sorted(labels) == sorted(specs)
    assert all(np.isfinite(e.forecast_seconds) and e.forecast_seconds > 0 for e in plan.entries)


def test_timed_fit_matches_fit(matrix: np.ndarray) -> None:
    specs = ("knn", "iforest")
    timed = DetectorEnsemble(specs, n_neighbors=5)
    seconds = timed_fit(timed, matrix)
    plain = DetectorEnsemble(specs, n_neighbors=5).fit(matrix)
    assert set(seconds) == {GRAPH_LABEL, "knn", "iforest"}
    for label in specs:
        np.testing.assert_allclose(timed.train_scores_[label], plain.train_scores_[label])
    np.testing.assert_allclose(timed.score(matrix[:50])["knn"], plain.score(matrix[:50])["knn"])
