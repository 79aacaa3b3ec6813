"""Novelty mode: learned events join the neighbour reference; flagged events never do."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from loghunt.detectors import make_detector
from loghunt.index import NeighborIndex
from loghunt.model import load_model, save_model
from loghunt.schema import normalize

RNG = np.random.default_rng(7)
BASE = RNG.normal(size=(2_000, 5)).astype(np.float32)
BASE[:25] = BASE[0]  # duplicates: k-distance 0, capped density
NEW_CLUSTER = RNG.normal(4.0, 0.3, size=(80, 5)).astype(np.float32)
QUERIES = np.vstack([RNG.normal(size=(60, 5)), RNG.normal(4.0, 0.3, size=(20, 5))]).astype(
    np.float32
)


@pytest.mark.parametrize("metric", ["l2", "cosine"])
@pytest.mark.parametrize("name", ["knn", "lof"])
def test_learning_equals_fitting_on_the_grown_reference(name, metric) -> None:
    """Exact search: fit on A, learn B in batches == fit on A + B (k-distances, densities)."""
    learner = make_detector(name, n_neighbors=15, metric=metric).fit(BASE)
    batches = [NEW_CLUSTER[:1], NEW_CLUSTER[1:4], NEW_CLUSTER[4:], RNG.normal(size=(150, 5))]
    reference = BASE
    for batch in batches:
        learner.learn(batch)
        reference = np.vstack([reference, batch.astype(np.float32)])
        refit = make_detector(name, n_neighbors=15, metric=metric).fit(reference)
        np.testing.assert_allclose(learner.score(QUERIES), refit.score(QUERIES), rtol=1e-6)
        assert learner.n_reference_ == reference.shape[0]
        if name == "lof":
            np.testing.assert_allclose(learner.k_distance_, refit.k_distance_, rtol=1e-6)
            np.testing.assert_allclose(learner.lrd_, refit.lrd_, rtol=1e-6)
    fitted = make_detector(name, n_neighbors=15, metric=metric).fit(BASE)
    np.testing.assert_array_equal(learner.train_scores_, fitted.train_scores_)  # calibration kept


@pytest.mark.parametrize("method", ["exact", "ivf", "hnsw"])
def test_an_index_finds_appended_rows_and_saves_them(method, tmp_path) -> None:
    index = NeighborIndex(method=method, tune_k=5).fit(RNG.normal(size=(6_000, 5)))
    n_before = index.n_reference_
    assert index.add(NEW_CLUSTER) == len(NEW_CLUSTER)
    assert index.n_reference_ == n_before + len(NEW_CLUSTER)
    found = index.search(NEW_CLUSTER, 1)
    np.testing.assert_array_equal(found.indices[:, 0], np.arange(n_before, index.n_reference_))
    stored = index.reconstruct(n_before, index.n_reference_)
    # IVF lists hold float16 (each row minus its list's centre); the others float32.
    tolerance = 1e-3 if method == "ivf" else 0.0
    np.testing.assert_allclose(stored, NEW_CLUSTER, rtol=tolerance or 1e-7, atol=tolerance)
    index.save(tmp_path / "idx")
    again = NeighborIndex.load(tmp_path / "idx").search(NEW_CLUSTER, 3)
    np.testing.assert_array_equal(again.indices, index.search(NEW_CLUSTER, 3).indices)


def _new_team(events: pl.DataFrame) -> pl.DataFrame:
    """Normal work by people the baseline never saw, from a network it never saw."""
    normal = events.filter(~pl.col("is_attack"))
    member = np.arange(normal.height) % 4
    return normal.with_columns(
        pl.Series("actor.user.name", [f"newhire{m}" for m in member]),
        pl.Series("src_endpoint.ip", [f"203.0.113.{m}" for m in member]),
    )


def test_learning_a_new_normal_cluster_lowers_its_later_scores(periods, fit_pipeline) -> None:
    pipeline = fit_pipeline(detectors=("knn", "lof", "ecod"))
    team = _new_team(periods.later)
    learn, later = team[: team.height // 2], team[team.height // 2 :]
    before = pipeline.score(later).table
    ecod_state = {k: v.copy() for k, v in pipeline.ensemble_.detectors_["ecod"].to_arrays().items()}
    assert pipeline.learn(learn) == learn.height
    after = pipeline.score(later).table
    # Before: many of the new team's events are flagged; after learning half of them, the
    # other half sits among learned neighbours (measured: 132 of 242 flagged, then 4).
    for name in ("knn", "lof"):
        assert after[f"score.{name}"].mean() < 0.95 * before[f"score.{name}"].mean(), name
    assert after["combined_score"].mean() < before["combined_score"].mean() - 0.05
    assert 4 * after["flagged"].sum() < before["flagged"].sum()
    # Detectors without a reference set keep what fit learned.
    for key, value in pipeline.ensemble_.detectors_["ecod"].to_arrays().items():
        np.testing.assert_array_equal(value, ecod_state[key])
    assert pipeline.n_learned_ == learn.height


def test_score_with_learn_adds_exactly_the_unflagged_events(periods, fit_pipeline) -> None:
    pipeline = fit_pipeline(detectors=("knn", "lof"), contamination=0.05)
    index = pipeline.ensemble_.index_
    n_before = index.n_reference_
    events = normalize(periods.later).with_row_index("position")  # normalize adds event_id
    findings = pipeline.score(events, learn=True)
    flagged = findings.table.filter(pl.col("flagged"))
    assert 0 < flagged.height < events.height
    kept = events.join(flagged.select("event_id"), on="event_id", how="anti").sort("position")
    assert index.n_reference_ == n_before + kept.height == n_before + pipeline.n_learned_
    # The rows appended to the index are exactly the unflagged events' features, in order.
    X = pipeline.featurizer_.transform(normalize(events))
    learned_rows = index.reconstruct(n_before, index.n_reference_)
    np.testing.assert_array_equal(learned_rows, X[kept.get_column("position").to_numpy()])
    assert pipeline.ensemble_.detectors_["lof"].lrd_.shape == (index.n_reference_,)


def test_learning_without_neighbour_detectors_adds_nothing(periods, fit_pipeline) -> None:
    pipeline = fit_pipeline(detectors=("ecod", "iforest"))
    assert pipeline.learn(periods.later) == 0
    assert pipeline.learn(periods.later[:0]) == 0


def test_learned_events_survive_save_and_load(periods, fit_pipeline, tmp_path) -> None:
    pipeline = fit_pipeline(detectors=("knn", "lof", "ecod"))
    pipeline.score(periods.later, learn=True)
    loaded = load_model(save_model(pipeline, tmp_path / "m"))
    assert loaded.n_learned_ == pipeline.n_learned_ > 0
    assert loaded.ensemble_.index_.n_reference_ == pipeline.ensemble_.index_.n_reference_
    one = periods.later[:1]  # a single event can be learned too
    assert loaded.learn(one) == pipeline.learn(one) == 1
    a, b = loaded.score(periods.later).table, pipeline.score(periods.later).table
    np.testing.assert_array_equal(a["combined_score"].to_numpy(), b["combined_score"].to_numpy())
