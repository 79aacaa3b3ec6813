"""Isolation Forest against scikit-learn, and the k-means cluster-distance detector."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.ensemble import IsolationForest

from loghunt.detectors import IForestDetector, KMeansDetector
from loghunt.errors import ConfigError


@pytest.mark.parametrize("max_samples", ["auto", 64, 0.5])
def test_iforest_equals_scikit_learn_score_samples(max_samples, planted) -> None:
    params = {"n_estimators": 30, "max_samples": max_samples, "random_state": 3}
    detector = IForestDetector(**params).fit(planted.X)
    forest = IsolationForest(**params).fit(planted.X)
    np.testing.assert_allclose(detector.train_scores_, -forest.score_samples(planted.X))
    np.testing.assert_allclose(detector.score(planted.X_new), -forest.score_samples(planted.X_new))


def test_iforest_bad_parameters_raise_config_error(planted) -> None:
    with pytest.raises(ConfigError):
        IForestDetector(n_estimators=0).fit(planted.X)


def test_kmeans_without_normalising_is_the_distance_to_the_nearest_centroid(planted) -> None:
    detector = KMeansDetector(n_clusters=4, normalize=False).fit(planted.X)
    reference = KMeans(n_clusters=4, n_init=3, random_state=0).fit(planted.X)
    expected = reference.transform(planted.X).min(axis=1)
    np.testing.assert_allclose(np.sort(detector.train_scores_), np.sort(expected), rtol=1e-4)


def test_kmeans_drops_clusters_of_a_few_outliers(planted) -> None:
    detector = KMeansDetector(n_clusters=12).fit(planted.X)
    assert len(detector.cluster_centers_) < 12  # the planted outliers' own clusters
    outliers = detector.train_scores_[planted.y]
    assert outliers.min() > detector.train_scores_[~planted.y].max()


def test_kmeans_auto_chooses_a_candidate(planted) -> None:
    detector = KMeansDetector(n_clusters="auto").fit(planted.X)
    assert detector.n_clusters_ in (2, 4, 8, 16, 32)


def test_kmeans_clamps_to_distinct_rows() -> None:
    X = np.repeat(np.eye(3), 10, axis=0)
    with pytest.warns(UserWarning, match="distinct rows"):
        detector = KMeansDetector(n_clusters=8).fit(X)
    assert detector.n_clusters_ == 3
    # Duplicates sit on their centroid: no spread, so the scale falls back (to 1 here).
    np.testing.assert_allclose(detector.train_scores_, 0.0, atol=1e-9)
    np.testing.assert_array_equal(detector.cluster_scale_, 1.0)


def test_kmeans_large_input_uses_a_sample_and_minibatch() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60_000, 4)).astype(np.float32)
    X[:10] = 12.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector = KMeansDetector(n_clusters=4).fit(X)
    assert detector.train_scores_[:10].min() > np.quantile(detector.train_scores_, 0.999)


@pytest.mark.parametrize("n_clusters", [0, -3, "many", True, 2.5])
def test_kmeans_bad_n_clusters_raise_config_error(n_clusters, planted) -> None:
    with pytest.raises(ConfigError, match="n_clusters"):
        KMeansDetector(n_clusters=n_clusters).fit(planted.X)
