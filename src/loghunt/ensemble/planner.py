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

Probes follow the full run's regime. The graph is built with the method ``build_graph`` will
choose at the full size (exact, or IVF, over at most a 100,000-row reference sample), so a
small probe does not time exact search when the run will use IVF. Detectors may declare,
as attributes, what their fit depends on: ``max_exact`` (most learning rows for the exact
solver: a probe uses the approximate one when the run will), ``fit_sample_rows`` or an integer
``max_samples`` (rows learnt from: the learn part is forecast at ``min(n, cap)`` rows).

Parts are timed in CPU seconds, which a busy machine barely disturbs, so the shape of each
cost is fitted on steady numbers; the group's wall seconds per CPU second over its probes (its
parallelism and the machine's current contention) turn the forecast into wall seconds.

Probing has a budget of its own, by default a quarter of the time budget. Each group first
warms up, which is not charged to it: a run on 128 rows, untimed (imports, thread pools,
compilation: costs the run would pay anyway), a timed one, and the first probe (2,000 rows)
unless even that is expected to exceed the time budget. Then, round by round and the
cheapest group first, each group probes its next size (8,000, 32,000, ... growing x4) while
that probe is expected to fit the group's share of the budget left; it stops at its first
miss.

The keep-or-drop decision uses a conservative forecast: learning is assumed to grow at least
linearly beyond the largest probe, and every exponent is raised by a margin that is larger
when fewer sizes were probed.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from rich.table import Table

from loghunt.detectors import detector_class, make_detector
from loghunt.detectors.base import Detector, check_matrix
from loghunt.ensemble.ensemble import GRAPH_LABEL, DetectorEnsemble
from loghunt.ensemble.presets import DetectorSpec, parse_detector_spec
from loghunt.errors import ConfigError
from loghunt.index import NeighborIndex

NEIGHBOR_GROUP = "neighbours"
#: Attributes a detector may declare about its fit (see the module docstring).
_EXACT_ATTR = "max_exact"
_CAP_ATTRS = ("fit_sample_rows", "max_samples")
#: ``build_graph`` defaults the cost model must follow.
_REFERENCE_THRESHOLD = 200_000
_REFERENCE_SIZE = 100_000
_EXACT_THRESHOLD = 50_000
#: Share of the time budget that all probing together may take, unless given.
PROBE_FRACTION = 0.25
_FIRST_PROBE = 2_000
#: Probe sizes grow by this factor: most of the information is in the largest probe, and
#: probing costs ~1.3x it (doubling: ~2x).
_GROWTH = 4
_LARGEST_PROBE = 128_000
#: Rows of the first, untimed run of each group, and of the tiny probe that follows.
_PRIME_ROWS = 128
_WARMUP_ROWS = 128
#: Share of the largest probe below which a fitted growth is taken as unseen.
_VISIBLE_GROWTH = 0.1
#: Rows scored, and queries searched, per probe: per-row costs barely change with more.
_UNIT_ROWS = 8_192
#: Probes shorter than this run three times and the median counts: a busy machine adds noise.
_REPEAT_BELOW_SECONDS = 0.1
#: Exponent ranges. Learning is a fixed cost plus one growing at least linearly (a capped
#: sample makes the growing one stop at the cap) and, fitted on differences of small timings,
#: steeper than ^1.5 is mostly noise; per-row and per-query costs grow mildly with the model
#: (sorting, cache misses).
LEARN_RANGE = (1.0, 1.5)
PER_ROW_RANGE = (0.0, 0.2)
#: (low, high, guess when a single size was probed) per search method.
_BUILD_EXPONENTS = {"exact": (0.5, 1.5, 1.0), "ivf": (1.0, 1.6, 1.2), "hnsw": (1.0, 1.6, 1.2)}
#: Per query: exact search compares with every reference row, IVF with ~sqrt of them (measured
#: on CloudTrail features: ^0.2 below ~25,000 reference rows, where FAISS's lists hold ~39 rows,
#: ^0.3-0.5 above, where they grow with sqrt(rows)).
_QUERY_EXPONENTS = {"exact": (0.8, 1.2, 1.0), "ivf": (0.3, 0.6, 0.35), "hnsw": (0.3, 0.6, 0.35)}
#: Added to every exponent of the conservative forecast, by the number of sizes probed.
_MARGIN = {1: 0.3, 2: 0.2}
_MARGIN_MANY = 0.1

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class PowerLaw:
    """``seconds = overhead + coefficient * n ** exponent``.

    >>> PowerLaw(1e-6, 2.0)(1_000), PowerLaw(1e-6, 1.0, overhead=0.5)(1_000)
    (1.0, 0.501)
    """

    coefficient: float
    exponent: float
    overhead: float = 0.0

    def __call__(self, n: float) -> float:
        return float(self.overhead + self.coefficient * n**self.exponent)


def fit_power_law(
    sizes: Sequence[float],
    seconds: Sequence[float],
    exponent_range: tuple[float, float] = (0.5, 2.5),
    single_exponent: float = 1.0,
) -> PowerLaw:
    """Least-squares fit of ``log t = log a + b log n``, larger probes weighted more.

    The exponent is clamped to ``exponent_range`` (the coefficient is then refitted); with a
    single distinct size it is ``single_exponent`` (clamped too).

    Examples
    --------
    >>> law = fit_power_law([1_000, 2_000, 4_000], [0.01, 0.04, 0.16])
    >>> round(law.exponent, 3), round(law(8_000), 3)
    (2.0, 0.64)
    """
    n = np.log(np.asarray(sizes, dtype=np.float64))
    t = np.log(np.maximum(np.asarray(seconds, dtype=np.float64), 1e-12))
    if n.size == 0 or n.size != t.size:
        raise ConfigError("fit_power_law needs as many timings as sizes, at least one")
    # Larger probes carry less fixed overhead and sit nearer the forecast: weight them more.
    weights = np.exp(n - n.max())
    exponent = single_exponent
    if np.ptp(n) > 0:
        exponent = float(np.polyfit(n, t, 1, w=np.sqrt(weights))[0])
    exponent = min(max(exponent, exponent_range[0]), exponent_range[1])
    log_a = float(np.average(t - exponent * n, weights=weights))
    return PowerLaw(math.exp(log_a), exponent)


def fit_overhead_law(
    sizes: Sequence[float],
    seconds: Sequence[float],
    exponent_range: tuple[float, float] = (1.0, 2.5),
) -> PowerLaw:
    """Fit ``t = c0 + c1 * n ** b`` with ``c0, c1 >= 0`` and ``b`` in ``exponent_range``.

    A fixed cost plus a growing one: the shape of learning that is set up once (thread pools,
    a sample, a fixed number of iterations) and then touches every row, which a pure power law
    fitted on small probes mistakes for slow growth. Relative errors, larger probes weighted
    more; ``b`` on a 0.05 grid, the smallest that fits about as well as the best (two sizes:
    ``b = 1`` unless they grow faster than a line through the origin allows), and the
    smallest outright when the growing cost is under a tenth of the largest probe's.

    Examples
    --------
    >>> law = fit_overhead_law([2_000, 8_000, 32_000], [0.3, 0.6, 1.8])
    >>> round(law.overhead, 2), round(law.exponent, 2), round(law(128_000), 1)
    (0.2, 1.0, 6.6)
    """
    n = np.asarray(sizes, dtype=np.float64)
    t = np.maximum(np.asarray(seconds, dtype=np.float64), 1e-12)
    if n.size < 2 or np.ptp(n) == 0 or n.size != t.size:
        raise ConfigError("fit_overhead_law needs timings at two sizes at least")
    share = n / n.max()
    weights = share / t**2
    fits = []
    for b in np.arange(exponent_range[0], exponent_range[1] + 1e-9, 0.05):
        c0, c1 = _nonnegative_line(n**b, t, weights)
        fits.append((float(np.sum(weights * (c0 + c1 * n**b - t) ** 2)), PowerLaw(c1, b, c0)))
    good_enough = max(1.05 * min(e for e, _ in fits), 0.01**2 * float(share.sum()))
    law = next(law for error, law in fits if error <= good_enough)
    if law.coefficient * n.max() ** law.exponent < _VISIBLE_GROWTH * law(n.max()):
        # Growth too small to see in the probes: a steep sliver of it, fitted to noise, would
        # explode when extrapolated. Take the gentlest growth instead.
        law = fits[0][1]
    return PowerLaw(law.coefficient, round(float(law.exponent), 2), law.overhead)


def _nonnegative_line(
    x: NDArray[np.float64], t: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[float, float]:
    """Weighted least squares ``t ~ c0 + c1 x`` with both coefficients kept >= 0."""
    design = np.stack([np.ones_like(x), x], axis=1) * np.sqrt(w)[:, None]
    c0, c1 = np.linalg.lstsq(design, t * np.sqrt(w), rcond=None)[0]
    if c1 < 0:  # shrinking with size: noise around a fixed cost
        return float(np.sum(w * t) / np.sum(w)), 0.0
    if c0 < 0:  # growing faster than the line: all of it grows
        return 0.0, float(np.sum(w * x * t) / np.sum(w * x * x))
    return float(c0), float(c1)


@dataclass(frozen=True)
class CostPart:
    """One part of a group's cost, measured at probe sizes and extrapolated to the run.

    ``seconds[i]`` is the part's time at probe size ``sizes[i]``, per unit when the part is
    charged per unit (per scored row, per query): the run costs ``law(full_size) * units``.

    Examples
    --------
    >>> part = CostPart("score", (1_000, 2_000), (1e-6, 1e-6), 100_000, units=100_000)
    >>> round(part.forecast(), 3), round(part.law().exponent, 2)
    (0.1, 0.0)
    """

    name: str
    sizes: tuple[int, ...]
    seconds: tuple[float, ...]
    full_size: int
    units: float = 1.0
    exponent_range: tuple[float, float] = (0.0, 2.5)
    #: Exponent when a single size was probed.
    single_exponent: float = 1.0
    #: Least exponent the conservative forecast assumes beyond the largest of fewer than
    #: three probed sizes.
    upper_floor: float = 0.0
    #: Fit a fixed cost plus a growing one (:func:`fit_overhead_law`), not a power law.
    overhead: bool = False

    def law(self) -> PowerLaw:
        """The fitted law (per unit when charged per unit)."""
        if self.overhead and len(set(self.sizes)) > 1:
            return fit_overhead_law(self.sizes, self.seconds, self.exponent_range)
        if self.overhead:  # one size shows no growth: the single guess, not clamped
            return PowerLaw(
                float(np.mean(self.seconds)) / self.sizes[0] ** self.single_exponent,
                self.single_exponent,
            )
        return fit_power_law(self.sizes, self.seconds, self.exponent_range, self.single_exponent)

    def forecast(self) -> float:
        """Seconds at the full size."""
        return self.law()(self.full_size) * self.units

    def upper(self, margin: float) -> float:
        """Conservative seconds, growing by ``(full_size / largest) ** margin`` more; with
        fewer than three sizes probed, at least as ``size ** upper_floor`` from the largest."""
        largest = max(self.sizes)
        if self.full_size <= largest:
            return self.forecast()
        law, ratio = self.law(), self.full_size / largest
        base = law(self.full_size)
        if len(set(self.sizes)) < 3:
            base = max(base, law(largest) * ratio ** max(law.exponent, self.upper_floor))
        return float(base * ratio**margin * self.units)

    def describe(self) -> str:
        """``name ^b``, ``b`` the fitted exponent (of the per-unit cost when charged so), and
        the fixed CPU seconds when fitted."""
        law = self.law()
        fixed = f" +{law.overhead:.2g} s" if self.overhead and law.overhead else ""
        return f"{self.name} ^{law.exponent:.2f}{fixed}"


@dataclass(frozen=True)
class GroupCost:
    """A probed group: the detectors it runs, its cost parts and what probing it took."""

    labels: tuple[str, ...]
    group: str
    parts: tuple[CostPart, ...]
    #: Rows of each probe (reference rows for the neighbour group) and its total seconds.
    probe_sizes: tuple[int, ...]
    probe_seconds: tuple[float, ...]
    #: Seconds spent probing this group, warm-up and repeats included.
    probe_time: float = 0.0
    #: Wall seconds per second of the parts (which are CPU seconds when probed).
    wall_per_cpu: float = 1.0

    def forecast(self) -> float:
        """Forecast wall seconds of the full run (sum of the parts)."""
        return self.wall_per_cpu * sum(p.forecast() for p in self.parts)

    def upper(self) -> float:
        """Conservative forecast: what keep-or-drop decisions use."""
        margin = _MARGIN.get(len(set(self.probe_sizes)), _MARGIN_MANY)
        return self.wall_per_cpu * sum(p.upper(margin) for p in self.parts)

    def describe(self) -> str:
        parts = ", ".join(p.describe() for p in self.parts)
        return f"{parts}; wall/CPU {self.wall_per_cpu:.2f}"


@dataclass(frozen=True)
class PlanEntry:
    """One planned group: its forecasts at the full size and whether it runs."""

    labels: tuple[str, ...]
    group: str
    forecast_seconds: float
    upper_seconds: float
    kept: bool
    reason: str
    model: str = ""
    probe_sizes: tuple[int, ...] = ()
    probe_seconds: tuple[float, ...] = ()
    probe_time: float = 0.0
    parts: tuple[CostPart, ...] = ()


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
    >>> def cost(label, seconds):
    ...     part = CostPart("learn", (1_000, 2_000), seconds, 100_000)
    ...     return GroupCost((label,), label, (part,), (1_000, 2_000), seconds)
    >>> plan = make_plan(
    ...     [cost("knn", (0.1, 0.4)), cost("ecod", (0.01, 0.02))],
    ...     ("knn", "ecod"), n_rows=100_000, time_budget=60.0,
    ... )
    >>> plan.kept_specs
    ('ecod',)
    >>> [(e.group, round(e.forecast_seconds), e.kept) for e in plan.entries]
    [('knn', 1000, False), ('ecod', 1, True)]
    """

    entries: list[PlanEntry]
    specs: tuple[str, ...]
    n_rows: int
    time_budget: float
    #: Seconds all probing took, the budget it had, and the warm-up seconds (first runs and
    #: tiny probes) it took without charging them to the budget.
    probe_seconds: float = 0.0
    probe_budget: float = 0.0
    warmup_seconds: float = 0.0
    _labels: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._labels = {parse_detector_spec(s).label: s for s in self.specs}

    @property
    def kept_specs(self) -> tuple[str, ...]:
        """The specs that run, in their given order."""
        kept = {label for e in self.entries if e.kept for label in e.labels}
        return tuple(spec for label, spec in self._labels.items() if label in kept)

    def rows(self) -> list[tuple[str, str, str, str, str, str]]:
        """Plain rows: detectors, forecast, conservative forecast, probing, plan, reason."""
        return [
            (
                ", ".join(e.labels),
                f"{e.forecast_seconds:.1f} s",
                f"{e.upper_seconds:.1f} s",
                f"{e.probe_time:.1f} s up to {max(e.probe_sizes, default=0):,} rows",
                "kept" if e.kept else "dropped",
                e.reason,
            )
            for e in self.entries
        ]

    def to_table(self) -> Table:
        """The plan as a rich table for the terminal."""
        table = Table(
            title=f"Run plan: {self.n_rows:,} rows, budget {self.time_budget:g} s per detector; "
            f"probing took {self.probe_seconds:.1f} s ({self.warmup_seconds:.1f} s warm-up, "
            f"then a budget of {self.probe_budget:.1f} s)"
        )
        columns = ("detector(s)", "forecast", "upper", "probing", "plan", "reason")
        for column in columns:
            table.add_column(column, justify="right" if column in columns[1:3] else "left")
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
    costs: Sequence[GroupCost],
    specs: Sequence[str],
    *,
    n_rows: int,
    time_budget: float,
    probe_seconds: float = 0.0,
    probe_budget: float = 0.0,
) -> Plan:
    """Keep the groups whose conservative forecast fits ``time_budget``.

    If none fits, the cheapest group is kept anyway (with a note): a run with no detector
    finds nothing. See :class:`Plan` for an example.
    """
    entries = [_entry(c, time_budget) for c in costs]
    if entries and not any(e.kept for e in entries):
        cheapest = min(range(len(entries)), key=lambda i: entries[i].upper_seconds)
        entries[cheapest] = replace(
            entries[cheapest],
            kept=True,
            reason="kept anyway: every forecast exceeds the budget and this one is the cheapest",
        )
    return Plan(entries, tuple(specs), n_rows, time_budget, probe_seconds, probe_budget)


def _entry(cost: GroupCost, time_budget: float) -> PlanEntry:
    forecast, upper = cost.forecast(), cost.upper()
    kept = upper <= time_budget
    if kept:
        reason = f"within budget of {time_budget:g} s"
    elif forecast <= time_budget:
        reason = f"uncertain: could exceed the budget of {time_budget:g} s"
    else:
        reason = f"over budget of {time_budget:g} s"
    return PlanEntry(
        cost.labels,
        cost.group,
        forecast,
        upper,
        kept,
        reason,
        cost.describe(),
        cost.probe_sizes,
        cost.probe_seconds,
        cost.probe_time,
        cost.parts,
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
    settings = _Settings(n_neighbors, metric, random_state, dict(detector_params or {}))
    n = data.shape[0]
    groups = [
        _Prober(labels, group, runner, runner.sizes(_probe_sizes(n, sizes)))
        for labels, group, runner in _groups(parsed, n, settings)
    ]
    started = time.perf_counter()
    rng = np.random.default_rng(random_state)
    warming = _probe_within(groups, data, budget, time_budget, rng)
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


def _probe_sizes(n: int, sizes: Sequence[int] | None) -> list[int]:
    if sizes is not None:
        chosen = sorted({min(int(s), n) for s in sizes if s > 1})
    else:
        size = min(_FIRST_PROBE, max(2, n // 8))
        chosen = []
        while size < n and size <= _LARGEST_PROBE:
            chosen.append(size)
            size *= _GROWTH
        if n <= _LARGEST_PROBE:
            chosen.append(n)  # the run itself, when it is cheap enough to probe
    if not chosen:
        raise ConfigError(f"no probe size fits {n} rows")
    return chosen


@dataclass(frozen=True)
class _Settings:
    """The ensemble's shared settings, which every probed detector must be built with."""

    n_neighbors: int
    metric: str
    random_state: int
    detector_params: dict[str, Mapping[str, Any]]

    def make(self, spec: DetectorSpec) -> Detector:
        """The detector as :class:`DetectorEnsemble` builds it."""
        cls = detector_class(spec.name)
        params: dict[str, Any] = {**spec.params, **self.detector_params.get(spec.label, {})}
        if cls.uses_neighbors:
            params.setdefault("n_neighbors", self.n_neighbors)
            params.setdefault("metric", self.metric)
        if "random_state" in inspect.signature(cls.__init__).parameters:
            params.setdefault("random_state", self.random_state)
        return make_detector(spec.name, **params)


class _Runner(Protocol):
    def sizes(self, wanted: Sequence[int]) -> list[int]: ...

    def measure(self, sub: Matrix, tiny: bool = False) -> dict[str, float]: ...

    def parts(
        self, sizes: Sequence[int], records: Sequence[dict[str, float]]
    ) -> list[CostPart]: ...


def _groups(
    specs: Sequence[DetectorSpec], n: int, settings: _Settings
) -> list[tuple[tuple[str, ...], str, _Runner]]:
    """(labels, group, runner) per group, the neighbour group where its first member sits."""
    made = {s.label: (s, settings.make(s)) for s in specs}
    shared = [
        label
        for label, (_, det) in made.items()
        if det.uses_neighbors and getattr(det, "metric", None) == settings.metric
    ]
    groups: list[tuple[tuple[str, ...], str, _Runner]] = []
    for label, (spec, det) in made.items():
        if label not in shared:
            groups.append(((label,), label, _DetectorRunner(spec, det, n, settings)))
        elif label == shared[0]:
            members = tuple(made[x][0] for x in shared)
            k = max(int(getattr(made[x][1], "n_neighbors", 1)) for x in shared)
            groups.append((tuple(shared), NEIGHBOR_GROUP, _GraphRunner(members, n, k, settings)))
    return groups


def _learning_cap(detector: Detector) -> int | None:
    """Most rows ``detector`` learns from, when it says so (``fit_sample_rows``, int
    ``max_samples``); it scores every row all the same."""
    for name in _CAP_ATTRS:
        value = getattr(detector, name, None)
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0:
            return int(value)
    return None


@dataclass(frozen=True)
class _DetectorRunner:
    """Times ``fit`` and ``score`` of one detector, in the solver regime of the full run."""

    spec: DetectorSpec
    detector: Detector
    n: int
    settings: _Settings

    def sizes(self, wanted: Sequence[int]) -> list[int]:
        return list(wanted)

    def make(self, tiny: bool = False) -> Detector:
        """The detector, on the solver of the full run unless ``tiny`` (warm-up runs, where
        an approximate solver made for 100,000s of rows costs more than the exact one)."""
        det = self.settings.make(self.spec)
        if tiny:
            return det
        cap = _learning_cap(det)
        learn_rows = self.n if cap is None else min(self.n, cap)
        max_exact = getattr(det, _EXACT_ATTR, None)
        if isinstance(max_exact, int) and learn_rows > max_exact:
            setattr(det, _EXACT_ATTR, 1)  # the approximate solver the full run will use
        return det

    def measure(self, sub: Matrix, tiny: bool = False) -> dict[str, float]:
        det = self.make(tiny)
        started = time.process_time()
        det.fit(sub)
        fitted = time.process_time()
        rows = min(sub.shape[0], _UNIT_ROWS)
        det.score(sub[:rows])
        # Scaled to the probe's rows: the share of fit that scoring the training rows takes.
        scored = (time.process_time() - fitted) * sub.shape[0] / rows
        return {"fit": fitted - started, "score": scored}

    def parts(self, sizes: Sequence[int], records: Sequence[dict[str, float]]) -> list[CostPart]:
        # Fit scores the training rows itself: its learning is what is left after scoring.
        score = [min(r["score"], r["fit"]) for r in records]
        learn = [max(r["fit"] - s, 1e-3 * r["fit"]) for r, s in zip(records, score, strict=True)]
        cap = _learning_cap(self.detector)
        learn_rows = [m if cap is None else min(m, cap) for m in sizes]
        return [
            CostPart(
                "learn",
                tuple(learn_rows),
                tuple(learn),
                self.n if cap is None else min(self.n, cap),
                exponent_range=LEARN_RANGE,
                # One probe cannot tell fixed from growing cost: the point guess is between
                # (~sqrt); decisions assume all of it grows at least linearly.
                single_exponent=0.5,
                upper_floor=1.0,
                overhead=True,
            ),
            _per_unit("score", sizes, score, self.n, self.n, (*PER_ROW_RANGE, 0.0)),
        ]


def _per_unit(
    name: str,
    sizes: Sequence[int],
    seconds: Sequence[float],
    full_size: int,
    units: int,
    exponents: tuple[float, float, float],
) -> CostPart:
    """A part charged per row or per query: seconds divided by the probe's rows.

    ``exponents`` is (low, high, guess for a single probed size) of the per-unit cost.
    """
    per = tuple(t / m for t, m in zip(seconds, sizes, strict=True))
    low, high, single = exponents
    return CostPart(name, tuple(sizes), per, full_size, units, (low, high), single, low)


@dataclass(frozen=True)
class _GraphRunner:
    """Times the shared graph as ``build_graph`` will make it at the full size (same method)
    on reference samples of growing size, and the neighbour detectors fitted on it.

    The full run indexes ``n_reference`` rows (all, or a 100,000-row sample above 200,000)
    and searches all ``n`` rows against them; a probe indexes ``r`` rows and searches each of
    them (its self graph), which times the build at ``r`` and the search per query at ``r``.
    """

    members: tuple[DetectorSpec, ...]
    n: int
    k: int
    settings: _Settings

    @property
    def n_reference(self) -> int:
        sampled = self.n > max(_REFERENCE_THRESHOLD, _REFERENCE_SIZE)
        return _REFERENCE_SIZE if sampled else self.n

    @property
    def method(self) -> str:
        return "exact" if self.n * self.n_reference <= _EXACT_THRESHOLD**2 else "ivf"

    def sizes(self, wanted: Sequence[int]) -> list[int]:
        return sorted({min(s, self.n_reference) for s in wanted})

    def measure(self, sub: Matrix, tiny: bool = False) -> dict[str, float]:
        k = max(1, min(self.k, sub.shape[0] - 1))
        started = time.process_time()
        index = NeighborIndex(
            metric=self.settings.metric,
            method=self.method,
            tune_k=k,
            random_state=self.settings.random_state,
        ).fit(sub)
        built = time.process_time()
        r = sub.shape[0]
        if r > _UNIT_ROWS:  # the search per query, on some rows; the detectors need them all
            rows = np.sort(np.random.default_rng(r).choice(r, _UNIT_ROWS, replace=False))
            index.search_excluding(lambda start, stop: sub[rows[start:stop]], rows, k)
            return {
                "build": built - started,
                "search": (time.process_time() - built) * r / len(rows),
            }
        graph = index.self_graph(k)
        searched = time.process_time()
        for spec in self.members:
            self.settings.make(spec).fit(sub, graph=graph)
        return {
            "build": built - started,
            "search": searched - built,
            "detectors": time.process_time() - searched,
        }

    def parts(self, sizes: Sequence[int], records: Sequence[dict[str, float]]) -> list[CostPart]:
        low, high, single = _BUILD_EXPONENTS[self.method]
        build = CostPart(
            "build",
            tuple(sizes),
            tuple(r["build"] for r in records),
            self.n_reference,
            exponent_range=(low, high),
            single_exponent=single,
            upper_floor=low,
        )
        search = [r["search"] for r in records]
        parts = [
            build,
            _per_unit(
                "search", sizes, search, self.n_reference, self.n, _QUERY_EXPONENTS[self.method]
            ),
        ]
        fitted = [
            (m, r["detectors"]) for m, r in zip(sizes, records, strict=True) if "detectors" in r
        ]
        if fitted:  # timed on probes of up to _UNIT_ROWS rows (the smallest always are)
            sizes_fitted, seconds = zip(*fitted, strict=True)
            parts.append(
                _per_unit("detectors", sizes_fitted, seconds, self.n, self.n, (*PER_ROW_RANGE, 0.0))
            )
        return parts


@dataclass
class _Prober:
    """The probes of one group so far, and the sizes still to try.

    Parts are timed in CPU seconds (all threads of the process), which a busy machine barely
    disturbs, so the shape of the cost is fitted on steady numbers; the group's wall seconds
    per CPU second over its runs (its parallelism and the machine's contention, the largest
    runs weighing most) turn the forecast back into wall seconds.
    """

    labels: tuple[str, ...]
    group: str
    runner: _Runner
    pending: list[int]
    sizes: list[int] = field(default_factory=list)
    records: list[dict[str, float]] = field(default_factory=list)
    #: Wall and CPU seconds of each recorded probe.
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    #: The warm-up's tiny probe: (rows, CPU seconds per part, wall, CPU).
    warm: list[tuple[int, dict[str, float], float, float]] = field(default_factory=list)
    #: Wall and CPU seconds of every run but the first (which pays one-off costs).
    wall_total: float = 0.0
    cpu_total: float = 0.0
    spent: float = 0.0

    def _run(
        self, sub: Matrix, count: bool = True, tiny: bool = False
    ) -> tuple[dict[str, float], float, float]:
        """(CPU seconds per part, wall seconds, CPU seconds) of one run."""
        started, cpu_started = time.perf_counter(), time.process_time()
        record = self.runner.measure(sub, tiny)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        self.spent += wall
        if count:
            self.wall_total += wall
            self.cpu_total += cpu
        return record, wall, cpu

    def prime(self, data: Matrix, rng: np.random.Generator) -> None:
        """A first tiny run pays for lazy imports, thread pools and compilation (which the
        run would pay otherwise); it is not timed as a probe."""
        self._run(_subsample(data, min(data.shape[0], _PRIME_ROWS), rng), False, True)

    def warm_up(self, data: Matrix, rng: np.random.Generator) -> None:
        """A tiny probe: it tells how much the first real probe will cost, and stands in for
        it when none is affordable."""
        size = min(data.shape[0], _WARMUP_ROWS)
        self.warm.append((size, *self._run(_subsample(data, size, rng), True, True)))

    def step(self, data: Matrix, rng: np.random.Generator) -> None:
        """Probe the next size (the median of three runs when short)."""
        size = self.pending.pop(0)
        sub = _subsample(data, size, rng)
        runs = [self._run(sub)]
        while len(runs) < 3 and runs[0][2] < _REPEAT_BELOW_SECONDS:
            runs.append(self._run(sub))
        runs.sort(key=lambda r: r[2])
        self._record(size, *runs[len(runs) // 2])

    def _record(self, size: int, record: dict[str, float], wall: float, cpu: float) -> None:
        self.sizes.append(size)
        self.records.append(record)
        self.walls.append(wall)
        self.cpus.append(cpu)

    @property
    def wall_per_cpu(self) -> float:
        return self.wall_total / self.cpu_total if self.cpu_total > 0 else 1.0

    def expected_next(self) -> float:
        """Wall seconds the next probe is expected to take: at least linear growth from the
        probes so far (or the warm-up's tiny probe)."""
        if self.sizes:
            law = fit_power_law(self.sizes, self.cpus, (1.0, 1.5))
        elif self.warm:
            law = fit_power_law([w[0] for w in self.warm], [w[3] for w in self.warm], (1.0, 1.5))
        else:
            return 0.0
        return law(self.pending[0]) * self.wall_per_cpu

    def cost(self) -> GroupCost:
        if not self.sizes:
            for warm in self.warm:
                self._record(*warm)
        parts = tuple(self.runner.parts(self.sizes, self.records))
        return GroupCost(
            self.labels,
            self.group,
            parts,
            tuple(self.sizes),
            tuple(self.walls),
            self.spent,
            self.wall_per_cpu,
        )


def _subsample(data: Matrix, size: int, rng: np.random.Generator) -> Matrix:
    n = data.shape[0]
    return data if size >= n else data[np.sort(rng.choice(n, size, replace=False))]


def _probe_within(
    groups: Sequence[_Prober],
    data: Matrix,
    budget: float,
    time_budget: float,
    rng: np.random.Generator,
) -> float:
    """Warm every group up, then probe growing sizes in rounds while each probe is expected
    to fit the group's share of ``budget`` left; a group stops at its first miss.

    The warm-up is a tiny untimed run, a tiny timed one, and the first probe size unless
    that is expected to take longer than ``time_budget`` (the group is then over budget
    anyway). It is not charged to ``budget``; its seconds are returned.
    """
    with warnings.catch_warnings():
        # Subsamples make detectors clamp parameters and warn; the full run warns for real.
        warnings.simplefilter("ignore")
        warming = time.perf_counter()
        for g in groups:
            g.prime(data, rng)
        for g in groups:
            g.warm_up(data, rng)
            if g.pending and g.expected_next() <= time_budget:
                g.step(data, rng)
        started = time.perf_counter()
        while active := sorted((g for g in groups if g.pending), key=_Prober.expected_next):
            for left, g in enumerate(active):
                # The cheapest first: what they leave is shared among the dearer ones.
                share = (budget - (time.perf_counter() - started)) / (len(active) - left)
                if g.expected_next() > share:
                    g.pending.clear()
                else:
                    g.step(data, rng)
    return started - warming


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
