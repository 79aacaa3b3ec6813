"""End to end on real CloudTrail from OTRF's Security-Datasets (no settings tuned to it)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from loghunt.cli import app


def test_attacker_events_rank_in_the_top_15(shared_data: Path, tmp_path: Path) -> None:
    archive = shared_data / "otrf_aws_cloudtrail" / "ec2_proxy_s3_exfiltration.zip"
    result = CliRunner().invoke(app, ["hunt", str(archive), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    findings = pl.read_parquet(tmp_path / "findings.parquet")
    assert findings.height == 103
    # Per the dataset's metadata, the attacker is the stolen role used with the aws-cli.
    attacker = (pl.col("actor.user.type") == "AssumedRole") & pl.col(
        "http_request.user_agent"
    ).str.contains("aws-cli")
    ranks = findings.filter(attacker).get_column("rank").to_list()
    assert len(ranks) == 11
    assert max(ranks) <= 15, sorted(ranks)
