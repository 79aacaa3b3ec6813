"""The report's chart sections, reduced from the findings table to a bounded size.

Histograms and curves are computed on every event; scatter points are a sample (all of the
top flagged events plus a random share of the rest), so a million-event run gives a report of
the same size as a thousand-event one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.output.findings import COMBINED, RANK, RAW_PREFIX, VOTES
from loghunt.report import charts
from loghunt.report.projection import PROJECTION_COLUMNS, project_2d, score_matrix
from loghunt.report.source import ReportSource
from loghunt.report.svg import Figure
from loghunt.schema import ocsf
from loghunt.schema.roles import infer_roles

_BINS = 60
_CURVE_POINTS = 300
_SCATTER_NORMAL = 2_500
_SCATTER_FLAGGED = 800
_TOP_ENTITIES = 10
_BIN_WIDTHS = (
    ("1 min", timedelta(minutes=1)),
    ("5 min", timedelta(minutes=5)),
    ("15 min", timedelta(minutes=15)),
    ("1 hour", timedelta(hours=1)),
    ("3 hour", timedelta(hours=3)),
    ("6 hour", timedelta(hours=6)),
    ("12 hour", timedelta(hours=12)),
    ("1 day", timedelta(days=1)),
    ("7 day", timedelta(days=7)),
)
_MAX_TIME_BINS = 120


@dataclass
class Section:
    """A titled group of charts with an optional explanatory note."""

    id: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    note: str = ""
    #: "grid" (two columns) or "row" (small charts side by side, wrapping).
    layout: str = "grid"
    tables: list[TextTable] = field(default_factory=list)


@dataclass(frozen=True)
class TextTable:
    """A small table of numbers under a section's charts."""

    title: str
    headers: list[str]
    rows: list[list[str]]


def build_sections(src: ReportSource) -> list[Section]:
    """Every chart section that the data allows, in reading order."""
    active = src.active()
    sections = [scores_section(src, active), votes_section(src, active)]
    quality = quality_section(src, active)
    if quality is not None:
        sections.append(quality)
    sections.append(projection_section(src, active))
    timeline = timeline_section(src, active)
    if timeline is not None:
        sections.append(timeline)
    sections.append(entities_section(src, active))
    return [s for s in sections if s.figures or s.note]


def scores_section(src: ReportSource, active: NDArray[np.bool_]) -> Section:
    combined = src.table.get_column(COMBINED).to_numpy()
    section = Section("scores", "Scores")
    edges, counts, flagged = _histogram(combined, active)
    cuts = _named_cuts(src)
    section.figures.append(
        charts.histogram_chart(
            "Combined score",
            edges,
            counts,
            flagged,
            "combined score",
            [(value, f"{name} {value:.3f}") for name, value in cuts],
        )
    )
    n_active = int(active.sum())
    rank_marks = [(float(n_active), f"{n_active:,} flagged")]
    rank_marks += [
        (float((combined >= value).sum()), f"{name}: {int((combined >= value).sum()):,}")
        for name, value in cuts[1:]
    ]
    section.figures.append(
        charts.sorted_chart("Combined score, sorted", *_sorted_curve(combined), rank_marks)
    )
    for name in src.detectors:
        raw = src.table.get_column(RAW_PREFIX + name).to_numpy().astype(np.float64)
        marks = []
        if src.contamination is not None:
            cut = float(np.quantile(raw, 1.0 - src.contamination))
            marks.append((cut, f"vote cut (top {src.contamination:.1%})"))
        edges, counts, flagged = _histogram(raw, active)
        section.figures.append(
            charts.histogram_chart(f"{name}: raw score", edges, counts, flagged, "score", marks)
        )
        section.figures.append(
            charts.sorted_chart(
                f"{name}: sorted scores", *_sorted_curve(raw), [(float(n_active), "top n flagged")]
            )
        )
    section.note = (
        "Histograms count every event (log scale); the red share is flagged. Sorted curves show "
        "how quickly scores fall from the most anomalous event. Red marks: the threshold in force; "
        "grey: the other thresholds computed for this run."
    )
    return section


def _named_cuts(src: ReportSource) -> list[tuple[str, float]]:
    """The threshold in force first (named when summary.json names it), then the others."""
    named = src.thresholds
    current = next((n for n, v in named.items() if np.isclose(v, src.threshold)), "threshold")
    cuts = [(current, src.threshold)] if np.isfinite(src.threshold) else []
    return cuts + [(n, v) for n, v in named.items() if n != current and np.isfinite(v)]


def votes_section(src: ReportSource, active: NDArray[np.bool_]) -> Section:
    section = Section("votes", "Votes and detector agreement", layout="row")
    votes = src.table.get_column(VOTES).to_numpy().astype(np.int64)
    size = max(len(src.detectors), int(votes.max(initial=0))) + 1
    section.figures.append(
        charts.vote_chart(
            np.bincount(votes, minlength=size), np.bincount(votes[active], minlength=size)
        )
    )
    agreement = src.summary.get("agreement")
    if isinstance(agreement, dict) and agreement.get("detectors"):
        names = [str(n) for n in agreement["detectors"]]
        section.figures.append(
            charts.heatmap_chart(
                "Rank correlation (Spearman)", names, np.asarray(agreement["spearman"]), lo=-1.0
            )
        )
        section.figures.append(
            charts.heatmap_chart(
                "Overlap of flags (Jaccard)", names, np.asarray(agreement["jaccard"]), lo=0.0
            )
        )
    section.note = "A vote is a detector placing the event in its own top share of scores."
    return section


def quality_section(src: ReportSource, active: NDArray[np.bool_]) -> Section | None:
    truth = src.truth()
    if truth is None or not 0 < truth.sum() < truth.size:
        return None
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    named = [(n, src.table.get_column(RAW_PREFIX + n).to_numpy()) for n in src.detectors]
    named.append(("ensemble", src.table.get_column(COMBINED).to_numpy()))
    rocs, prs = [], []
    for name, scores in named:
        fpr, tpr, _ = roc_curve(truth, scores)
        precision, recall, _ = precision_recall_curve(truth, scores)
        x, y = charts.downsample(fpr, tpr, _CURVE_POINTS)
        rocs.append(charts.Curve(f"{name} (AUC {auc(fpr, tpr):.3f})", x, y))
        x, y = charts.downsample(recall[::-1], precision[::-1], _CURVE_POINTS)
        prs.append(charts.Curve(f"{name} (AP {_average_precision(recall, precision):.3f})", x, y))
    combined = src.table.get_column(COMBINED).to_numpy()
    roc_marks, pr_marks = [_operating_point(active, truth, "flagged")], []
    pr_marks.append(_operating_point(active, truth, "flagged", pr=True))
    for name, value in _named_cuts(src)[1:]:
        roc_marks.append(_operating_point(combined >= value, truth, name))
        pr_marks.append(_operating_point(combined >= value, truth, name, pr=True))
    roc = charts.line_chart(
        "ROC curve",
        rocs,
        "false positive rate",
        "true positive rate",
        diagonal=True,
        marks=roc_marks,
    )
    pr = charts.line_chart(
        "Precision-recall curve",
        prs,
        "recall",
        "precision",
        baseline=float(truth.mean()),
        marks=pr_marks,
    )
    note = (
        f"Against the labels in column '{src.label_column}': {int(truth.sum()):,} positive events. "
        "Dots mark the flagged set and the other thresholds of the combined score."
    )
    section = Section("quality", "Detection quality against labels", [roc, pr], note)
    section.tables.append(_tradeoff_table(src, combined, truth))
    return section


def _operating_point(
    flags: NDArray[np.bool_], truth: NDArray[np.bool_], label: str, pr: bool = False
) -> tuple[float, float, str]:
    """(FPR, TPR) or, with ``pr``, (recall, precision) of a set of flags."""
    tp = int((flags & truth).sum())
    recall = tp / max(int(truth.sum()), 1)
    if pr:
        return recall, tp / max(int(flags.sum()), 1), label
    return float((flags & ~truth).sum() / max(int((~truth).sum()), 1)), recall, label


def _tradeoff_table(
    src: ReportSource, combined: NDArray[np.float64], truth: NDArray[np.bool_]
) -> TextTable:
    from loghunt.ensemble.thresholds import precision_recall_table

    table = precision_recall_table(combined, truth, dict(_named_cuts(src)))
    headers = ["cut", "threshold", "flagged", "true positives", "precision", "recall", "F1"]
    rows = [
        [str(name), f"{cut:.4f}", f"{n:,}", f"{tp:,}", f"{p:.3f}", f"{r:.3f}", f"{f1:.3f}"]
        for name, cut, n, tp, p, r, f1 in table.iter_rows()
    ]
    return TextTable("Precision-recall trade-off of the combined score", headers, rows)


def projection_section(src: ReportSource, active: NDArray[np.bool_]) -> Section:
    rows = _scatter_rows(src.table, active)
    sample = src.table[rows]
    if all(c in src.table.columns for c in PROJECTION_COLUMNS):
        xy = sample.select(PROJECTION_COLUMNS).to_numpy().astype(np.float64)
        axes, note = ("PC 1 of features", "PC 2 of features"), "Principal components of the "
        note += "feature matrix the detectors scored."
    else:
        xy = project_2d(score_matrix(sample))
        axes = ("PC 1 of detector scores", "PC 2 of detector scores")
        note = (
            "This findings table has no feature projection, so the view is of the detectors' "
            "scores and votes: it shows where detectors agree, not how events differ."
        )
    truth = src.truth()
    labelled = truth[rows] if truth is not None else None
    fig = charts.scatter_chart(
        "Events in two dimensions",
        xy[:, 0],
        xy[:, 1],
        sample.get_column(COMBINED).to_numpy(),
        active[rows],
        labelled,
        _tips(sample),
        axes,
    )
    note += f" {rows.size:,} of {src.table.height:,} events drawn (all top flagged, a sample of "
    note += "the rest); colour is the combined score."
    return Section("projection", "2-D projection", [fig], note, layout="row")


def timeline_section(src: ReportSource, active: NDArray[np.bool_]) -> Section | None:
    column = infer_roles(src.table.columns).time
    if column is None or not isinstance(src.table.schema[column], pl.Datetime | pl.Date):
        return None
    epoch = src.table.get_column(column).dt.epoch("ms")
    valid = epoch.is_not_null().to_numpy()
    if not valid.any():
        return None
    ms = epoch.to_numpy()[valid].astype(np.int64)
    lo, hi = int(ms.min()), int(ms.max())
    label, width = next(
        ((lbl, w) for lbl, w in _BIN_WIDTHS if (hi - lo) / _ms(w) < _MAX_TIME_BINS),
        _BIN_WIDTHS[-1],
    )
    start = lo - lo % 60_000  # whole minutes, so bin labels read cleanly
    index = (ms - start) // _ms(width)
    n = int(index.max(initial=0)) + 1
    totals = np.bincount(index, minlength=n)
    flagged = np.bincount(index[active[valid]], minlength=n)
    first = datetime.fromtimestamp(start / 1000, UTC)
    starts = [(first + width * i).strftime("%m-%d %H:%M") for i in range(n)]
    fig = charts.timeline_chart(starts, totals, flagged, label)
    return Section("timeline", "Timeline of findings", [fig])


def _ms(width: timedelta) -> int:
    return int(width.total_seconds() * 1000)


def entities_section(src: ReportSource, active: NDArray[np.bool_]) -> Section:
    roles = infer_roles(src.table.columns)
    role_column = next(
        (c for c in (ocsf.SESSION_ISSUER, ocsf.USER_TYPE) if c in src.table.columns), None
    )
    wanted = [
        ("Users", roles.user),
        ("Source IPs", roles.src_ip),
        ("Roles and principal types", role_column),
        ("Operations", roles.operation),
        ("Hosts", roles.host),
    ]
    flagged = src.table.filter(pl.Series(active))
    section = Section("entities", "Top entities by findings")
    for title, column in wanted:
        if column is None:
            continue
        counts = (
            flagged.select(pl.col(column).cast(pl.Utf8).alias("v"))
            .drop_nulls()
            .group_by("v")
            .len()
            .sort(["len", "v"], descending=[True, False])
            .head(_TOP_ENTITIES)
        )
        if counts.height:
            section.figures.append(
                charts.bar_chart(
                    f"{title} ({column})",
                    counts.get_column("v").to_list(),
                    counts.get_column("len").to_list(),
                    "findings",
                )
            )
    if not section.figures:
        section.note = "No flagged events carry user, address, role or host fields."
    return section


def _histogram(
    values: NDArray[np.float64], active: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    finite = np.isfinite(values)
    v = values[finite]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, _BINS + 1)
    counts, _ = np.histogram(v, edges)
    flagged, _ = np.histogram(values[finite & active], edges)
    return edges, counts.astype(np.int64), flagged.astype(np.int64)


def _sorted_curve(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    ordered = np.sort(values[np.isfinite(values)])[::-1]
    if ordered.size == 0:
        return np.array([1.0]), np.array([0.0])
    ranks = np.unique(np.geomspace(1, ordered.size, _CURVE_POINTS).round().astype(np.int64))
    return ranks.astype(np.float64), ordered[ranks - 1]


def _average_precision(recall: NDArray[np.float64], precision: NDArray[np.float64]) -> float:
    # Step-wise area, as sklearn's average_precision_score computes it.
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def _scatter_rows(table: pl.DataFrame, active: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Row positions: the top flagged events plus a seeded random sample of the rest."""
    flagged = np.flatnonzero(active)[:_SCATTER_FLAGGED]  # table is in rank order
    rest = np.flatnonzero(~active)
    rng = np.random.default_rng(0)
    if rest.size > _SCATTER_NORMAL:
        rest = np.sort(rng.choice(rest, _SCATTER_NORMAL, replace=False))
    return np.concatenate([flagged, rest]).astype(np.int64)


def _tips(sample: pl.DataFrame) -> list[str]:
    roles = infer_roles(sample.columns)
    parts = [c for c in (roles.user, roles.operation, roles.src_ip) if c]
    ranks = sample.get_column(RANK).to_list() if RANK in sample.columns else [None] * sample.height
    scores = sample.get_column(COMBINED).to_list()
    fields = [sample.get_column(c).cast(pl.Utf8).fill_null("-").to_list() for c in parts]
    return [
        f"#{rank} score {score:.3f} " + " | ".join(str(f[i])[:80] for f in fields)
        for i, (rank, score) in enumerate(zip(ranks, scores, strict=True))
    ]


__all__ = ["Section", "build_sections"]
