"""The Pipeline: normalise -> featurize -> detect -> combine -> threshold -> findings.

One object that every front end uses (CLI, library, later the service and Spark).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.ensemble.combine import agreement, combine_scores, count_votes
from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.ensemble.normalize import percentile_scores, robust_z_scores, self_percentiles
from loghunt.ensemble.planner import Plan, plan_detectors
from loghunt.ensemble.presets import DEFAULT_N_NEIGHBORS
from loghunt.ensemble.thresholds import (
    BestF1Threshold,
    ContaminationThreshold,
    apply_threshold,
    parse_budget,
    precision_recall_table,
)
from loghunt.errors import ConfigError, NotFittedError
from loghunt.evaluate.metrics import Metrics, evaluate
from loghunt.explain import Explainer, Suppressions, finding_ids, model_version
from loghunt.features import Featurizer
from loghunt.features.timefeat import to_utc_datetime
from loghunt.output.findings import (
    COMBINED,
    FINDING_ID,
    FLAGGED,
    NORM_PREFIX,
    RANK,
    RAW_PREFIX,
    SUPPRESSED,
    SUPPRESSED_BY,
    VOTES,
    Findings,
)
from loghunt.schema import normalize, ocsf
from loghunt.schema.roles import infer_roles

if TYPE_CHECKING:
    from loghunt.embed import Embedder, EmbeddingChecks

NORMALIZATIONS = {"percentile": percentile_scores, "robust_z": robust_z_scores}
SPACES = ("features", "embedding")
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
#: Findings tables of more events than this are sorted on several threads.
_PARALLEL_SORT_ROWS = 100_000
# Settings that only move the threshold: they leave the model, hence finding ids, unchanged.
_THRESHOLD_SETTINGS = ("contamination", "min_votes", "labels", "budget", "explain_top")


#: Per thread, the timings of the pipeline call in progress: (id of the pipeline, steps).
_call = threading.local()


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that decides a pipeline's behaviour; saved with a fitted model."""

    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    n_neighbors: int = DEFAULT_N_NEIGHBORS
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
    #: Alert budget instead of the contamination cut: "20/day" (per calendar day) or "50".
    budget: str | None = None
    #: Besides flagged events, explain this many of the highest-scored ones.
    explain_top: int = 100
    #: What the detectors read: "features" (the Featurizer's matrix) or "embedding" (a
    #: TabularResNet trained on the events without labels; pip install 'loghunt[embed]').
    #: Features stay the default: the default ensemble scored higher on features on every
    #: dataset measured (docs/embeddings.md).
    space: str = "features"
    #: Keyword arguments of loghunt.embed.Embedder (dim, max_epochs, ...) for "embedding".
    embed_params: dict[str, Any] = field(default_factory=dict)
    #: Most training rows the neighbour index keeps (a random sample above it); None: every
    #: row up to 200,000, a 100,000-row sample above. A service's store can hold them all.
    reference_size: int | None = None

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
        if self.budget is not None:
            parse_budget(self.budget)
        if self.space not in SPACES:
            raise ConfigError(f"space must be one of {list(SPACES)}, got {self.space!r}")
        if self.reference_size is not None and self.reference_size < 2:
            raise ConfigError(f"reference_size must be at least 2, got {self.reference_size}")
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

    def score(
        self, data: Any, learn: bool = False, suppress: Suppressions | None = None
    ) -> Findings:
        """Score events against the fitted baseline; returns ranked :class:`Findings`.

        ``learn=True`` then adds the events that were not flagged to the neighbour reference
        (novelty mode, see :meth:`learn`); flagged events are never learned. ``suppress``:
        analysts' rules that unflag known-benign findings (:mod:`loghunt.explain.suppress`).
        """
        findings, X, decided = self._score(data, suppress)
        if learn:
            self.learn_rows(X[~decided])
        return findings

    def score_unlearned(
        self, data: Any, suppress: Suppressions | None = None
    ) -> tuple[Findings, NDArray[np.float32], NDArray[np.bool_]]:
        """:meth:`score` without learning, plus what ``learn=True`` would add: the rows of
        the events the scores did not flag (in the detectors' space, for :meth:`learn_rows`
        to add later) and which events they are (a mask in input order).

        Scoring only reads the fitted state, so a service may score batches side by side and
        learn their rows one at a time under its own lock.
        """
        findings, X, decided = self._score(data, suppress)
        normal = ~decided
        return findings, X[normal], normal

    def _score(
        self, data: Any, suppress: Suppressions | None
    ) -> tuple[Findings, NDArray[np.float32], NDArray[np.bool_]]:
        """The findings, the events' rows in the detectors' space and the scores' flags."""
        self._check_fitted()
        self._start_timings()
        # One event is enough to score against a fitted baseline (the service scores singles).
        events = self._prepare(data, min_events=1)
        with self._timed("featurize"):
            features = self.featurizer_.transform(events)
        X = self._to_space(events, features)
        with self._timed("detect"):
            # Scoring the training data itself: use the leave-self-out training scores, since a
            # fresh search would find each event as its own nearest neighbour.
            if _fingerprint(X) == self.train_fingerprint_:
                raw = self.ensemble_.train_scores_
            else:
                raw = self.ensemble_.score(X)
        findings, decided = self._findings_and_flags(events, X, raw, suppress, features)
        return findings, X, decided

    def learn(self, data: Any) -> int:
        """Novelty update: add ``data``'s events to the neighbour reference; returns how many.

        Give it only events judged normal (``score(data, learn=True)`` learns exactly the
        unflagged ones). Neighbour detectors (k-NN, LOF) then compare later events with them
        too; the other detectors, the score normalisation and the threshold keep what
        ``fit`` learned. Returns 0 when no detector keeps a reference set.
        """
        self._check_fitted()
        events = self._prepare(data, min_events=0)
        if events.height == 0:
            return 0
        return self.learn_rows(self._to_space(events, self.featurizer_.transform(events)))

    def fit_score(self, data: Any, suppress: Suppressions | None = None) -> Findings:
        """Fit on ``data`` and score the same events (the usual hunt), featurizing once."""
        events = self._prepare(data)
        features, X = self._fit(events)
        train = self.ensemble_.train_scores_
        return self._findings_and_flags(events, X, train, suppress, features)[0]

    # -- steps -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "ensemble_"):
            raise NotFittedError("Pipeline is not fitted; call fit first")

    def learn_rows(self, X: NDArray[np.float32], lists: NDArray[np.int64] | None = None) -> int:
        """Add rows already in the detectors' space (from :meth:`score_unlearned` or
        :meth:`learned_rows`) to the neighbour reference; returns how many. ``lists``: their
        IVF lists, as :meth:`learned_rows` gives them."""
        self._check_fitted()
        added = self.ensemble_.learn(X, lists)
        #: Rows learned since fit (novelty mode), the last ones of the index; saved.
        self.n_learned_ = getattr(self, "n_learned_", 0) + added
        return added

    def learned_rows(
        self, skip: int = 0, count: int | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64] | None] | None:
        """The rows learned since fit (``n_learned_``), in order, but the first ``skip`` and
        at most ``count``, with their IVF lists in the shared index (None when not IVF). With
        :meth:`learn_rows`, the model saved before them learns them again without
        featurizing: how an online store forgets its oldest events. None when the ensemble
        has no shared index to read them from."""
        self._check_fitted()
        return self.ensemble_.learned_rows(getattr(self, "n_learned_", 0), skip, count)

    def _fit(self, events: pl.DataFrame) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Fit every step on normalised events; returns their features and their rows in the
        detectors' space (the same matrix unless the detectors read embeddings)."""
        cfg = self.config.check()
        self._start_timings()
        with self._timed("featurize"):
            self.featurizer_ = Featurizer(
                fields=list(cfg.fields) if cfg.fields else None,
                exclude=self._excluded(),
                entity_windows=cfg.entity_windows,
                random_state=cfg.random_state,
            )
            X = self.featurizer_.fit_transform(events)
        features = X
        self.embedder_: Embedder | None = None
        self.embedding_checks_: EmbeddingChecks | None = None
        if cfg.space == "embedding":
            from loghunt.embed.space import fit_embedding  # torch only when asked for

            with self._timed("embed"):
                self.embedder_, X, self.embedding_checks_ = fit_embedding(
                    events, self.featurizer_, X, cfg.embed_params, cfg.random_state
                )
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
                    detector_params=cfg.detector_params,
                )
            detectors = self.plan_.kept_specs
        with self._timed("detect"):
            self.ensemble_ = DetectorEnsemble(
                detectors,
                cfg.n_neighbors,
                cfg.metric,
                cfg.random_state,
                cfg.detector_params,
                reference_size=cfg.reference_size,
                # The plan forecast each detector alone: side by side they would share cores.
                n_jobs=1 if self.plan_ is not None else None,
            ).fit(X)
        train = self.ensemble_.train_scores_
        combined = combine_scores(self._normalized(train, cfg.normalization), cfg.combine)
        self.threshold_ = ContaminationThreshold(cfg.contamination).fit(combined)
        with self._timed("explain"):
            self.explainer_ = Explainer(top=cfg.explain_top, random_state=cfg.random_state)
            self.explainer_.fit(self.featurizer_, features, events)
        self.train_fingerprint_ = _fingerprint(X)
        self.n_learned_ = 0
        return features, X

    def _to_space(self, events: pl.DataFrame, X: NDArray[np.float32]) -> NDArray[np.float32]:
        """The matrix the detectors read: ``X`` itself, or its events' embeddings."""
        embedder = getattr(self, "embedder_", None)
        if embedder is None:
            return X
        from loghunt.embed.space import embed_events

        with self._timed("embed"):
            return embed_events(embedder, events, X)

    def _prepare(self, data: Any, min_events: int = 2) -> pl.DataFrame:
        if not isinstance(data, pl.DataFrame):
            try:
                data = pl.from_pandas(data)
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"expected a polars or pandas DataFrame, got {type(data).__name__}"
                ) from exc
        if data.height < min_events:
            raise ConfigError(f"need at least {min_events} events to hunt, got {data.height}")
        return normalize(data)

    def _excluded(self) -> list[str]:
        label = [self.config.labels] if self.config.labels else []
        return [*self.config.exclude, *label]

    def _normalized(
        self, raw: dict[str, NDArray[np.float64]], method: str = "percentile"
    ) -> NDArray[np.float64]:
        """Each detector's scores relative to its own training scores, one column each."""
        if method == "percentile":
            if self._is_train(raw):  # fit_score normalises them twice
                return self._train_percentiles()
            reference = self._sorted_train_scores()
            return np.column_stack([percentile_scores(reference[n], raw[n], True) for n in raw])
        train = self.ensemble_.train_scores_
        scale = NORMALIZATIONS[method]
        return np.column_stack([scale(train[n], raw[n]) for n in raw])

    def _is_train(self, raw: dict[str, NDArray[np.float64]]) -> bool:
        """Whether ``raw`` is the ensemble's own training scores (leave-self-out)."""
        return raw is self.ensemble_.train_scores_

    def _train_percentiles(self) -> NDArray[np.float64]:
        """The training scores' percentiles among themselves (one sort each), cached."""
        train = self.ensemble_.train_scores_
        cached = getattr(self, "_train_norm", None)
        if cached is None or cached[0] is not train:
            pairs = {n: self_percentiles(v) for n, v in train.items()}
            cached = (train, np.column_stack([pct for pct, _ in pairs.values()]))
            self._train_norm = cached
            self._sorted_train = (train, {n: ordered for n, (_, ordered) in pairs.items()})
        return cached[1]

    def _sorted_train_scores(self) -> dict[str, NDArray[np.float64]]:
        """The ensemble's training scores sorted once (not per scored batch), per detector."""
        train = self.ensemble_.train_scores_
        cached = getattr(self, "_sorted_train", None)
        if cached is None or cached[0] is not train:
            cached = (train, {n: np.sort(np.asarray(v, np.float64)) for n, v in train.items()})
            self._sorted_train = cached
        return cached[1]

    def _findings_and_flags(
        self,
        events: pl.DataFrame,
        X: NDArray[np.float32],
        raw: dict[str, NDArray[np.float64]],
        suppress: Suppressions | None = None,
        features: NDArray[np.float32] | None = None,
    ) -> tuple[Findings, NDArray[np.bool_]]:
        """The findings, and the flags of the scores alone (before an alert budget and
        suppressions): the events that learning leaves out. ``features``: the events'
        featurized rows when ``X`` holds their embeddings (else featurized again)."""
        cfg = self.config
        norm, combined, votes, decided = self._decide(raw)
        version = self.model_version()
        ids = finding_ids(events.get_column(ocsf.EVENT_ID), version)
        triaged = self._triage(events, combined, votes, decided, ids, suppress)
        flags, suppressed_by, suppressed, cut = triaged
        with self._timed("explain"):
            explained = self._explain(events, X, raw, norm, combined, flags, features)
        names = list(raw)
        columns: dict[str, Any] = {}
        for i, name in enumerate(names):
            columns[RAW_PREFIX + name] = raw[name]
            columns[NORM_PREFIX + name] = norm[:, i]
        columns |= {VOTES: votes, COMBINED: combined, FLAGGED: flags, **explained}
        columns |= {FINDING_ID: ids, SUPPRESSED: suppressed, SUPPRESSED_BY: suppressed_by}
        big = events.height > _PARALLEL_SORT_ROWS
        table = (
            _with_columns(self._key_fields(events), [pl.Series(k, v) for k, v in columns.items()])
            # A live batch sorts faster on this thread than by waking polars' thread pool.
            .sort(COMBINED, descending=True, maintain_order=True, multithreaded=big)
            .with_row_index(RANK, offset=1)
        )
        metrics = self._metrics(events, raw, norm, combined, flags, votes)
        thresholds = {"contamination": float(self.threshold_.threshold_)}
        if cfg.budget:
            thresholds["budget"] = cut
        pr_table = self._precision_recall(events, combined, thresholds, flags)
        return Findings(
            table=table,
            detectors=names,
            threshold=cut,
            metrics=metrics,
            thresholds=thresholds,
            pr_table=pr_table,
            n_suppressed=int(suppressed.sum()),
            model_version=version,
            labels=cfg.labels if cfg.labels in events.columns else None,
            contamination=cfg.contamination,
            agreement=(
                # The training scores' percentiles are their ranks already (ties averaged).
                agreement(raw, cfg.contamination, norm if self._is_train(raw) else None)
                if len(names) > 1 and events.height > 1
                else None
            ),
            timings=dict(self._timings()),
            detector_seconds=dict(self.ensemble_.fit_seconds_),
            plan=self.plan_,
        ), decided

    def _decide(
        self, raw: dict[str, NDArray[np.float64]]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
        """Normalised scores, combined score, votes and flags of raw detector scores."""
        cfg = self.config
        norm = self._normalized(raw)
        if cfg.normalization != "percentile":  # else the columns just computed
            norm_for_combined = self._normalized(raw, cfg.normalization)
        else:
            norm_for_combined = norm
        combined = combine_scores(norm_for_combined, cfg.combine)
        votes = count_votes(norm, cfg.contamination)
        if cfg.min_votes is None:
            flags = self.threshold_.flag(combined)
        else:
            flags = votes >= cfg.min_votes
        return norm, combined, votes, flags

    def _key_fields(self, events: pl.DataFrame) -> pl.DataFrame:
        columns = set(events.columns)  # built once, not per lookup
        roles = infer_roles(events.columns)
        wanted = [ocsf.EVENT_ID, *_KEY_FIELDS, *roles.columns()]
        if self.config.labels and self.config.labels in columns:
            wanted.append(self.config.labels)
        wanted += [c for c in self.config.exclude if c in columns]
        present = list(dict.fromkeys(c for c in wanted if c in columns))
        return events[present]  # not select(): no query to plan for a few columns

    def model_version(self) -> str:
        """loghunt's version and a hash of the settings that shape the model (not thresholds)."""
        detectors = list(self.ensemble_.detectors_)
        # Hashed once per config object (frozen: a change of settings is a new object), not
        # once per scored batch.
        cached = getattr(self, "_version", None)
        if cached is not None and cached[0] is self.config and cached[1] == detectors:
            return str(cached[2])
        settings = dataclasses.asdict(self.config)
        for name in _THRESHOLD_SETTINGS:
            settings.pop(name, None)
        settings["detectors"] = detectors
        version = model_version(settings)
        self._version = (self.config, detectors, version)
        return version

    def _triage(
        self,
        events: pl.DataFrame,
        combined: NDArray[np.float64],
        votes: NDArray[np.int64],
        flags: NDArray[np.bool_],
        ids: pl.Series,
        suppress: Suppressions | None,
    ) -> tuple[NDArray[np.bool_], pl.Series, NDArray[np.bool_], float]:
        """Alert budget and analysts' suppressions on top of the contamination or vote flags.

        Returns the final flags, the id of the rule that unflagged each event (else null),
        whether a rule did, and the lowest score flagged under a budget (else the
        contamination threshold).
        """
        cfg = self.config
        matched = pl.Series(SUPPRESSED_BY, [None] * events.height, dtype=pl.String)
        hit = np.zeros(events.height, dtype=bool)
        if suppress is not None and suppress.rules:
            matched = suppress.match(events, ids).alias(SUPPRESSED_BY)
            hit = matched.is_not_null().to_numpy()
        budget = parse_budget(cfg.budget) if cfg.budget else None
        times = None
        if budget is not None and budget.per_day is not None:
            time_column = infer_roles(events.columns).time
            times = None if time_column is None else to_utc_datetime(events[time_column])
        pool = votes >= cfg.min_votes if cfg.min_votes is not None else None
        final, before = apply_threshold(
            flags, combined, budget=budget, times=times, candidates=pool, excluded=hit
        )
        suppressed = before & hit
        if hit.any():  # else every entry is null already
            unflagged = pl.Series(suppressed)
            matched = pl.select(pl.when(unflagged).then(matched)).to_series().alias(SUPPRESSED_BY)
        if budget is None:
            return final, matched, suppressed, float(self.threshold_.threshold_)
        lowest = float(combined[final].min()) if final.any() else float("inf")
        return final, matched, suppressed, lowest

    def _explain(
        self,
        events: pl.DataFrame,
        X: NDArray[np.float32],
        raw: dict[str, NDArray[np.float64]],
        norm: NDArray[np.float64],
        combined: NDArray[np.float64],
        flags: NDArray[np.bool_],
        features: NDArray[np.float32] | None = None,
    ) -> dict[str, pl.Series]:
        """Reasons and nearest normal events of flagged and top events (loghunt.explain)."""
        cfg = self.config
        if features is None:  # reasons speak of features, which X is unless it holds embeddings
            embedded = getattr(self, "embedder_", None) is not None
            features = self.featurizer_.transform(events) if embedded else X
        explainer = getattr(self, "explainer_", None)
        if explainer is None:  # a model saved without one: this batch is the baseline
            explainer = Explainer(top=cfg.explain_top, random_state=cfg.random_state)
            explainer.fit(self.featurizer_, features, events)
        # The shared index holds the training rows (or a sample of them, reference_rows_):
        # usable when scoring the training data.
        training = self._is_train(raw)
        index = self.ensemble_.index_ if training else None
        return explainer.explain(
            events,
            features,
            explainer.rows_to_explain(combined, flags),
            {name: norm[:, i] for i, name in enumerate(raw)},
            cut=1.0 - cfg.contamination,
            flags=flags,
            index=index,
            metric=cfg.metric,
            space=X,
            index_rows=self.ensemble_.reference_rows_ if training else None,
        )

    def _precision_recall(
        self,
        events: pl.DataFrame,
        combined: NDArray[np.float64],
        thresholds: dict[str, float],
        flags: NDArray[np.bool_],
    ) -> pl.DataFrame | None:
        """With labels: adds the best-F1 threshold; the precision-recall trade-off table."""
        label = self.config.labels
        if not label or label not in events.columns:
            return None
        truth = labels_to_bool(events.get_column(label))
        if not truth.any():
            return None
        thresholds["best_f1"] = BestF1Threshold().fit(combined, truth).threshold_
        cuts = {k: v for k, v in thresholds.items() if k != "budget"}
        # A budget is a set of flags, not one cut: measured on the flags themselves.
        chosen = {"budget": flags} if "budget" in thresholds else None
        return precision_recall_table(combined, truth, cuts, flagged=chosen)

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

    def _start_timings(self) -> None:
        """A fresh record of this call's steps, kept per thread: a service scores batches
        side by side, and each batch's findings carry only its own steps. ``timings_`` is
        the latest call's."""
        #: Seconds per step of the latest fit or score call.
        self.timings_: dict[str, float] = {}
        _call.timings = (id(self), self.timings_)

    def _timings(self) -> dict[str, float]:
        """The steps of this thread's current call (``timings_`` outside one)."""
        owner, timings = getattr(_call, "timings", (None, None))
        return timings if owner == id(self) and timings is not None else self.timings_

    @contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        timings = self._timings()
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start


def labels_to_bool(column: pl.Series) -> NDArray[np.bool_]:
    """Anomaly labels as booleans: true/1/any non-normal text (BGL's "-" is normal)."""
    if column.dtype == pl.Boolean:
        return column.fill_null(False).to_numpy().astype(bool)
    if column.dtype.is_numeric():
        return (column.fill_null(0) != 0).to_numpy().astype(bool)
    text = column.cast(pl.Utf8).fill_null("").str.strip_chars().str.to_lowercase()
    return (~text.is_in(list(_NORMAL_LABELS))).to_numpy().astype(bool)


def _with_columns(frame: pl.DataFrame, columns: list[pl.Series]) -> pl.DataFrame:
    """``frame.with_columns(columns)``; appended natively when no name is taken (no query)."""
    if set(frame.columns).isdisjoint(c.name for c in columns):
        return frame.hstack(columns)
    return frame.with_columns(columns)


def _fingerprint(X: NDArray[np.float32]) -> str:
    return hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest()


__all__ = ["DEFAULT_DETECTORS", "Pipeline", "PipelineConfig", "labels_to_bool"]
