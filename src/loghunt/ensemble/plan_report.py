"""The plan: keep-or-drop per detector group, printed before a run and compared with it after.

:func:`make_plan` turns probed costs (:mod:`loghunt.ensemble.plan_costs`) into a
:class:`Plan`; :meth:`Plan.compare` sets the forecasts beside the seconds the run took.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from rich.table import Table

from loghunt.ensemble.ensemble import GRAPH_LABEL
from loghunt.ensemble.plan_costs import NEIGHBOR_GROUP, CostPart, GroupCost
from loghunt.ensemble.presets import parse_detector_spec


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
        :func:`~loghunt.ensemble.planner.timed_fit` returns them; a group's actual time is
        the sum over its members.
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
