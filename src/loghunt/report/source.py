"""What a report is drawn from: the findings table and the run's summary and metrics.

A report can be built from a :class:`~loghunt.output.Findings` object in memory or from a
findings directory written by ``loghunt hunt`` (``findings.parquet``, ``summary.json`` and,
with labels, ``metrics.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
from numpy.typing import NDArray

from loghunt.errors import InputError
from loghunt.output.findings import (
    COMBINED,
    FLAGGED,
    NORM_PREFIX,
    RAW_PREFIX,
    SUPPRESSED,
    Findings,
)

# Label columns loghunt's own tools write, tried when the run did not say which one it used.
_LABEL_NAMES = ("is_attack", "is_anomaly", "label", "is_malicious", "anomaly")


@dataclass
class ReportSource:
    """Everything the report shows, loaded and checked once."""

    table: pl.DataFrame
    summary: dict[str, Any]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    label_column: str | None = None
    contamination: float | None = None
    inputs: list[str] = field(default_factory=list)
    origin: str = ""

    @property
    def detectors(self) -> list[str]:
        named = self.summary.get("detectors")
        if isinstance(named, list) and named:
            return [str(d) for d in named if RAW_PREFIX + str(d) in self.table.columns]
        return [c.removeprefix(RAW_PREFIX) for c in self.table.columns if c.startswith(RAW_PREFIX)]

    @property
    def threshold(self) -> float:
        return float(self.summary.get("threshold", float("nan")))

    @property
    def thresholds(self) -> dict[str, float]:
        """Named cuts of the combined score (contamination, budget, best_f1), when recorded."""
        named = self.summary.get("thresholds")
        if not isinstance(named, dict):
            return {}
        return {str(k): float(v) for k, v in named.items() if isinstance(v, int | float)}

    def active(self) -> NDArray[np.bool_]:
        """Flagged and not suppressed by an analyst's verdict: what a person should look at."""
        flags = self.table.get_column(FLAGGED).fill_null(False).to_numpy().astype(bool)
        if SUPPRESSED in self.table.columns:
            flags &= ~self.table.get_column(SUPPRESSED).fill_null(False).to_numpy().astype(bool)
        return flags

    def n_suppressed(self) -> int:
        if SUPPRESSED in self.table.columns:
            return int(self.table.get_column(SUPPRESSED).fill_null(False).sum())
        return int(self.summary.get("n_suppressed") or 0)

    def truth(self) -> NDArray[np.bool_] | None:
        """The ground-truth labels as booleans, when the run had them."""
        if self.label_column is None:
            return None
        from loghunt.pipeline import labels_to_bool

        return labels_to_bool(self.table.get_column(self.label_column))


def load_source(
    source: Findings | Path | str,
    *,
    label_column: str | None = None,
    contamination: float | None = None,
    inputs: list[str] | None = None,
) -> ReportSource:
    """Read a findings directory, or wrap a :class:`Findings`, into a :class:`ReportSource`."""
    if isinstance(source, Findings):
        summary = source.summary()
        metrics = [m.to_dict() for m in source.metrics]
        table, origin = source.table, "in-memory findings"
    else:
        table, summary, metrics = _read_dir(Path(source))
        origin = str(source)
    _check_table(table, origin)
    label = label_column or summary.get("labels") or _infer_label(table, metrics)
    if label is not None and label not in table.columns:
        label = None
    if contamination is None and isinstance(summary.get("contamination"), int | float):
        contamination = float(summary["contamination"])
    named_inputs = inputs if inputs is not None else summary.get("inputs", [])
    return ReportSource(
        table=table,
        summary=summary,
        metrics=metrics,
        label_column=label,
        contamination=contamination,
        inputs=[str(p) for p in named_inputs],
        origin=origin,
    )


def _read_dir(folder: Path) -> tuple[pl.DataFrame, dict[str, Any], list[dict[str, Any]]]:
    parquet = folder / "findings.parquet"
    if not parquet.is_file():
        raise InputError("no findings.parquet here; run `loghunt hunt` first", file=str(folder))
    table = pl.read_parquet(parquet)
    summary = _read_json(folder / "summary.json", {})
    metrics = _read_json(folder / "metrics.json", [])
    if not isinstance(summary, dict):
        raise InputError("summary.json is not a JSON object", file=str(folder / "summary.json"))
    if not isinstance(metrics, list):
        raise InputError("metrics.json is not a JSON list", file=str(folder / "metrics.json"))
    if "threshold" not in summary:
        summary["threshold"] = _threshold_from_table(table)
    return table, summary, metrics


def _read_json(path: Path, default: Any) -> Any:
    if not path.is_file():
        return default
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", file=str(path)) from exc


def _check_table(table: pl.DataFrame, origin: str) -> None:
    missing = {COMBINED, FLAGGED} - set(table.columns)
    if missing:
        raise InputError(f"not a loghunt findings table (lacks {sorted(missing)})", file=origin)
    if not any(c.startswith(NORM_PREFIX) for c in table.columns):
        raise InputError("findings table has no per-detector score columns", file=origin)


def _threshold_from_table(table: pl.DataFrame) -> float:
    flagged = table.filter(pl.col(FLAGGED)).get_column(COMBINED)
    return float(flagged.min()) if flagged.len() else float("nan")  # type: ignore[arg-type]


def _infer_label(table: pl.DataFrame, metrics: list[dict[str, Any]]) -> str | None:
    """The label column a run used: the candidate whose ROC-AUC matches metrics.json's."""
    expected = next((m.get("roc_auc") for m in metrics if m.get("name") == "ensemble"), None)
    if not isinstance(expected, float) or np.isnan(expected):
        return None
    from sklearn.metrics import roc_auc_score

    from loghunt.pipeline import labels_to_bool

    booleans = [n for n, t in table.schema.items() if t == pl.Boolean and n != FLAGGED]
    candidates = [n for n in (*_LABEL_NAMES, *booleans) if n in table.columns]
    scores = table.get_column(COMBINED).to_numpy()
    for name in dict.fromkeys(candidates):
        truth = labels_to_bool(table.get_column(name))
        if 0 < truth.sum() < truth.size and abs(roc_auc_score(truth, scores) - expected) < 1e-6:
            return name
    return None
