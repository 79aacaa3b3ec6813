"""Forecast each detector's run time before a run, and drop the ones that would not fit a budget.

Every selected detector (or the group of neighbour detectors that share one graph, planned as
one because the graph build dominates their cost) is fitted on growing random subsamples; a
power law ``t = a * n ** b`` fitted to those timings in log-log space forecasts the fit + score
time of the training rows at the full size. Groups whose forecast exceeds the time budget are
dropped, but never all of them.

Probes run the method the full run will use: above ``build_graph``'s reference threshold the
graph is searched against a reference sample, and above ``exact_threshold ** 2`` query x
reference pairs by IVF, so a probe on ``m`` rows builds its graph with the same method and a
reference sample of the same share of its rows. The one-class SVM is probed with its
approximate solver when the full run will use it. Detectors that fit on a capped sample
(Isolation Forest: 256 rows) then cost about ``n`` and the fit finds ``b ~ 1``.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from rich.table import Table

from loghunt.detectors import detector_class, make_detector
from loghunt.detectors.base import Detector, check_matrix
from loghunt.ensemble.ensemble import GRAPH_LABEL, DetectorEnsemble
from loghunt.ensemble.presets import DetectorSpec, parse_detector_spec
from loghunt.errors import ConfigError
from loghunt.index import build_graph

NEIGHBOR_GROUP = "neighbours"
#: ``build_graph`` defaults the cost model must follow.
_REFERENCE_THRESHOLD = 200_000
_REFERENCE_SIZE = 100_000
_EXACT_THRESHOLD = 50_000
#: Every detector scores every row, so its cost grows at least ~linearly; a flatter probe
#: curve is fixed overhead that the full run amortises, not a sublinear algorithm.
EXPONENT_RANGE = (0.9, 2.5)
#: Probing stops before a probe would take more than this share of the budget.
_PROBE_SHARE = 1 / 20
_FIRST_PROBE = 2_000
_LARGEST_PROBE = 64_000
#: Probes shorter than this are repeated (the fastest run counts): a busy machine adds noise.
_REPEAT_BELOW_SECONDS = 0.05

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class PowerLaw:
    """``seconds = coefficient * n ** exponent``.

    >>> PowerLaw(1e-6, 2.0)(1_000)
    1.0
    """

    coefficient: float
    exponent: float

    def __call__(self, n: float) -> float:
        return float(self.coefficient * n**self.exponent)


def fit_power_law(
    sizes: Sequence[float],
    seconds: Sequence[float],
    exponent_range: tuple[float, float] = (0.5, 2.5),
) -> PowerLaw:
    """Least-squares fit of ``log t = log a + b log n``, larger probes weighted more.

    The exponent is clamped to ``exponent_range`` (the coefficient is then refitted); with a
    single distinct size the exponent is 1 (linear through the point).

    Examples
    --------
    >>> law = fit_power_law([1_000, 2_000, 4_000], [0.01, 0.04, 0.16])
    >>> round(law.exponent, 3), round(law(8_000), 3)
    (2.0, 0.64)
    """
    n = np.log(np.asarray(sizes, dtype=np.float64))
    t = np.log(np.maximum(np.asarray(seconds, dtype=np.float64), 1e-9))
    if n.size == 0 or n.size != t.size:
        raise ConfigError("fit_power_law needs as many timings as sizes, at least one")
    # Larger probes carry less fixed overhead and sit nearer the forecast: weight them more.
    weights = np.exp(n - n.max())
    exponent = 1.0
    if np.ptp(n) > 0:
        exponent = float(np.polyfit(n, t, 1, w=np.sqrt(weights))[0])
    exponent = min(max(exponent, exponent_range[0]), exponent_range[1])
    log_a = float(np.average(t - exponent * n, weights=weights))
    return PowerLaw(math.exp(log_a), exponent)


@dataclass(frozen=True)
class GroupTimings:
    """Probe timings of one group: the detectors it runs and seconds per subsample size."""

    labels: tuple[str, ...]
    group: str
    sizes: tuple[int, ...]
    seconds: tuple[float, ...]


@dataclass(frozen=True)
class PlanEntry:
    """One planned group: its forecast at the full size and whether it runs."""

    labels: tuple[str, ...]
    group: str
    forecast_seconds: float
    exponent: float
    kept: bool
    reason: str
    probe_sizes: tuple[int, ...] = ()
    probe_seconds: tuple[float, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Forecast against actual seconds of one kept group; ``ratio`` is actual / forecast."""

    labels: tuple[str, ...]
    group: str
    forecast_seconds: float
    actual_seconds: float

    @property
    def ratio(self) -> float:
        return self.actual_seconds / self.forecast_seconds if self.forecast_seconds else math.inf


@dataclass
class Plan:
    """The planner's verdict: one entry per group, in the order of the specs.

    Examples
    --------
    >>> timings = [
    ...     GroupTimings(("knn", "lof"), NEIGHBOR_GROUP, (1_000, 2_000), (0.1, 0.4)),
    ...     GroupTimings(("ecod",), "ecod", (1_000, 2_000), (0.01, 0.02)),
    ... ]
    >>> plan = make_plan(timings, ("knn", "lof", "ecod"), n_rows=100_000, time_budget=60.0)
    >>> plan.kept_specs
    ('ecod',)
    >>> [(e.group, round(e.forecast_seconds), e.kept) for e in plan.entries]
    [('neighbours', 1000, False), ('ecod', 1, True)]
    """

    entries: list[PlanEntry]
    specs: tuple[str, ...]
    n_rows: int
    time_budget: float
    probe_seconds: float = 0.0
    _labels: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._labels = {parse_detector_spec(s).label: s for s in self.specs}

    @property
    def kept_specs(self) -> tuple[str, ...]:
        """The specs that run, in their given order."""
        kept = {label for e in self.entries if e.kept for label in e.labels}
        return tuple(spec for label, spec in self._labels.items() if label in kept)

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """Plain rows: detectors, forecast, exponent, kept/dropped, reason."""
        return [
            (
                ", ".join(e.labels),
                f"{e.forecast_seconds:.1f} s",
                f"{e.exponent:.2f}",
                "kept" if e.kept else "dropped",
                e.reason,
            )
            for e in self.entries
        ]

    def to_table(self) -> Table:
        """The plan as a rich table for the terminal."""
        table = Table(
            title=f"Run plan: {self.n_rows:,} rows, budget {self.time_budget:g} s per detector"
        )
        for column in ("detector(s)", "forecast", "exponent", "plan", "reason"):
            table.add_column(column, justify="right" if column == "forecast" else "left")
        for row in self.rows():
            table.add_row(*row)
        return table

    def compare(self, actual: Mapping[str, float]) -> list[Comparison]:
        """Forecast against actual seconds per kept group.

        ``actual`` holds seconds per label, plus :data:`GRAPH_LABEL` for the graph build, as
        :func:`timed_fit` returns them; a group's actual time is the sum over its members.
        """
        out = []
        for e in self.entries:
            if not e.kept:
                continue
            members = (GRAPH_LABEL, *e.labels) if e.group == NEIGHBOR_GROUP else e.labels
            seconds = sum(float(actual.get(m, 0.0)) for m in members)
            out.append(Comparison(e.labels, e.group, e.forecast_seconds, seconds))
        return out


def make_plan(
    timings: Sequence[GroupTimings],
    specs: Sequence[str],
    *,
    n_rows: int,
    time_budget: float,
    probe_seconds: float = 0.0,
) -> Plan:
    """Forecast every group at ``n_rows`` and keep those within ``time_budget``.

    If every forecast exceeds the budget, the cheapest group is kept anyway (with a note):
    a run with no detector finds nothing. See :class:`Plan` for an example.
    """
    entries = [_entry(t, n_rows, time_budget) for t in timings]
    if entries and not any(e.kept for e in entries):
        cheapest = min(range(len(entries)), key=lambda i: entries[i].forecast_seconds)
        e = entries[cheapest]
        entries[cheapest] = PlanEntry(
            e.labels,
            e.group,
            e.forecast_seconds,
            e.exponent,
            True,
            "kept anyway: every forecast exceeds the budget and this one is the cheapest",
            e.probe_sizes,
            e.probe_seconds,
        )
    return Plan(entries, tuple(specs), n_rows, time_budget, probe_seconds)


def _entry(timing: GroupTimings, n_rows: int, time_budget: float) -> PlanEntry:
    law = fit_power_law(timing.sizes, timing.seconds, EXPONENT_RANGE)
    largest = max(timing.sizes)
    if largest >= n_rows:  # measured at the full size: nothing to extrapolate
        forecast = float(timing.seconds[timing.sizes.index(largest)])
    else:
        forecast = law(n_rows)
    kept = forecast <= time_budget
    verb = "within" if kept else "over"
    return PlanEntry(
        timing.labels,
        timing.group,
        forecast,
        law.exponent,
        kept,
        f"{verb} budget of {time_budget:g} s",
        timing.sizes,
        timing.seconds,
    )


def plan_detectors(
    X: ArrayLike,
    specs: Sequence[str],
    *,
    n_neighbors: int = 50,
    metric: str = "l2",
    time_budget: float = 60.0,
    sizes: Sequence[int] | None = None,
    random_state: int = 0,
) -> Plan:
    """Time each detector group on growing subsamples of ``X`` and plan the full run.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The matrix the run will fit.
    specs : detector specs, as :class:`~loghunt.ensemble.ensemble.DetectorEnsemble` takes them.
    n_neighbors, metric, random_state : as the ensemble of the run will use them.
    time_budget : float, default=60.0
        Seconds allowed per group (the neighbour detectors and their graph count as one).
    sizes : probe sizes; default 2,000 doubling up to 64,000 (never above ``n_samples``).
        Probing stops before a probe is expected to take more than 1/20 of the budget.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(3_000, 4)).astype("float32")
    >>> plan = plan_detectors(X, ["knn", "lof", "ecod"], n_neighbors=10, sizes=[500, 1_000])
    >>> [(e.group, e.kept) for e in plan.entries]
    [('neighbours', True), ('ecod', True)]
    """
    data = check_matrix(X)
    parsed = [parse_detector_spec(s) for s in specs]
    if not parsed:
        raise ConfigError("choose at least one detector")
    n = data.shape[0]
    probe_sizes = _probe_sizes(n, sizes)
    started = time.perf_counter()
    rng = np.random.default_rng(random_state)
    timings = [
        _time_group(labels, group, probe, data, probe_sizes, time_budget, rng)
        for labels, group, probe in _groups(parsed, n, n_neighbors, metric, random_state)
    ]
    spent = time.perf_counter() - started
    return make_plan(timings, specs, n_rows=n, time_budget=time_budget, probe_seconds=spent)


def _probe_sizes(n: int, sizes: Sequence[int] | None) -> list[int]:
    if sizes is not None:
        chosen = sorted({min(int(s), n) for s in sizes if s > 1})
    else:
        start = min(_FIRST_PROBE, max(2, n // 8))
        chosen = []
        size = start
        while size < min(n, _LARGEST_PROBE) * 2 and size <= n:
            chosen.append(min(size, n, _LARGEST_PROBE))
            size *= 2
        chosen = sorted(set(chosen))
    if not chosen:
        raise ConfigError(f"no probe size fits {n} rows")
    return chosen


Probe = Callable[[Matrix, int], None]


def _groups(
    specs: Sequence[DetectorSpec], n: int, n_neighbors: int, metric: str, random_state: int
) -> list[tuple[tuple[str, ...], str, Probe]]:
    """(labels, group, probe) per group, neighbour group first where the first spec sits."""
    made = {s.label: (s, _make(s, n_neighbors, metric, random_state)) for s in specs}
    shared = [label for label, (_, det) in made.items() if _shares_graph(det, metric)]
    groups: list[tuple[tuple[str, ...], str, Probe]] = []
    for label, (spec, _det) in made.items():
        if label in shared:
            if label == shared[0]:
                neighbours = [made[x] for x in shared]
                probe = _graph_probe(neighbours, n, n_neighbors, metric, random_state)
                groups.append((tuple(shared), NEIGHBOR_GROUP, probe))
            continue
        groups.append(((label,), label, _single_probe(spec, n, n_neighbors, metric, random_state)))
    return groups


def _graph_probe(
    members: Sequence[tuple[DetectorSpec, Detector]],
    n: int,
    n_neighbors: int,
    metric: str,
    random_state: int,
) -> Probe:
    """Build the graph as the full run will (same method, same reference share), fit members."""
    k_full = max(int(getattr(det, "n_neighbors", 0)) for _, det in members)
    sampled = n > _REFERENCE_THRESHOLD and n > _REFERENCE_SIZE
    n_ref = _REFERENCE_SIZE if sampled else n
    method = "exact" if n * n_ref <= _EXACT_THRESHOLD**2 else "ivf"

    def probe(sub: Matrix, size: int) -> None:
        m = sub.shape[0]
        k = min(k_full, m - 1)
        ref = max(k + 1, round(m * n_ref / n))
        _, graph = build_graph(
            sub,
            k,
            metric=metric,
            reference_size=ref,
            reference_threshold=0 if sampled else _REFERENCE_THRESHOLD,
            random_state=random_state,
            method=method,
        )
        for spec, _det in members:
            _make(spec, n_neighbors, metric, random_state).fit(sub, graph=graph)

    return probe


def _single_probe(
    spec: DetectorSpec, n: int, n_neighbors: int, metric: str, random_state: int
) -> Probe:
    def probe(sub: Matrix, size: int) -> None:
        det = _make(spec, n_neighbors, metric, random_state)
        for name, value in _same_method_params(det, n).items():
            setattr(det, name, value)
        det.fit(sub)

    return probe


def _same_method_params(detector: Detector, n: int) -> dict[str, Any]:
    """Parameter overrides that make a small probe use the solver of the full-size run."""
    max_exact = getattr(detector, "max_exact", None)
    if isinstance(max_exact, int) and n > max_exact:
        return {"max_exact": 1}  # the one-class SVM's approximate (Nystroem + SGD) solver
    return {}


def _time_group(
    labels: tuple[str, ...],
    group: str,
    probe: Probe,
    data: Matrix,
    sizes: Sequence[int],
    time_budget: float,
    rng: np.random.Generator,
) -> GroupTimings:
    n = data.shape[0]
    warmup = min(n, 256)
    probe(data[np.sort(rng.choice(n, warmup, replace=False))], warmup)  # imports, threads
    measured: list[tuple[int, float]] = []
    for size in sizes:
        if measured and _expected_next(measured, size) > time_budget * _PROBE_SHARE:
            break
        sub = data[np.sort(rng.choice(n, size, replace=False))] if size < n else data
        measured.append((size, _time_probe(probe, sub)))
    return GroupTimings(labels, group, tuple(s for s, _ in measured), tuple(t for _, t in measured))


def _expected_next(measured: Sequence[tuple[int, float]], size: int) -> float:
    """Seconds the probe at ``size`` is expected to take, from the probes so far."""
    law = fit_power_law([s for s, _ in measured], [t for _, t in measured], EXPONENT_RANGE)
    last_size, last_seconds = measured[-1]
    return float(last_seconds * (size / last_size) ** law.exponent)


def _time_probe(probe: Probe, sub: Matrix) -> float:
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        probe(sub, sub.shape[0])
        best = min(best, time.perf_counter() - started)
        if best > _REPEAT_BELOW_SECONDS:
            break
    return best


def _make(spec: DetectorSpec, n_neighbors: int, metric: str, random_state: int) -> Detector:
    """The detector as :class:`DetectorEnsemble` builds it (its shared settings as defaults)."""
    cls = detector_class(spec.name)
    params: dict[str, Any] = dict(spec.params)
    if cls.uses_neighbors:
        params.setdefault("n_neighbors", n_neighbors)
        params.setdefault("metric", metric)
    if "random_state" in inspect.signature(cls.__init__).parameters:
        params.setdefault("random_state", random_state)
    return make_detector(spec.name, **params)


def _shares_graph(detector: Detector, metric: str) -> bool:
    return detector.uses_neighbors and getattr(detector, "metric", None) == metric


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
