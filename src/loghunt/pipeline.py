"""The Pipeline: normalise -> featurize -> detect -> combine -> threshold -> findings.

One object that every front end uses (CLI, library, later the service and Spark).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.ensemble.combine import agreement, combine_scores, count_votes
from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.ensemble.normalize import percentile_scores, robust_z_scores
from loghunt.ensemble.planner import Plan, plan_detectors
from loghunt.ensemble.thresholds import ContaminationThreshold
from loghunt.errors import ConfigError, NotFittedError
from loghunt.evaluate.metrics import Metrics, evaluate
from loghunt.features import Featurizer
from loghunt.output.findings import (
    COMBINED,
    FLAGGED,
    NORM_PREFIX,
    RANK,
    RAW_PREFIX,
    REASONS,
    VOTES,
    Findings,
)
from loghunt.schema import normalize, ocsf
from loghunt.schema.roles import infer_roles

NORMALIZATIONS = {"percentile": percentile_scores, "robust_z": robust_z_scores}
# Chosen by measurement (docs/detection.md): k-NN distance and ECOD were the best pair on the
# demo scenarios and the real OTRF CloudTrail; adding LOF or Isolation Forest lowered both.
DEFAULT_DETECTORS = ("knn", "ecod")
# Values of a text label column that mean "normal" (BGL uses "-").
_NORMAL_LABELS = frozenset({"", "-", "0", "false", "normal", "benign", "none", "no"})
_KEY_FIELDS = (
    ocsf.TIME,
    ocsf.USER_NAME,
    ocsf.USER_TYPE,
    ocsf.OPERATION,
    ocsf.SERVICE,
    ocsf.SRC_IP,
    ocsf.USER_AGENT,
    ocsf.REGION,
    ocsf.STATUS,
    ocsf.ERROR,
    ocsf.CLASS_UID,
    ocsf.SOURCE_FILE,
    ocsf.SOURCE_LINE,
)
_N_REASON_FEATURES = 3


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that decides a pipeline's behaviour; saved with a fitted model."""

    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    #: Neighbours of k-NN and LOF; 40-75 was a plateau on every dataset measured
    #: (docs/detection.md), 20 let small groups of related attacker events hide together.
    n_neighbors: int = 50
    metric: str = "l2"
    contamination: float = 0.01
    combine: str = "mean"
    #: What the combined score averages: "robust_z" (clipped standardised scores; keeps how
    #: extreme an event is) or "percentile" (pure ranks). See docs/detection.md for evidence.
    normalization: str = "percentile"
    min_votes: int | None = None
    fields: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    labels: str | None = None
    entity_windows: bool = True
    #: Seconds each detector may take; when set, a plan forecasts every detector's time on
    #: subsamples first and drops those over it (see loghunt.ensemble.planner).
    time_budget: float | None = None
    random_state: int = 0
    detector_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self) -> PipelineConfig:
        if not 0.0 < self.contamination < 0.5:
            raise ConfigError(f"contamination must be in (0, 0.5), got {self.contamination}")
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(
                f"normalization must be one of {sorted(NORMALIZATIONS)}, got {self.normalization!r}"
            )
        if self.min_votes is not None and not 1 <= self.min_votes <= len(self.detectors):
            raise ConfigError(
                f"min_votes must be between 1 and {len(self.detectors)}, got {self.min_votes}"
            )
        return self


class Pipeline:
    """Hunt anomalous events in a table of logs.

    Examples
    --------
    >>> import polars as pl
    >>> from loghunt.synth import generate_cloudtrail_table
    >>> events = generate_cloudtrail_table(2_000, seed=1)
    >>> findings = Pipeline(labels="is_attack", exclude=("attack",)).fit(events).score(events)
    >>> findings.table.columns[:2]
    ['rank', 'event_id']
    """

    def __init__(self, config: PipelineConfig | None = None, **overrides: Any) -> None:
        self.config = replace(config or PipelineConfig(), **overrides)

    # -- public API ------------------------------------------------------------------------
    def fit(self, data: Any) -> Pipeline:
        """Learn the baseline from ``data`` (a polars or pandas DataFrame of events)."""
        self._fit(self._prepare(data))
        return self

    def score(self, data: Any) -> Findings:
        """Score events against the fitted baseline; returns ranked :class:`Findings`."""
        if not hasattr(self, "ensemble_"):
            raise NotFittedError("Pipeline is not fitted; call fit first")
        events = self._prepare(data)
        with self._timed("featurize"):
            X = self.featurizer_.transform(events)
        with self._timed("detect"):
            # Scoring the training data itself: use the leave-self-out training scores, since a
            # fresh search would find each event as its own nearest neighbour.
            if _fingerprint(X) == self.train_fingerprint_:
                raw = self.ensemble_.train_scores_
            else:
                raw = self.ensemble_.score(X)
        return self._findings(events, X, raw)

    def fit_score(self, data: Any) -> Findings:
        """Fit on ``data`` and score the same events (the usual hunt), featurizing once."""
        events = self._prepare(data)
        X = self._fit(events)
        return self._findings(events, X, self.ensemble_.train_scores_)

    # -- steps -----------------------------------------------------------------------------
    def _fit(self, events: pl.DataFrame) -> NDArray[np.float32]:
        """Fit every step on normalised events; returns their feature matrix."""
        cfg = self.config.check()
        self.timings_: dict[str, float] = {}
        with self._timed("featurize"):
            self.featurizer_ = Featurizer(
                fields=list(cfg.fields) if cfg.fields else None,
                exclude=self._excluded(),
                entity_windows=cfg.entity_windows,
                random_state=cfg.random_state,
            )
            X = self.featurizer_.fit_transform(events)
        detectors = cfg.detectors
        self.plan_: Plan | None = None
        if cfg.time_budget is not None:
            with self._timed("plan"):
                self.plan_ = plan_detectors(
                    X,
                    detectors,
                    n_neighbors=cfg.n_neighbors,
                    metric=cfg.metric,
                    time_budget=cfg.time_budget,
                    random_state=cfg.random_state,
                )
            detectors = self.plan_.kept_specs
        with self._timed("detect"):
            self.ensemble_ = DetectorEnsemble(
                detectors, cfg.n_neighbors, cfg.metric, cfg.random_state, cfg.detector_params
            ).fit(X)
        train = self.ensemble_.train_scores_
        combined = combine_scores(self._normalized(train, cfg.normalization), cfg.combine)
        self.threshold_ = ContaminationThreshold(cfg.contamination).fit(combined)
        self.train_fingerprint_ = _fingerprint(X)
        return X

    def _prepare(self, data: Any) -> pl.DataFrame:
        if not isinstance(data, pl.DataFrame):
            try:
                data = pl.from_pandas(data)
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"expected a polars or pandas DataFrame, got {type(data).__name__}"
                ) from exc
        if data.height < 2:
            raise ConfigError(f"need at least 2 events to hunt, got {data.height}")
        return normalize(data)

    def _excluded(self) -> list[str]:
        label = [self.config.labels] if self.config.labels else []
        return [*self.config.exclude, *label]

    def _normalized(
        self, raw: dict[str, NDArray[np.float64]], method: str = "percentile"
    ) -> NDArray[np.float64]:
        """Each detector's scores relative to its own training scores, one column each."""
        train = self.ensemble_.train_scores_
        scale = NORMALIZATIONS[method]
        return np.column_stack([scale(train[n], raw[n]) for n in raw])

    def _findings(
        self, events: pl.DataFrame, X: NDArray[np.float32], raw: dict[str, NDArray[np.float64]]
    ) -> Findings:
        cfg = self.config
        norm = self._normalized(raw)
        combined = combine_scores(self._normalized(raw, cfg.normalization), cfg.combine)
        votes = count_votes(norm, cfg.contamination)
        if cfg.min_votes is None:
            flags = self.threshold_.flag(combined)
        else:
            flags = votes >= cfg.min_votes
        names = list(raw)
        columns: dict[str, Any] = {}
        for i, name in enumerate(names):
            columns[RAW_PREFIX + name] = raw[name]
            columns[NORM_PREFIX + name] = norm[:, i]
        table = (
            self._key_fields(events)
            .with_columns(
                **{k: pl.Series(v) for k, v in columns.items()},
                **{VOTES: pl.Series(votes), COMBINED: pl.Series(combined)},
                **{FLAGGED: pl.Series(flags), REASONS: self._reasons(X)},
            )
            .sort(COMBINED, descending=True, maintain_order=True)
            .with_row_index(RANK, offset=1)
        )
        metrics = self._metrics(events, raw, norm, combined, flags, votes)
        return Findings(
            table=table,
            detectors=names,
            threshold=float(self.threshold_.threshold_),
            metrics=metrics,
            agreement=agreement(raw, cfg.contamination) if len(names) > 1 else None,
            timings=dict(self.timings_),
            detector_seconds=dict(self.ensemble_.fit_seconds_),
            plan=self.plan_,
        )

    def _key_fields(self, events: pl.DataFrame) -> pl.DataFrame:
        roles = infer_roles(events.columns)
        wanted = [ocsf.EVENT_ID, *_KEY_FIELDS, *roles.columns()]
        if self.config.labels and self.config.labels in events.columns:
            wanted.append(self.config.labels)
        wanted += [c for c in self.config.exclude if c in events.columns]
        present = list(dict.fromkeys(c for c in wanted if c in events.columns))
        return events.select(present)

    def _reasons(self, X: NDArray[np.float32]) -> pl.Series:
        """The features that stand out most for each event (a first, cheap explanation)."""
        names = np.asarray(self.featurizer_.feature_names_)
        k = min(_N_REASON_FEATURES, X.shape[1])
        magnitude = np.abs(X)
        top = np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(magnitude, top, axis=1), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        values = np.take_along_axis(X, top, axis=1)
        parts = pl.DataFrame(
            {f"n{j}": names[top[:, j]] for j in range(k)}
            | {f"v{j}": values[:, j].round(2) for j in range(k)}
        )
        each = [pl.format("{}={}", pl.col(f"n{j}"), pl.col(f"v{j}")) for j in range(k)]
        return parts.select(pl.concat_str(each, separator="; ").alias(REASONS)).to_series()

    def _metrics(
        self,
        events: pl.DataFrame,
        raw: dict[str, NDArray[np.float64]],
        norm: NDArray[np.float64],
        combined: NDArray[np.float64],
        flags: NDArray[np.bool_],
        votes: NDArray[np.int64],
    ) -> list[Metrics]:
        label = self.config.labels
        if not label or label not in events.columns:
            return []
        truth = labels_to_bool(events.get_column(label))
        cut = 1.0 - self.config.contamination
        per_detector = [
            evaluate(name, raw[name], norm[:, i] >= cut, truth) for i, name in enumerate(raw)
        ]
        return [
            *per_detector,
            evaluate("votes", votes.astype(np.float64), flags, truth),
            evaluate("ensemble", combined, flags, truth),
        ]

    @contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings_[step] = self.timings_.get(step, 0.0) + time.perf_counter() - start


def labels_to_bool(column: pl.Series) -> NDArray[np.bool_]:
    """Anomaly labels as booleans: true/1/any non-normal text (BGL's "-" is normal)."""
    if column.dtype == pl.Boolean:
        return column.fill_null(False).to_numpy().astype(bool)
    if column.dtype.is_numeric():
        return (column.fill_null(0) != 0).to_numpy().astype(bool)
    text = column.cast(pl.Utf8).fill_null("").str.strip_chars().str.to_lowercase()
    return (~text.is_in(list(_NORMAL_LABELS))).to_numpy().astype(bool)


def _fingerprint(X: NDArray[np.float32]) -> str:
    return hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()


__all__ = ["DEFAULT_DETECTORS", "Pipeline", "PipelineConfig", "labels_to_bool"]
