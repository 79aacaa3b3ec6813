"""Alert budgets (never more than N), best-F1 and the precision-recall trade-off table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from loghunt.cli import app
from loghunt.ensemble.thresholds import (
    BestF1Threshold,
    BudgetThreshold,
    apply_threshold,
    parse_budget,
    precision_recall_table,
)
from loghunt.errors import ConfigError
from loghunt.pipeline import Pipeline
from loghunt.synth import generate_cloudtrail_table

MS_PER_DAY = 86_400_000


def _random_case(
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = int(rng.integers(1, 400))
    # Few distinct values, so ties across the cut are common.
    scores = rng.integers(0, int(rng.integers(1, 30)), size=n).astype(np.float64)
    ms = rng.integers(0, 10 * MS_PER_DAY, size=n)
    times = ms.astype("datetime64[ms]")
    times[rng.random(n) < 0.05] = np.datetime64("NaT")
    candidates = rng.random(n) < rng.uniform(0.3, 1.0)
    return scores, times, candidates


def test_budgets_never_exceed_n_property() -> None:
    rng = np.random.default_rng(2026)
    for _ in range(300):
        scores, times, candidates = _random_case(rng)
        n = int(rng.integers(1, 25))
        flags = BudgetThreshold(per_day=n).flag(scores, times, candidates)
        assert not (flags & ~candidates).any()
        days = times.astype("datetime64[D]").astype(np.int64)
        for day in np.unique(days):
            on_day = days == day
            assert flags[on_day].sum() <= n
            # Nothing unflagged on a day beats a flagged event of that day (top events win).
            if flags[on_day].any() and (on_day & candidates & ~flags).any():
                assert scores[on_day & candidates & ~flags].max() <= scores[on_day & flags].min()
        total = BudgetThreshold(total=n).flag(scores, None, candidates)
        assert total.sum() <= n and not (total & ~candidates).any()


def test_budget_flags_exactly_n_per_day_without_ties() -> None:
    rng = np.random.default_rng(1)
    scores = rng.random(1_000)
    times = rng.integers(0, 5 * MS_PER_DAY, size=1_000).astype("datetime64[ms]")
    flags = BudgetThreshold(per_day=7).flag(scores, times)
    days = times.astype("datetime64[D]")
    assert all(flags[days == d].sum() == 7 for d in np.unique(days))
    assert BudgetThreshold(total=13).flag(scores).sum() == 13


def test_budget_accepts_polars_times_and_reports_its_cut() -> None:
    times = pl.Series([0, 1, MS_PER_DAY, MS_PER_DAY + 1]).cast(pl.Datetime("ms"))
    scores = np.array([0.5, 0.7, 0.2, 0.1])
    budget = BudgetThreshold(per_day=1).fit(scores, times)
    assert budget.flag(scores, times).tolist() == [False, True, True, False]
    assert budget.threshold_ == 0.2 and budget.label == "1/day"


def test_parse_budget_and_its_errors() -> None:
    assert parse_budget("20/day") == BudgetThreshold(per_day=20)
    assert parse_budget(" 20 / d ") == BudgetThreshold(per_day=20)
    assert parse_budget("50") == BudgetThreshold(total=50)
    for bad in ("", "0", "ten", "5/week", "-3"):
        with pytest.raises(ConfigError):
            parse_budget(bad)
    with pytest.raises(ConfigError, match="needs event times"):
        BudgetThreshold(per_day=3).flag(np.zeros(3))
    with pytest.raises(ConfigError, match="not both"):
        BudgetThreshold(per_day=3, total=4).flag(np.zeros(3))


def test_apply_threshold_without_budget_only_removes_excluded() -> None:
    flags = np.array([True, True, False])
    final, before = apply_threshold(flags, np.zeros(3), excluded=np.array([True, False, True]))
    assert final.tolist() == [False, True, False] and before.tolist() == flags.tolist()


def test_precision_recall_table_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    scores = np.round(rng.random(500), 2)
    truth = rng.random(500) < 0.1
    best = BestF1Threshold().fit(scores, truth)
    table = precision_recall_table(scores, truth, {"best_f1": best.threshold_})
    for row in table.iter_rows(named=True):
        flagged = scores >= row["threshold"]
        tp = int((flagged & truth).sum())
        assert row["n_flagged"] == flagged.sum() and row["true_positives"] == tp
        assert row["precision"] == pytest.approx(tp / flagged.sum())
        assert row["recall"] == pytest.approx(tp / truth.sum())
    assert table["threshold"].is_sorted(descending=True)
    best_row = table.filter(pl.col("name") == "best_f1")
    assert best_row["f1"][0] == pytest.approx(best.f1_) == pytest.approx(table["f1"].max())


def test_precision_recall_table_measures_a_set_of_flags() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    truth = np.array([True, False, True, False])
    flags = np.array([True, False, True, False])  # not a single cut
    table = precision_recall_table(scores, truth, ks=(), flagged={"budget": flags})
    row = table.row(0, named=True)
    assert (row["name"], row["n_flagged"], row["precision"], row["recall"]) == (
        "budget",
        2,
        1.0,
        1.0,
    )
    assert row["threshold"] == 0.7


def test_pipeline_budget_per_day_and_pr_table() -> None:
    events = generate_cloudtrail_table(3_000, seed=4)
    findings = Pipeline(
        labels="is_attack", exclude=("attack",), detectors=("ecod",), budget="4/day"
    ).fit_score(events)
    flagged = findings.flagged()
    per_day = flagged.group_by(pl.col("time").dt.date()).len()
    assert per_day["len"].max() <= 4
    assert findings.n_flagged == per_day["len"].sum() > 0
    assert findings.threshold == pytest.approx(flagged["combined_score"].min())
    assert set(findings.thresholds) == {"contamination", "budget", "best_f1"}
    assert findings.pr_table is not None
    names = findings.pr_table["name"].to_list()
    assert {"contamination", "budget", "best_f1", "top 10"} <= set(names)
    budget_row = findings.pr_table.filter(pl.col("name") == "budget").row(0, named=True)
    assert budget_row["n_flagged"] == findings.n_flagged


def test_cli_budget_and_pr_table_file(tmp_path: Path) -> None:
    events = generate_cloudtrail_table(2_000, seed=6)
    events.write_parquet(tmp_path / "events.parquet")
    out = tmp_path / "out"
    args = ["hunt", str(tmp_path / "events.parquet"), "--out", str(out), "--labels", "is_attack"]
    result = CliRunner().invoke(app, [*args, "--exclude", "attack", "--budget", "25"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_flagged"] <= 25 and "budget" in summary["thresholds"]
    table = pl.read_csv(out / "pr_table.csv")
    assert {"name", "threshold", "n_flagged", "precision", "recall", "f1"} <= set(table.columns)
    bad = CliRunner().invoke(app, [*args, "--budget", "lots"])
    assert bad.exit_code == 2 and "budget" in bad.output
