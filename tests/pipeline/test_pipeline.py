from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from loghunt import Pipeline
from loghunt.errors import ConfigError, NotFittedError
from loghunt.output.findings import COMBINED, FLAGGED, RANK, VOTES
from loghunt.pipeline import labels_to_bool
from loghunt.synth import generate_cloudtrail_table


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return generate_cloudtrail_table(8_000, seed=0)


def test_fit_score_ranks_events_and_reports_metrics(events: pl.DataFrame) -> None:
    pipe = Pipeline(labels="is_attack", exclude=("attack",)).fit(events)
    used = pipe.featurizer_.schema_.input_columns
    assert "is_attack" not in used and "attack" not in used, "ground truth must not be a feature"
    findings = pipe.score(events)
    table = findings.table
    assert table.height == events.height
    assert table.get_column(RANK).to_list() == list(range(1, events.height + 1))
    combined = table.get_column(COMBINED).to_numpy()
    assert np.all(np.diff(combined) <= 0), "findings must be sorted by combined score"
    assert set(findings.detectors) == {"knn", "ecod"}
    for name in findings.detectors:
        assert table.get_column(f"norm.{name}").is_between(0, 1).all()
    assert table.get_column(VOTES).max() <= len(findings.detectors)
    assert 0 < findings.n_flagged <= 0.02 * events.height
    ensemble = next(m for m in findings.metrics if m.name == "ensemble")
    assert ensemble.roc_auc > 0.75, ensemble  # chance is 0.5
    assert "attack" in table.columns and "is_attack" in table.columns


def test_pandas_input_gives_the_same_findings(events: pl.DataFrame) -> None:
    pytest.importorskip("pandas")
    small = events.head(1_500)
    from_polars = Pipeline(exclude=("attack", "is_attack")).fit_score(small)
    from_pandas = Pipeline(exclude=("attack", "is_attack")).fit_score(small.to_pandas())
    assert from_polars.table.get_column("event_id").to_list() == (
        from_pandas.table.get_column("event_id").to_list()
    )


def test_scoring_new_events_against_a_baseline(events: pl.DataFrame) -> None:
    baseline, new = events.head(6_000), events.tail(2_000)
    pipe = Pipeline(exclude=("attack", "is_attack"), detectors=("knn", "iforest")).fit(baseline)
    findings = pipe.score(new)
    assert findings.table.height == 2_000
    assert np.isfinite(findings.table.get_column(COMBINED).to_numpy()).all()


def test_min_votes_rule(events: pl.DataFrame) -> None:
    findings = Pipeline(exclude=("attack", "is_attack"), min_votes=2).fit_score(events.head(2_000))
    flagged = findings.table.filter(pl.col(FLAGGED))
    assert (flagged.get_column(VOTES) >= 2).all()


def test_errors_are_clear() -> None:
    with pytest.raises(NotFittedError):
        Pipeline().score(pl.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(ConfigError, match="contamination"):
        Pipeline(contamination=0.9).fit(pl.DataFrame({"x": [1.0, 2.0, 3.0]}))
    with pytest.raises(ConfigError, match=r"unknown|Unknown|detector"):
        Pipeline(detectors=("nope",)).fit(pl.DataFrame({"x": np.arange(50.0)}))
    with pytest.raises(ConfigError, match="DataFrame"):
        Pipeline().fit([1, 2, 3])


def test_labels_to_bool_understands_common_label_styles() -> None:
    assert labels_to_bool(pl.Series(["-", "KERNDTLB", None, "normal"])).tolist() == [
        False,
        True,
        False,
        False,
    ]
    assert labels_to_bool(pl.Series([0, 1, None])).tolist() == [False, True, False]


def test_reference_size_bounds_the_neighbour_index(events: pl.DataFrame) -> None:
    sampled = Pipeline(reference_size=500).fit(events)
    assert sampled.ensemble_.index_ is not None
    assert sampled.ensemble_.index_.n_reference_ == 500
    assert sampled.ensemble_.get_config()["reference_size"] == 500
    whole = Pipeline(reference_size=events.height).fit(events)
    assert whole.ensemble_.index_ is not None
    assert whole.ensemble_.index_.n_reference_ == events.height
    with pytest.raises(ConfigError, match="reference_size"):
        Pipeline(reference_size=1).fit(events)


def test_learning_leaves_out_events_over_the_cut_even_when_a_budget_unflags_them(
    events: pl.DataFrame,
) -> None:
    baseline, new = events.head(3_000), events.slice(3_000, 300)
    pipe = Pipeline(exclude=("attack", "is_attack"), budget="1").fit(baseline)
    findings, normal, unflagged = pipe.score_unlearned(new)
    assert findings.n_flagged <= 1
    table = (
        pipe._prepare(new)
        .select("event_id")
        .join(findings.table.select("event_id", COMBINED), on="event_id", maintain_order="left")
    )
    over = table.get_column(COMBINED).to_numpy() >= findings.thresholds["contamination"]
    assert 1 < over.sum() < new.height
    assert np.array_equal(normal, pipe.featurizer_.transform(pipe._prepare(new))[~over])
    assert np.array_equal(unflagged, ~over)


def test_model_version_follows_a_replaced_config(events: pl.DataFrame) -> None:
    pipe = Pipeline(exclude=("attack", "is_attack")).fit(events.head(1_000))
    version = pipe.model_version()
    assert pipe.model_version() == version == pipe.score(events.head(5)).model_version
    pipe.config = replace(pipe.config, explain_top=3)  # a threshold setting: same model
    assert pipe.model_version() == version
    pipe.config = replace(pipe.config, n_neighbors=7)
    assert pipe.model_version() != version


def test_calls_side_by_side_each_time_their_own_steps(events: pl.DataFrame) -> None:
    pipe = Pipeline(exclude=("attack", "is_attack")).fit(events.head(2_000))
    batches = [events.slice(2_000 + 50 * i, 50) for i in range(24)]

    def score(batch: pl.DataFrame) -> tuple[dict[str, float], float]:
        started = time.perf_counter()
        findings = pipe.score(batch)
        return findings.timings, time.perf_counter() - started

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(score, batches))
    for timings, wall in results:
        assert set(timings) == {"featurize", "detect", "explain"}
        assert sum(timings.values()) <= wall
