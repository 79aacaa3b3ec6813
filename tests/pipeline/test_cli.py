from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from loghunt.cli import app

runner = CliRunner()


def test_demo_end_to_end(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--events", "4000"])
    assert result.exit_code == 0, result.output
    assert "Top findings" in result.output and "ensemble" in result.output
    for name in (
        "findings.parquet",
        "findings.csv",
        "summary.json",
        "metrics.json",
        "dead_letters.jsonl",
    ):
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert any(m["name"] == "ensemble" for m in metrics)
    summary = json.loads((tmp_path / "summary.json").read_text())
    agreement = summary["agreement"]
    assert agreement["detectors"] == ["knn", "ecod"]
    assert agreement["spearman"][0][0] == 1.0


def test_hunt_writes_findings_and_dead_letters(tmp_path: Path) -> None:
    good = [
        {
            "eventName": "GetObject",
            "eventSource": "s3.amazonaws.com",
            "eventID": f"e{i}",
            "eventTime": f"2026-03-02T10:{i % 60:02d}:00Z",
            "userIdentity": {"userName": f"u{i % 3}"},
            "sourceIPAddress": "10.0.0.1",
            "userAgent": "aws-cli/2.0",
        }
        for i in range(60)
    ]
    lines = [json.dumps(r) for r in good]
    lines.insert(10, '{"broken": ')
    (tmp_path / "ct.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["hunt", str(tmp_path / "ct.jsonl"), "--out", str(out), "--detectors", "knn,iforest"]
    )
    assert result.exit_code == 0, result.output
    findings = pl.read_parquet(out / "findings.parquet")
    assert findings.height == 60
    dead = [json.loads(x) for x in (out / "dead_letters.jsonl").read_text().splitlines()]
    assert len(dead) == 1 and dead[0]["line"] == 11
    assert "1 dead-lettered" in result.output


def test_hunt_reports_a_clear_error_for_a_missing_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["hunt", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "error" in result.output.lower()


def test_hunt_a_parquet_table_with_a_label_column(tmp_path: Path) -> None:
    from loghunt.synth import generate_cloudtrail_table

    events = generate_cloudtrail_table(3_000, seed=0).drop("attack")
    events.write_parquet(tmp_path / "events.parquet")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["hunt", str(tmp_path / "events.parquet"), "--labels", "is_attack", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    metrics = {m["name"]: m for m in json.loads((out / "metrics.json").read_text())}
    assert set(metrics) == {"knn", "ecod", "votes", "ensemble"}
    assert metrics["ensemble"]["roc_auc"] > 0.7
    # The label column is shown in the findings but never used as a feature.
    assert "is_attack" in pl.read_parquet(out / "findings.parquet").columns


def test_bench_adbench_writes_its_tables(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(300, 4)), rng.normal(6.0, 1.0, size=(15, 4))])
    y = np.r_[np.zeros(300, int), np.ones(15, int)]
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "1_toy.npz", X=X, y=y)
    published = tmp_path / "published"
    published.mkdir()
    for name in ("adbench_unsupervised_aucroc_pct.csv", "adbench_unsupervised_aucpr_pct.csv"):
        (published / name).write_text("dataset,IForest\ntoy,90.0\n")
    result = runner.invoke(
        app,
        [
            "bench",
            "adbench",
            str(data),
            "--methods",
            "iforest,preset:default",
            "--seeds",
            "0",
            "--published",
            str(published),
            "--out",
            str(tmp_path / "out" / "ab"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "preset:default" in (tmp_path / "out" / "ab.md").read_text()
    assert (tmp_path / "out" / "ab_compare.csv").is_file()
