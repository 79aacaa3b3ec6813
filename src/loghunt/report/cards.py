"""Finding cards: what was unusual, compared with which normal events, and the evidence.

The cards read the findings table's explanation columns when a run wrote them
(``reason_details``, ``nearest_normal``, ``finding_id``) and fall back to the short ``reasons``
text otherwise. Values from logs are returned as plain text; the template escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import polars as pl
from numpy.typing import NDArray

from loghunt.output.findings import (
    COMBINED,
    FINDING_ID,
    FLAGGED,
    NEAREST_NORMAL,
    NORM_PREFIX,
    RANK,
    RAW_PREFIX,
    REASON_DETAILS,
    REASONS,
    SUPPRESSED,
    SUPPRESSED_BY,
    VOTES,
)
from loghunt.report.projection import PROJECTION_COLUMNS
from loghunt.report.source import ReportSource
from loghunt.schema import ocsf
from loghunt.schema.roles import infer_roles

_ATTACK = "attack"  # the attack type column loghunt.synth writes beside its labels
_N_NEIGHBOURS = 3
_MAX_VALUE = 300
_MAX_EVIDENCE_VALUE = 4_000
# Always differ between events, so highlighting them would bury the differences that matter.
_NOT_COMPARED = {ocsf.EVENT_ID, ocsf.EVENT_UID, ocsf.SOURCE_FILE, ocsf.SOURCE_LINE}
_NOT_EVENT_FIELDS = {
    RANK,
    COMBINED,
    FLAGGED,
    VOTES,
    REASONS,
    REASON_DETAILS,
    NEAREST_NORMAL,
    FINDING_ID,
    SUPPRESSED,
    SUPPRESSED_BY,
    *PROJECTION_COLUMNS,
}


@dataclass(frozen=True)
class Reason:
    """One reason, with the field it names and the comparison when the run recorded them."""

    text: str
    field: str = ""
    value: str = ""
    typical: str = ""
    score: float | None = None


@dataclass(frozen=True)
class Cell:
    text: str
    differs: bool = False


@dataclass(frozen=True)
class Comparison:
    """The finding beside normal events, one row per field; ``title`` says how they were chosen."""

    title: str
    headers: list[str]
    rows: list[tuple[str, list[Cell]]]


@dataclass
class Card:
    """Everything shown for one finding."""

    rank: int
    event_id: str
    score: float
    votes: int
    headline: str
    finding_id: str = ""
    time: str = ""
    truth: str = ""
    detector_scores: list[tuple[str, float]] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    comparison: Comparison | None = None
    missing_neighbours: str = ""
    evidence: str = ""
    row: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class TopRow:
    rank: int
    cells: list[str]
    anchor: str
    truth: bool | None


def build_cards(src: ReportSource, active: NDArray[np.bool_], n: int) -> list[Card]:
    """Cards for the ``n`` highest-ranked findings that an analyst has not suppressed."""
    rows = src.table.filter(pl.Series(active)).head(n)
    fields = event_fields(src)
    neighbours = _neighbour_rows(src.table, rows)
    same_entity = {} if neighbours else _same_entity_rows(src, rows, active)
    truth_by_id: dict[str, bool] = {}
    if src.label_column is not None:
        from loghunt.pipeline import labels_to_bool

        ids = rows.get_column(ocsf.EVENT_ID).cast(pl.Utf8).to_list()
        truth = labels_to_bool(rows.get_column(src.label_column))
        truth_by_id = dict(zip(ids, truth.tolist(), strict=True))
    cards = [_card(src, row, fields, neighbours, truth_by_id) for row in rows.iter_rows(named=True)]
    for card in cards:
        title, found = same_entity.get(card.event_id, ("", []))
        if card.comparison is None and found:
            card.comparison = _compare(title, card.row, found, fields)
    return cards


def top_rows(
    src: ReportSource, active: NDArray[np.bool_], n: int, carded: set[int]
) -> tuple[list[str], list[TopRow]]:
    """Header and rows of the top-findings table (the ``n`` highest-ranked findings)."""
    roles = infer_roles(src.table.columns)
    columns = [c for c in (roles.time, roles.user, roles.operation, roles.src_ip) if c]
    rows = src.table.filter(pl.Series(active)).head(n)
    truth = None
    if src.label_column is not None:
        from loghunt.pipeline import labels_to_bool

        truth = labels_to_bool(rows.get_column(src.label_column))
    out = []
    for i, row in enumerate(rows.iter_rows(named=True)):
        rank = int(row[RANK])
        cells = [f"{row[COMBINED]:.3f}", str(row[VOTES])]
        cells += [text(row[c], 60) for c in columns]
        cells.append(text(str(row.get(REASONS) or "").split("; ")[0], 90))
        anchor = f"f{rank}" if rank in carded else ""
        out.append(TopRow(rank, cells, anchor, None if truth is None else bool(truth[i])))
    return ["score", "votes", *columns, "top reason"], out


def event_fields(src: ReportSource) -> list[str]:
    """The columns that describe the event itself (not scores, labels or bookkeeping)."""
    skip = set(_NOT_EVENT_FIELDS)
    if src.label_column is not None:
        skip |= {src.label_column, _ATTACK}
    return [
        c
        for c in src.table.columns
        if c not in skip and not c.startswith((RAW_PREFIX, NORM_PREFIX))
    ]


def text(value: Any, limit: int = _MAX_VALUE) -> str:
    """A log value as one line of display text: control characters made visible, shortened.

    >>> text("a\\x1b[31mb"), text(None), text("x" * 10, 4)
    ('a\\\\x1b[31mb', '', 'xxx…')
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.4g}"
    s = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in str(value))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _card(
    src: ReportSource,
    row: dict[str, Any],
    fields: list[str],
    neighbours: dict[str, dict[str, Any]],
    truth_by_id: dict[str, bool],
) -> Card:
    roles = infer_roles(src.table.columns)
    event_id = str(row.get(ocsf.EVENT_ID, ""))
    headline = " · ".join(
        text(row.get(c), 60)
        for c in (roles.user, roles.operation, roles.src_ip)
        if c and row.get(c)
    )
    card = Card(
        rank=int(row[RANK]),
        event_id=event_id,
        score=float(row[COMBINED]),
        votes=int(row[VOTES]),
        headline=headline or event_id,
        finding_id=text(row.get(FINDING_ID)),
        time=text(row.get(roles.time)) if roles.time else "",
        detector_scores=[(d, float(row[NORM_PREFIX + d])) for d in src.detectors],
        reasons=_reasons(row),
        evidence=_evidence(row, fields),
        row=row,
    )
    if event_id in truth_by_id:
        attack = truth_by_id[event_id]
        kind = text(row.get(_ATTACK)) if attack else ""
        card.truth = (
            ("labelled attack" + (f": {kind}" if kind else "")) if attack else ("labelled normal")
        )
    ids = row.get(NEAREST_NORMAL) or []
    found = [neighbours[i] for i in map(str, ids) if i in neighbours][:_N_NEIGHBOURS]
    if found:
        title = "Nearest normal events (neighbour graph), differences highlighted"
        card.comparison = _compare(title, row, found, fields)
    elif NEAREST_NORMAL in row:
        card.missing_neighbours = "No nearest normal event was recorded for this finding."
    else:
        card.missing_neighbours = "This findings table has no nearest normal events."
    return card


def _reasons(row: dict[str, Any]) -> list[Reason]:
    details = row.get(REASON_DETAILS)
    if isinstance(details, list) and details:
        out = []
        for d in details:
            if not isinstance(d, dict):
                continue
            score = d.get("score")
            out.append(
                Reason(
                    text=text(d.get("text") or d.get("kind") or ""),
                    field=text(d.get("field")),
                    value=text(d.get("value")),
                    typical=text(d.get("typical")),
                    score=float(score) if isinstance(score, int | float) else None,
                )
            )
        if out:
            return out
    summary = str(row.get(REASONS) or "")
    return [Reason(text(part)) for part in summary.split("; ") if part.strip()]


def _neighbour_rows(table: pl.DataFrame, rows: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """The nearest normal events of ``rows``, looked up in the full table by event id."""
    if NEAREST_NORMAL not in rows.columns:
        return {}
    wanted = {str(i) for ids in rows.get_column(NEAREST_NORMAL).to_list() if ids for i in ids}
    if not wanted:
        return {}
    hits = table.filter(pl.col(ocsf.EVENT_ID).cast(pl.Utf8).is_in(list(wanted)))
    return {str(r[ocsf.EVENT_ID]): r for r in hits.iter_rows(named=True)}


def _same_entity_rows(
    src: ReportSource, rows: pl.DataFrame, active: NDArray[np.bool_]
) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Without recorded neighbours: unflagged events of the same principal, nearest in time.

    Not the feature-space neighbours, but what an analyst would pull up next: what this user
    (or, without users, this address) normally does.
    """
    roles = infer_roles(src.table.columns)
    key = roles.user or roles.src_ip
    if key is None or rows.height == 0:
        return {}
    values = rows.get_column(key).drop_nulls().unique().to_list()
    normal = src.table.filter(pl.Series(~active) & pl.col(key).is_in(values))
    title = f"Unflagged events of the same {key}, nearest in time; differences highlighted"
    out: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for row in rows.iter_rows(named=True):
        if row.get(key) is None:
            continue
        mine = normal.filter(pl.col(key) == row[key])
        order: list[pl.Expr] = []
        if ocsf.CLASS_UID in mine.columns and row.get(ocsf.CLASS_UID) is not None:
            order.append(pl.col(ocsf.CLASS_UID) != row[ocsf.CLASS_UID])  # same kind of event first
        if roles.time and row.get(roles.time) is not None:
            order.append((pl.col(roles.time) - pl.lit(row[roles.time])).abs())
        if order:
            mine = mine.sort(order).head(_N_NEIGHBOURS)
        out[str(row[ocsf.EVENT_ID])] = (title, list(mine.head(_N_NEIGHBOURS).iter_rows(named=True)))
    return out


def _compare(
    title: str, row: dict[str, Any], found: list[dict[str, Any]], fields: list[str]
) -> Comparison:
    headers = ["finding", *(f"rank {int(n[RANK]):,}" for n in found)]
    time_column = infer_roles(fields).time
    rows: list[tuple[str, list[Cell]]] = []
    for name in fields:
        values = [row.get(name), *(n.get(name) for n in found)]
        if name in _NOT_COMPARED or all(v is None for v in values):
            continue
        mine = text(values[0])
        marked = name != time_column
        cells = [Cell(mine)] + [Cell(text(v), marked and text(v) != mine) for v in values[1:]]
        rows.append((name, cells))
    scores = [Cell(f"{row[COMBINED]:.3f}")]
    scores += [Cell(f"{n[COMBINED]:.3f}", True) for n in found]
    rows.append(("combined score", scores))
    return Comparison(title, headers, rows)


def _evidence(row: dict[str, Any], fields: list[str]) -> str:
    """The event's own fields as indented JSON; very long values are cut, marked as such."""
    data: dict[str, Any] = {}
    for name in fields:
        value = row.get(name)
        if isinstance(value, str) and len(value) > _MAX_EVIDENCE_VALUE:
            value = value[:_MAX_EVIDENCE_VALUE] + f"… ({len(value) - _MAX_EVIDENCE_VALUE:,} more)"
        data[name] = value
    dumped = orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode()
    # JSON escapes C0 controls but not, say, U+202E, which would reorder the text on screen.
    return "".join(ch if ch.isprintable() or ch == "\n" else f"\\u{ord(ch):04x}" for ch in dumped)
