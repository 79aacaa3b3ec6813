"""The scoring core every front end of the service shares: bytes in, scored batch out.

The HTTP API and the stream consumers both call :meth:`Scorer.score_bytes` (or
:meth:`Scorer.score_table`), which reads with :func:`loghunt.io.parse_bytes` and scores with
the model's own :meth:`loghunt.Pipeline.score`: the service runs the batch CLI's code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.errors import LoghuntError
from loghunt.io import DeadLetter, ReadLimits, parse_bytes
from loghunt.output.findings import (
    COMBINED,
    FLAGGED,
    NEAREST_NORMAL,
    NORM_PREFIX,
    RANK,
    RAW_PREFIX,
    REASON_DETAILS,
    REASONS,
    VOTES,
    Findings,
)
from loghunt.schema import normalize, ocsf
from loghunt.service.ids import FINDING_ID, finding_ids
from loghunt.service.store import OnlineStore

#: Key fields copied into every finding record a sink writes (when the event has them).
RECORD_FIELDS = (
    ocsf.TIME,
    ocsf.USER_NAME,
    ocsf.OPERATION,
    ocsf.SERVICE,
    ocsf.SRC_IP,
    ocsf.USER_AGENT,
    ocsf.REGION,
    ocsf.STATUS,
    ocsf.CLASS_UID,
)


@dataclass(frozen=True)
class RecordError:
    """One input record that could not be scored: where it was and why.

    ``line`` is the 1-based line (JSON Lines) or record ordinal (JSON arrays, Records
    envelopes); ``None`` when the whole body failed. No excerpt of the record is returned.
    """

    line: int | None
    offset: int | None
    reason: str
    #: The input the record came from (``_source_file``), when it is known.
    source: str | None = None

    @classmethod
    def from_dead_letter(cls, dead: DeadLetter) -> RecordError:
        return cls(dead.line, dead.offset, dead.reason, dead.file)


@dataclass
class ScoredBatch:
    """The outcome of one batch: findings (in rank order), their ids and the errors.

    ``events`` is the normalised event table in input order (what was scored), ``normal``
    the events its scores did not flag with their rows in the detectors' space, for the
    store to learn (``None`` when not learning), ``learned`` how many joined the store.
    """

    findings: Findings | None
    ids: pl.Series
    events: pl.DataFrame
    errors: list[RecordError] = field(default_factory=list)
    normal: tuple[pl.DataFrame, NDArray[np.float32]] | None = None
    learned: int = 0

    @property
    def n_events(self) -> int:
        return 0 if self.findings is None else len(self.findings)

    @property
    def n_flagged(self) -> int:
        return 0 if self.findings is None else self.findings.n_flagged

    def results(self) -> list[dict[str, Any]]:
        """Per event, in input order: ids, combined score, flag, votes, scores and reasons."""
        if self.findings is None:
            return []
        # Built in rank order, then put in input order: the table is read, never re-sorted.
        table = self.findings.table
        detectors = self.findings.detectors
        columns = [table.get_column(NORM_PREFIX + d).to_list() for d in detectors]
        scores = [dict(zip(detectors, row, strict=True)) for row in zip(*columns, strict=True)]
        lines = _column(table, ocsf.SOURCE_LINE)
        ranked = [
            {
                "finding_id": fid,
                "event_id": eid,
                "line": line,
                "rank": rank,
                "combined_score": score,
                "flagged": flag,
                "votes": votes,
                "scores": per_detector,
                "reasons": reasons,
            }
            for fid, eid, line, rank, score, flag, votes, per_detector, reasons in zip(
                self.ids.to_list(),
                table.get_column(ocsf.EVENT_ID).to_list(),
                lines,
                table.get_column(RANK).to_list(),
                table.get_column(COMBINED).to_list(),
                table.get_column(FLAGGED).to_list(),
                table.get_column(VOTES).to_list(),
                scores,
                table.get_column(REASONS).to_list(),
                strict=True,
            )
        ]
        return [ranked[i] for i in self._input_order(table)]

    @staticmethod
    def _input_order(table: pl.DataFrame) -> list[int]:
        """Row numbers of ``table`` by source line (stable; rows without a line last)."""
        lines = table.get_column(ocsf.SOURCE_LINE, default=None)
        if lines is None:
            return list(range(table.height))
        if lines.dtype.is_integer() and lines.null_count() == 0:  # as read: no query to run
            order: list[int] = np.argsort(lines.to_numpy(), kind="stable").tolist()
            return order
        rows = pl.DataFrame([lines.alias("line"), pl.Series("row", np.arange(table.height))])
        ordered = rows.sort("line", maintain_order=True, nulls_last=True)
        return ordered.get_column("row").to_list()

    @property
    def model_version(self) -> str:
        """The version the finding ids derive from (empty when nothing was scored)."""
        return "" if self.findings is None else self.findings.model_version

    def records(self, flagged_only: bool = False) -> list[dict[str, Any]]:
        """Finding records for sinks: the results plus key fields, raw scores and the model."""
        if self.findings is None:
            return []
        model_version = self.findings.model_version
        table = self.findings.table.with_columns(self.ids.alias(FINDING_ID))
        if flagged_only:
            table = table.filter(pl.col(FLAGGED))
        if table.height == 0:
            return []
        detectors = self.findings.detectors
        fields = [c for c in RECORD_FIELDS if c in table.columns]
        plain = table.select(
            FINDING_ID,
            ocsf.EVENT_ID,
            pl.lit(model_version).alias("model_version"),
            *fields,
            COMBINED,
            FLAGGED,
            VOTES,
            pl.struct([pl.col(NORM_PREFIX + d).alias(d) for d in detectors]).alias("scores"),
            pl.struct([pl.col(RAW_PREFIX + d).alias(d) for d in detectors]).alias("raw_scores"),
            REASONS,
            *[c for c in (REASON_DETAILS, NEAREST_NORMAL) if c in table.columns],
        )
        if ocsf.TIME in plain.columns and plain.schema[ocsf.TIME].is_temporal():
            iso = pl.col(ocsf.TIME).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            plain = plain.with_columns(iso.alias(ocsf.TIME))
        return plain.to_dicts()


class Scorer:
    """Read raw bytes and score them with the online store's current pipeline.

    Parameters
    ----------
    store : OnlineStore
        Holds the fitted pipeline (and, when learning, the events it learned).
    limits : ReadLimits, optional
        Reader limits; ``ReadLimits()`` when omitted.
    learn : bool
        Whether events that are not flagged join the store (novelty mode).
    """

    def __init__(
        self, store: OnlineStore, limits: ReadLimits | None = None, learn: bool = True
    ) -> None:
        self.store = store
        self.limits = limits or ReadLimits()
        self.learn = learn

    def read(
        self, body: bytes, source: str | None = None
    ) -> tuple[pl.DataFrame, list[RecordError]]:
        """Read a body (JSON array, JSON Lines, a Records envelope, CSV, ...) into raw events.

        ``source`` names the input in ``_source_file``; by default a digest of the body, so
        that events without their own id get the same ``event_id`` when the body is resent.
        """
        name = source or "body:" + hashlib.sha256(body).hexdigest()[:16]
        read = parse_bytes(body, source=name, limits=self.limits)
        return read.table, [RecordError.from_dead_letter(d) for d in read.dead_letters]

    def score_bytes(self, body: bytes, source: str | None = None) -> ScoredBatch:
        """:meth:`read` then :meth:`score_table`."""
        return self.score_table(*self.read(body, source))

    def score_parts(
        self, table: pl.DataFrame, errors: list[RecordError] | None = None
    ) -> list[ScoredBatch]:
        """:meth:`score_table`, isolating events the model cannot score.

        When the pipeline refuses a batch (a value its features cannot read, such as text in a
        boolean field), the batch is halved until the refused events stand alone; they become
        record errors and the other parts are scored (ranks are then per part).
        """
        try:
            return [self.score_table(table, errors)]
        except (LoghuntError, pl.exceptions.PolarsError) as exc:
            if table.height > 1:
                mid = table.height // 2
                return self.score_parts(table[:mid], errors) + self.score_parts(table[mid:])
            row = table.row(0, named=True) if table.height else {}
            refused = RecordError(
                row.get(ocsf.SOURCE_LINE),
                None,
                f"the model cannot score this event: {_first_line(exc)}",
                row.get(ocsf.SOURCE_FILE),
            )
            return [self.score_table(table.clear(), [*(errors or []), refused])]

    def score_table(
        self, table: pl.DataFrame, errors: list[RecordError] | None = None
    ) -> ScoredBatch:
        """Score a table of raw events as read by :mod:`loghunt.io`."""
        errors = list(errors or [])
        if table.height == 0:
            empty = pl.Series(FINDING_ID, [], dtype=pl.Utf8)
            return ScoredBatch(None, empty, table, errors)
        # Shared: other batches are scored meanwhile (FAISS searches without the GIL).
        with self.store.lock.shared():
            pipeline = self.store.pipeline
            events = conform(normalize(table), self.store.input_kinds)
            findings, rows, unflagged = pipeline.score_unlearned(events)
            ids = finding_ids(findings)
        batch = ScoredBatch(findings, ids, events, errors)
        if self.learn and self.store.learning:
            batch.normal = (events.filter(pl.Series(unflagged)), rows)
        return batch

    def learn_batch(self, batch: ScoredBatch) -> int:
        """Learn the events the batch's scores did not flag and record them in the store's
        on-disk window (novelty mode); returns how many. Events flagged by the scores but
        unflagged by an alert budget or a suppression rule are not learned either."""
        if batch.normal is None:
            return 0
        batch.learned = self.store.append(*batch.normal)
        return batch.learned


def conform(events: pl.DataFrame, kinds: dict[str, str]) -> pl.DataFrame:
    """Fit a batch to the model's input columns (``kinds``: name -> feature kind).

    A column the batch lacks (a batch of one source only) is added as nulls. A boolean
    column that arrived as text (one event wrote ``"maybe"``, so the reader typed the column
    as strings) is read as true/false, anything else null, as the featurizer's own lenient
    cast would. A batch that already fits is returned unchanged.

    Examples
    --------
    >>> conform(pl.DataFrame({"a": [1]}), {"a": "numeric", "b": "categorical"}).columns
    ['a', 'b']
    >>> flags = pl.DataFrame({"ok": ["true", "FALSE", "maybe"]})
    >>> conform(flags, {"ok": "boolean"})["ok"].to_list()
    [True, False, None]
    """
    columns = set(events.columns)
    missing = [c for c in kinds if c not in columns]
    if missing:
        # Added directly, not by a query: a polars query costs more than these columns.
        nulls = pl.Series("", [None] * events.height, dtype=pl.Null)
        events = events.hstack([nulls.alias(c) for c in missing])
    fixes = []
    for name, kind in kinds.items():
        if kind == "boolean" and name in columns and events.get_column(name).dtype == pl.String:
            text = pl.col(name).str.strip_chars().str.to_lowercase()
            fixes.append(text.replace_strict(_BOOLEAN_TEXT, default=None).alias(name))
    return events.with_columns(fixes) if fixes else events


_BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _column(table: pl.DataFrame, name: str) -> list[Any]:
    if name in table.columns:
        return table.get_column(name).to_list()
    return [None] * table.height
