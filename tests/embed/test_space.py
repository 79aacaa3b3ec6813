"""--space embedding through the Pipeline, `loghunt hunt` and `loghunt embed`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from loghunt import Pipeline
from loghunt.cli import app
from loghunt.embed import Embedder
from loghunt.errors import ConfigError
from loghunt.schema import normalize
from loghunt.synth import (
    ScenarioConfig,
    generate_cloudtrail_table,
    generate_scenario,
    write_scenario,
)

FAST = {"dim": 16, "max_epochs": 2, "batch_size": 128, "n_threads": 1}
runner = CliRunner()


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return normalize(generate_cloudtrail_table(600, seed=3))


@pytest.fixture(scope="module")
def pipeline(events) -> Pipeline:
    return Pipeline(
        labels="is_attack", exclude=("attack",), space="embedding", embed_params=FAST
    ).fit(events)


def test_detectors_read_embeddings(pipeline, events) -> None:
    assert isinstance(pipeline.embedder_, Embedder) and pipeline.embedder_.dim == 16
    assert pipeline.ensemble_.n_features_in_ == 16
    assert "embed" in pipeline.timings_
    assert pipeline.embedding_checks_ is not None and pipeline.embedding_checks_.n_rows == 600
    findings = pipeline.score(events)
    assert findings.table.height == 600
    # The training events again: the leave-self-out training scores, as in feature space.
    again = pipeline.fit_score(events)
    np.testing.assert_allclose(
        np.sort(findings.table["combined_score"].to_numpy()),
        np.sort(again.table["combined_score"].to_numpy()),
    )


def test_new_events_score_and_learn_in_embedding_space(pipeline) -> None:
    fresh = normalize(generate_cloudtrail_table(200, seed=4))
    findings = pipeline.score(fresh)
    assert findings.table.height == 200
    assert np.isfinite(findings.table["combined_score"].to_numpy()).all()


def test_feature_space_has_no_embedder(events) -> None:
    pipe = Pipeline(exclude=("attack", "is_attack")).fit(events)
    assert pipe.embedder_ is None and pipe.embedding_checks_ is None
    with pytest.raises(ConfigError, match="space"):
        Pipeline(space="pixels").fit(events)
    with pytest.raises(ConfigError, match="embedder parameters"):
        Pipeline(space="embedding", embed_params={"colour": 1}).fit(events)


def _scenario(tmp_path: Path, n: int = 800):
    return write_scenario(generate_scenario(ScenarioConfig(n_events=n, seed=5)), tmp_path / "logs")


@pytest.mark.slow
def test_cli_hunt_with_space_embedding(tmp_path) -> None:
    written = _scenario(tmp_path)
    out = tmp_path / "out"
    args = ["hunt", str(written.cloudtrail_dir), str(written.auth_dir), "--out", str(out)]
    result = runner.invoke(
        app,
        [
            *args,
            "--labels",
            "is_attack",
            "--labels-file",
            str(written.labels),
            "--space",
            "embedding",
        ],
    )
    assert result.exit_code == 0, result.output
    checks = json.loads((out / "embedding_checks.json").read_text())
    assert {"silhouette", "perturbation_cosine", "neighbour_overlap"} <= set(checks)
    assert pl.read_parquet(out / "findings.parquet").height == 800
    bad = runner.invoke(app, [*args, "--space", "pixels"])
    assert bad.exit_code == 2 and "space must be one of" in bad.output


@pytest.mark.slow
def test_cli_embed_writes_vectors_and_checks(tmp_path) -> None:
    written = _scenario(tmp_path, 500)
    out = tmp_path / "emb"
    result = runner.invoke(
        app,
        ["embed", str(written.cloudtrail_dir), "--out", str(out), "--dim", "32", "--epochs", "2"],
    )
    assert result.exit_code == 0, result.output
    assert "Embedding checks" in result.output
    table = pl.read_parquet(out / "embeddings.parquet")
    assert table.columns == ["event_id", "vector"]
    assert table.schema["vector"] == pl.Array(pl.Float32, 32)
    assert table["event_id"].n_unique() == table.height > 0
    assert json.loads((out / "embedding_checks.json").read_text())["dim"] == 32


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_cloudtrail_attackers_rank_high_in_embedding_space(
    shared_data: Path, tmp_path
) -> None:
    archive = shared_data / "otrf_aws_cloudtrail" / "ec2_proxy_s3_exfiltration.zip"
    out = tmp_path / "out"
    result = runner.invoke(app, ["hunt", str(archive), "--out", str(out), "--space", "embedding"])
    assert result.exit_code == 0, result.output
    findings = pl.read_parquet(out / "findings.parquet")
    attacker = (pl.col("actor.user.type") == "AssumedRole") & pl.col(
        "http_request.user_agent"
    ).str.contains("aws-cli")
    truth = findings.select(attacker).to_series().to_numpy()
    assert truth.sum() == 11
    assert roc_auc_score(truth, findings["combined_score"].to_numpy()) >= 0.9
