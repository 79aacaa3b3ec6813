"""kNN and LOF against scikit-learn on exact search, and their neighbour-specific behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from loghunt.detectors import KNNDetector, LOFDetector
from loghunt.errors import ConfigError
from loghunt.index import build_graph


def _aggregate(distances: np.ndarray, method: str) -> np.ndarray:
    if method == "largest":
        return distances[:, -1]
    return distances.mean(axis=1) if method == "mean" else np.median(distances, axis=1)


@pytest.mark.parametrize("method", ["largest", "mean", "median"])
def test_knn_matches_scikit_learn_neighbours_self_excluded(method, planted) -> None:
    k = 7
    detector = KNNDetector(n_neighbors=k, method=method).fit(planted.X)
    reference = NearestNeighbors(n_neighbors=k).fit(planted.X.astype(np.float64))
    expected = _aggregate(reference.kneighbors()[0], method)  # no X: self excluded, like PyOD
    assert spearmanr(detector.train_scores_, expected).statistic >= 0.99
    np.testing.assert_allclose(detector.train_scores_, expected, rtol=1e-4, atol=1e-4)
    expected_new = _aggregate(reference.kneighbors(planted.X_new)[0], method)
    np.testing.assert_allclose(detector.score(planted.X_new), expected_new, rtol=1e-4, atol=1e-4)


def test_knn_cosine_and_ip_scores_follow_their_distances(planted_unit) -> None:
    X = planted_unit.X.astype(np.float64)
    similarity = X @ X.T
    np.fill_diagonal(similarity, -np.inf)
    fifth = -np.sort(-similarity, axis=1)[:, 4]  # 5th most similar other row
    cosine = KNNDetector(n_neighbors=5, metric="cosine").fit(planted_unit.X)
    inner = KNNDetector(n_neighbors=5, metric="ip").fit(planted_unit.X)
    np.testing.assert_allclose(cosine.train_scores_, 1.0 - fifth, atol=1e-5)
    np.testing.assert_allclose(inner.train_scores_, -fifth, atol=1e-5)


def test_lof_matches_scikit_learn(planted) -> None:
    detector = LOFDetector(n_neighbors=20).fit(planted.X)
    reference = LocalOutlierFactor(n_neighbors=20).fit(planted.X.astype(np.float64))
    expected = -reference.negative_outlier_factor_
    assert spearmanr(detector.train_scores_, expected).statistic >= 0.99
    np.testing.assert_allclose(detector.train_scores_, expected, rtol=1e-4)
    novelty = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(planted.X.astype(np.float64))
    np.testing.assert_allclose(
        detector.score(planted.X_new), -novelty.score_samples(planted.X_new), rtol=1e-4
    )


def test_lof_survives_many_duplicate_rows(planted) -> None:
    # 30 copies of one row: more duplicates than neighbours, so their mean reachability
    # distance is 0; the density is capped instead of becoming infinite.
    X = np.vstack([planted.X, np.repeat(planted.X[:1], 30, axis=0)])
    detector = LOFDetector(n_neighbors=10).fit(X)
    assert np.isfinite(detector.train_scores_).all()
    assert np.isfinite(detector.lrd_).all()
    assert np.isfinite(detector.score(planted.X_new)).all()


def test_lof_rejects_inner_product() -> None:
    with pytest.raises(ConfigError, match="non-negative"):
        LOFDetector(metric="ip").fit(np.eye(5))


@pytest.mark.parametrize("cls", [KNNDetector, LOFDetector])
def test_bad_parameters_raise_config_error(cls) -> None:
    X = np.random.default_rng(0).normal(size=(20, 2))
    for params in ({"n_neighbors": 0}, {"n_neighbors": 2.5}, {"metric": "manhattan"}):
        with pytest.raises(ConfigError):
            cls(**params).fit(X)
    with pytest.raises(ConfigError, match="method"):
        KNNDetector(method="max").fit(X)


def test_detector_keeps_the_graphs_index_instead_of_building_one(planted) -> None:
    index, graph = build_graph(planted.X, k=20)
    knn = KNNDetector().fit(planted.X, graph=graph)
    lof = LOFDetector().fit(planted.X, graph=graph)
    assert knn.index_ is index and lof.index_ is index


def test_bare_graph_gets_its_own_index(planted) -> None:
    _, graph = build_graph(planted.X, k=20)
    bare = type(graph)(graph.indices, graph.distances, graph.metric)
    detector = LOFDetector().fit(planted.X, graph=bare)
    np.testing.assert_allclose(
        detector.score(planted.X_new), LOFDetector().fit(planted.X).score(planted.X_new)
    )


def test_restored_detector_without_index_needs_a_graph(planted) -> None:
    index, graph = build_graph(planted.X, k=20)
    fitted = LOFDetector().fit(planted.X, graph=graph)
    restored = LOFDetector.from_arrays(fitted.get_config(), fitted.to_arrays())
    with pytest.raises(ConfigError, match="graph="):
        restored.score(planted.X_new)
    np.testing.assert_array_equal(
        restored.score(planted.X_new, graph=index.search(planted.X_new, 20)),
        fitted.score(planted.X_new),
    )
    small_index, _ = build_graph(planted.X[:50], k=5)
    with pytest.raises(ConfigError, match="reference rows"):
        LOFDetector.from_arrays(fitted.get_config(), fitted.to_arrays(), index=small_index)
