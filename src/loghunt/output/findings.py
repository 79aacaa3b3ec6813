"""The findings table: one row per event, ranked, with scores, votes, flag and reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from loghunt.ensemble.combine import Agreement
from loghunt.ensemble.planner import Plan
from loghunt.evaluate.metrics import Metrics

if TYPE_CHECKING:
    import pandas as pd

RANK = "rank"
COMBINED = "combined_score"
VOTES = "votes"
FLAGGED = "flagged"
REASONS = "reasons"
#: list of struct {kind, field, value, typical, score, text}, strongest first (loghunt.explain).
REASON_DETAILS = "reason_details"
#: list of event ids of the nearest unflagged events.
NEAREST_NORMAL = "nearest_normal"
#: sha256 of the model version and the event id, short hex (loghunt.explain.ids).
FINDING_ID = "finding_id"
#: True where an analyst's suppression rule unflagged the event; the rule's id beside it.
SUPPRESSED = "suppressed"
SUPPRESSED_BY = "suppressed_by"
RAW_PREFIX = "score."
NORM_PREFIX = "norm."


@dataclass
class Findings:
    """Scored events, most anomalous first.

    ``table`` columns: ``rank``, ``event_id``, the raw event's key fields, ``score.<detector>``
    (raw, higher = more anomalous), ``norm.<detector>`` (percentile among the baseline in
    [0, 1]), ``votes``, ``combined_score``, ``flagged``, ``reasons`` (short text),
    ``reason_details`` and ``nearest_normal`` (null for events that were neither flagged nor
    among the top ones explained), ``finding_id``, ``suppressed`` and ``suppressed_by``.
    """

    table: pl.DataFrame
    detectors: list[str]
    threshold: float
    metrics: list[Metrics] = field(default_factory=list)
    agreement: Agreement | None = None
    n_dead_letters: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    #: Seconds per detector label (and the shared neighbour graph) while fitting.
    detector_seconds: dict[str, float] = field(default_factory=dict)
    #: The runtime plan, when a time budget was set.
    plan: Plan | None = None
    #: Named cuts of the combined score: contamination, budget, best_f1 (with labels).
    thresholds: dict[str, float] = field(default_factory=dict)
    #: Precision, recall and F1 at several cuts (loghunt.ensemble.thresholds), with labels.
    pr_table: pl.DataFrame | None = None
    #: Findings unflagged by analysts' suppression rules, and warnings (expired rules).
    n_suppressed: int = 0
    suppression_warnings: list[str] = field(default_factory=list)
    #: loghunt version + hash of the model settings; part of every finding id.
    model_version: str = ""
    #: The ground-truth column and the expected share of anomalies of the run, for reports.
    labels: str | None = None
    contamination: float | None = None

    def __len__(self) -> int:
        return self.table.height

    @property
    def n_flagged(self) -> int:
        return int(self.table.get_column(FLAGGED).sum())

    def top(self, n: int = 20) -> pl.DataFrame:
        """The ``n`` highest-ranked events."""
        return self.table.head(n)

    def flagged(self) -> pl.DataFrame:
        """Only the events over the threshold."""
        return self.table.filter(pl.col(FLAGGED))

    def to_pandas(self) -> pd.DataFrame:
        return self.table.to_pandas()

    def summary(self) -> dict[str, Any]:
        """Counts and metrics as plain values, for metrics.json and logs."""
        return {
            "n_events": self.table.height,
            "n_flagged": self.n_flagged,
            "n_dead_letters": self.n_dead_letters,
            "threshold": self.threshold,
            "thresholds": self.thresholds,
            "n_suppressed": self.n_suppressed,
            "suppression_warnings": self.suppression_warnings,
            "model_version": self.model_version,
            "labels": self.labels,
            "contamination": self.contamination,
            "detectors": self.detectors,
            "metrics": [m.to_dict() for m in self.metrics],
            "agreement": None if self.agreement is None else self.agreement.to_dict(),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "detector_seconds": {k: round(v, 3) for k, v in self.detector_seconds.items()},
        }
