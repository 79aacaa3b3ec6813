"""`loghunt fit` then `loghunt score` (with and without --learn) from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import polars as pl
from typer.testing import CliRunner

from loghunt.cli import app

runner = CliRunner()


def _write(periods, tmp_path: Path) -> tuple[Path, Path]:
    baseline, later = tmp_path / "baseline.parquet", tmp_path / "later.parquet"
    periods.baseline.write_parquet(baseline)
    periods.later.write_parquet(later)
    return baseline, later


def _words(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_fit_then_score_then_learn(periods, tmp_path) -> None:
    baseline, later = _write(periods, tmp_path)
    model, out = tmp_path / "model", tmp_path / "out"
    fitted = runner.invoke(
        app,
        ["fit", str(baseline), "--model", str(model), "--labels", "is_attack", "--exclude",
         "attack", "--detectors", "knn,lof,ecod"],
    )  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    assert "Fitted on 1,900 events" in fitted.output
    assert (model / "manifest.json").is_file()

    scored = runner.invoke(app, ["score", str(later), "--model", str(model), "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    assert "Top findings" in scored.output and "ensemble" in scored.output  # labels: metrics
    findings = pl.read_parquet(out / "findings.parquet")
    assert findings.height == periods.later.height
    assert json.loads((out / "summary.json").read_text())["n_events"] == periods.later.height
    manifest = orjson.loads((model / "manifest.json").read_bytes())
    assert manifest["training"]["n_learned"] == 0  # scoring alone leaves the model as it was

    learned = runner.invoke(
        app, ["score", str(later), "--model", str(model), "--out", str(out), "--learn"]
    )
    assert learned.exit_code == 0, learned.output
    n_unflagged = findings.filter(~pl.col("flagged")).height
    assert f"Learned {n_unflagged:,} events" in learned.output
    manifest = orjson.loads((model / "manifest.json").read_bytes())
    assert manifest["training"]["n_learned"] == n_unflagged


def test_score_errors_are_clear(periods, tmp_path) -> None:
    baseline, later = _write(periods, tmp_path)
    missing = runner.invoke(app, ["score", str(later), "--model", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "not a loghunt model" in _words(missing.output)
    model = tmp_path / "model"
    assert runner.invoke(app, ["fit", str(baseline), "--model", str(model)]).exit_code == 0
    other = tmp_path / "other.parquet"
    periods.later.drop("api.operation").write_parquet(other)
    mismatch = runner.invoke(app, ["score", str(other), "--model", str(model)])
    assert mismatch.exit_code == 2
    assert "lacks column(s) the featurizer was fitted on: api.operation" in _words(mismatch.output)
