"""Forecast each detector's run time before a run, and drop the ones that would not fit a budget.

Every group — a detector, or the neighbour detectors together with the graph they share — is
timed on growing random subsamples, in the regime the full run will use, and its cost is split
into parts that grow differently, each extrapolated by its own power law ``t = a * size ** b``:

* a detector: **learn** (fit time minus the time to score the same rows), extrapolated in the
  rows it learns from, and **score**, per row, extrapolated in rows and charged for every row.
  Learning that is capped (a sample, a fixed number of iterations) then stops growing while
  scoring stays linear, which one power law over the whole fit time cannot express.
* the neighbour group: the **build** of the index over the reference rows, the **search**
  per query (both extrapolated in reference rows, the search charged for every row of the
  run) and the **detectors** fitted on the graph, per row.

The keep-or-drop decision uses a conservative forecast: learning is assumed to grow at least
linearly beyond the largest probe, and every exponent is raised by a margin that is larger
when fewer sizes were probed.

The planner is split by concept: :mod:`~loghunt.ensemble.plan_laws` (power-law fits),
:mod:`~loghunt.ensemble.plan_costs` (the cost model), :mod:`~loghunt.ensemble.plan_runners`
(what one probe times, in the full run's regime), :mod:`~loghunt.ensemble.plan_probing`
(which sizes, in what order, within the probing budget) and
:mod:`~loghunt.ensemble.plan_report` (the plan, and forecast against actual). This module is
the entry point: :func:`plan_detectors` and :func:`timed_fit`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from loghunt.detectors.base import check_matrix
from loghunt.ensemble.ensemble import GRAPH_LABEL, DetectorEnsemble
from loghunt.ensemble.plan_costs import (
    LEARN_RANGE,
    NEIGHBOR_GROUP,
    PER_ROW_RANGE,
    CostPart,
    GroupCost,
)
from loghunt.ensemble.plan_laws import PowerLaw, fit_overhead_law, fit_power_law
from loghunt.ensemble.plan_probing import PROBE_FRACTION, Prober, probe_sizes, probe_within
from loghunt.ensemble.plan_report import Comparison, Plan, PlanEntry, make_plan
from loghunt.ensemble.plan_runners import ProbeSettings, probe_groups
from loghunt.ensemble.presets import parse_detector_spec
from loghunt.errors import ConfigError

__all__ = [
    "GRAPH_LABEL",
    "LEARN_RANGE",
    "NEIGHBOR_GROUP",
    "PER_ROW_RANGE",
    "PROBE_FRACTION",
    "Comparison",
    "CostPart",
    "GroupCost",
    "Plan",
    "PlanEntry",
    "PowerLaw",
    "fit_overhead_law",
    "fit_power_law",
    "make_plan",
    "plan_detectors",
    "timed_fit",
]


def plan_detectors(
    X: ArrayLike,
    specs: Sequence[str],
    *,
    n_neighbors: int = 50,
    metric: str = "l2",
    time_budget: float = 60.0,
    sizes: Sequence[int] | None = None,
    random_state: int = 0,
    probe_budget: float | None = None,
    detector_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """Time each detector group on growing subsamples of ``X`` and plan the full run.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The matrix the run will fit.
    specs : detector specs, as :class:`~loghunt.ensemble.ensemble.DetectorEnsemble` takes them.
    n_neighbors, metric, random_state, detector_params : as the run's ensemble will use them.
    time_budget : float, default=60.0
        Seconds allowed per group (the neighbour detectors and their graph count as one).
    sizes : probe sizes; default 2,000, 8,000, ... (x4) up to 128,000, and ``n_samples``
        itself when no larger (for the neighbour group: reference rows, at most its own).
    probe_budget : seconds probing may take after the warm-up; default
        :data:`PROBE_FRACTION` of ``time_budget``. The warm-up is not charged to it: per
        group, an untimed first run and a timed one on 128 rows, and the first probe size
        unless that is expected to take longer than ``time_budget``.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(3_000, 4)).astype("float32")
    >>> plan = plan_detectors(X, ["knn", "lof", "ecod"], n_neighbors=10, sizes=[500, 1_000])
    >>> [(e.group, e.kept, e.probe_sizes) for e in plan.entries]
    [('neighbours', True, (500, 1000)), ('ecod', True, (500, 1000))]
    """
    data = check_matrix(X)
    parsed = [parse_detector_spec(s) for s in specs]
    if not parsed:
        raise ConfigError("choose at least one detector")
    budget = PROBE_FRACTION * time_budget if probe_budget is None else float(probe_budget)
    settings = ProbeSettings(n_neighbors, metric, random_state, dict(detector_params or {}))
    n = data.shape[0]
    groups = [
        Prober(labels, group, runner, runner.sizes(probe_sizes(n, sizes)))
        for labels, group, runner in probe_groups(parsed, n, settings)
    ]
    started = time.perf_counter()
    rng = np.random.default_rng(random_state)
    warming = probe_within(groups, data, budget, time_budget, rng)
    spent = time.perf_counter() - started
    plan = make_plan(
        [g.cost() for g in groups],
        specs,
        n_rows=n,
        time_budget=time_budget,
        probe_seconds=spent,
        probe_budget=budget,
    )
    plan.warmup_seconds = warming
    return plan


def timed_fit(ensemble: DetectorEnsemble, X: ArrayLike) -> dict[str, float]:
    """Fit ``ensemble`` on ``X``; seconds per label, plus :data:`GRAPH_LABEL` for the graph.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")
    >>> ens = DetectorEnsemble(("knn", "ecod"), n_neighbors=5)
    >>> sorted(timed_fit(ens, X)), sorted(ens.train_scores_)
    (['ecod', 'knn', 'neighbour graph'], ['ecod', 'knn'])
    """
    return dict(ensemble.fit(X).fit_seconds_)
