"""End to end on real CloudTrail from OTRF's Security-Datasets (no settings tuned to it)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from loghunt.cli import app


def test_attacker_events_rank_at_the_top(shared_data: Path, tmp_path: Path) -> None:
    archive = shared_data / "otrf_aws_cloudtrail" / "ec2_proxy_s3_exfiltration.zip"
    result = CliRunner().invoke(app, ["hunt", str(archive), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    findings = pl.read_parquet(tmp_path / "findings.parquet")
    assert findings.height == 103
    # Per the dataset's metadata, the attacker is the stolen role used with the aws-cli.
    attacker = (pl.col("actor.user.type") == "AssumedRole") & pl.col(
        "http_request.user_agent"
    ).str.contains("aws-cli")
    truth = findings.select(attacker).to_series().to_numpy()
    ranks = sorted(findings.filter(attacker).get_column("rank").to_list())
    assert len(ranks) == 11
    assert roc_auc_score(truth, findings.get_column("combined_score").to_numpy()) >= 0.95
    assert ranks[-1] <= 15, ranks
