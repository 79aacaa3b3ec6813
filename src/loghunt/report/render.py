"""Render the self-contained HTML report with Jinja2 (autoescaping on).

The page loads nothing: styles are inline, charts are inline SVG, there is no script, and a
Content-Security-Policy forbids every external request and every script, so even a value from
a log that slipped past escaping could not run or call out.

Examples
--------
>>> from loghunt.synth import generate_cloudtrail_table
>>> from loghunt.pipeline import Pipeline
>>> events = generate_cloudtrail_table(1_500, seed=3)
>>> findings = Pipeline(labels="is_attack", exclude=("attack",)).fit_score(events)
>>> html = render_report(findings, label_column="is_attack")
>>> html.startswith("<!DOCTYPE html>") and "<script" not in html
True
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from jinja2 import Environment, FunctionLoader, StrictUndefined
from markupsafe import Markup

import loghunt
from loghunt.output.findings import Findings
from loghunt.report.cards import build_cards, top_rows
from loghunt.report.sections import build_sections
from loghunt.report.source import ReportSource, load_source
from loghunt.schema import ocsf

DEFAULT_CARDS = 50
DEFAULT_TOP_ROWS = 100
_TEMPLATES = "templates"
_METRIC_COLUMNS = ("name", "roc_auc", "pr_auc", "precision", "recall", "f1", "precision_at_k")
_KNOWN_SUMMARY_KEYS = {
    "n_events",
    "n_flagged",
    "n_dead_letters",
    "threshold",
    "detectors",
    "metrics",
    "agreement",
    "timings_s",
    "detector_seconds",
    "inputs",
    "labels",
    "contamination",
    "thresholds",
    "n_suppressed",
    "suppression_warnings",
    "model_version",
}
_MAX_SOURCES = 8


def write_report(
    source: Findings | Path | str,
    path: Path | str,
    *,
    label_column: str | None = None,
    contamination: float | None = None,
    inputs: list[str] | None = None,
    n_cards: int = DEFAULT_CARDS,
) -> Path:
    """Write the report for ``source`` (a :class:`Findings` or a findings directory) to ``path``.

    ``label_column`` and ``contamination`` are read from summary.json when it has them, and
    the label column is otherwise recognised by matching metrics.json's ROC-AUC.
    """
    html = render_report(
        source,
        label_column=label_column,
        contamination=contamination,
        inputs=inputs,
        n_cards=n_cards,
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target


def render_report(
    source: Findings | Path | str,
    *,
    label_column: str | None = None,
    contamination: float | None = None,
    inputs: list[str] | None = None,
    n_cards: int = DEFAULT_CARDS,
) -> str:
    """The report as one HTML string."""
    src = load_source(source, label_column=label_column, contamination=contamination, inputs=inputs)
    env = _environment()
    style = env.get_template("style.css.j2").render()
    active = src.active()
    cards = build_cards(src, active, n_cards)
    top_header, top = top_rows(src, active, DEFAULT_TOP_ROWS, {c.rank for c in cards})
    return env.get_template("report.html.j2").render(
        style=Markup(style),  # our own stylesheet, rendered from a template with no log data
        style_hash=_csp_hash(style),
        version=loghunt.__version__,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        origin=src.origin,
        kpis=_kpis(src, active),
        inputs=[(str(i + 1), path) for i, path in enumerate(src.inputs)],
        sources=_sources(src.table),
        settings=_settings(src),
        timings=_timings(src.summary),
        metrics=_metrics(src.metrics),
        sections=build_sections(src),
        top_header=top_header,
        top_rows=top,
        n_top=len(top),
        cards=cards,
        n_active=int(active.sum()),
    )


def _environment() -> Environment:
    return Environment(
        loader=FunctionLoader(_load_template),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _load_template(name: str) -> str | None:
    """Templates are package data, read with importlib.resources (works from wheels and zips)."""
    resource = resources.files("loghunt.report").joinpath(_TEMPLATES, name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def _kpis(src: ReportSource, active: np.ndarray[Any, Any]) -> list[tuple[str, str]]:
    s = src.summary
    kpis = [
        ("events", f"{src.table.height:,}"),
        ("findings", f"{int(active.sum()):,}"),
        ("dead-lettered records", f"{int(s.get('n_dead_letters', 0)):,}"),
        ("detectors", ", ".join(src.detectors)),
        ("threshold (combined)", _num(src.threshold)),
    ]
    if src.n_suppressed():
        kpis.insert(2, ("suppressed by verdicts", f"{src.n_suppressed():,}"))
    truth = src.truth()
    if truth is not None:
        kpis.append((f"labelled positives ({src.label_column})", f"{int(truth.sum()):,}"))
    return kpis


def _sources(table: pl.DataFrame) -> list[tuple[str, str]]:
    """Events per source file, largest first, paths shown below their common folder."""
    if ocsf.SOURCE_FILE not in table.columns:
        return []
    counts = (
        table.drop_nulls(ocsf.SOURCE_FILE)
        .group_by(ocsf.SOURCE_FILE)
        .len()
        .sort(["len", ocsf.SOURCE_FILE], descending=[True, False])
    )
    names = [str(f) for f in counts.get_column(ocsf.SOURCE_FILE).to_list()]
    common = os.path.commonpath(names) if len(names) > 1 and all(names) else ""
    rows = []
    for name, n in zip(names[:_MAX_SOURCES], counts.get_column("len").to_list(), strict=False):
        short = os.path.relpath(name, common) if common and name != common else name
        rows.append((_middle(short, 70), f"{n:,}"))
    if counts.height > _MAX_SOURCES:
        rest = int(counts.get_column("len").tail(counts.height - _MAX_SOURCES).sum())
        rows.append((f"… {counts.height - _MAX_SOURCES:,} more files", f"{rest:,}"))
    if common:
        rows.insert(0, (f"{counts.height:,} files under {_middle(common, 60)}", ""))
    return rows


def _middle(text: str, n: int) -> str:
    """Long paths keep their start and their file name."""
    return text if len(text) <= n else text[: n // 2 - 1] + "…" + text[-(n // 2) :]


def _settings(src: ReportSource) -> list[tuple[str, str]]:
    """Thresholds and any other run settings summary.json carries (budgets, presets, ...)."""
    rows = [("combined-score threshold (in force)", _num(src.threshold))]
    rows += [(f"threshold: {name}", _num(value)) for name, value in src.thresholds.items()]
    if src.summary.get("model_version"):
        rows.append(("model version", str(src.summary["model_version"])))
    warnings = src.summary.get("suppression_warnings")
    if isinstance(warnings, list):
        rows += [("suppression warning", str(w)) for w in warnings]
    if src.contamination is not None:
        rows.append(("contamination (vote share)", f"{src.contamination:g}"))
    if src.label_column:
        rows.append(("label column", src.label_column))
    for key, value in src.summary.items():
        if key not in _KNOWN_SUMMARY_KEYS:
            rows.append((key, _plain(value)))
    return rows


def _timings(summary: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for group in ("timings_s", "detector_seconds"):
        values = summary.get(group)
        if isinstance(values, dict):
            prefix = "" if group == "timings_s" else "fit: "
            rows += [(prefix + str(k), f"{float(v):.2f} s") for k, v in values.items()]
    return rows


def _metrics(metrics: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    if not metrics:
        return [], []
    rows = [[_plain(m.get(c)) for c in _METRIC_COLUMNS] for m in metrics]
    return list(_METRIC_COLUMNS), rows


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.4f}"


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return "" if value is None else str(value)
