"""ROD, CBLOF, INNE and the autoencoder: their own behaviour (the contract itself is checked
for all of them by test_common.py, their agreement with PyOD by test_pyod_agreement.py)."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from loghunt.detectors import (
    AutoEncoderDetector,
    CBLOFDetector,
    INNEDetector,
    RODDetector,
    available_detectors,
    make_detector,
)
from loghunt.detectors import autoencoder as autoencoder_module
from loghunt.detectors.cblof import _large_clusters
from loghunt.errors import ConfigError, MissingExtraError

HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_the_four_are_registered() -> None:
    assert {"rod", "cblof", "inne", "autoencoder"} <= set(available_detectors())


# -- ROD -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("d", "expected"), [(2, 1), (3, 1), (8, 56), (9, 64), (37, 64), (100, 100)]
)
def test_rod_subspaces_are_all_or_a_balanced_bounded_draw(d, expected) -> None:
    X = np.random.default_rng(0).normal(size=(50, d))
    subspaces = RODDetector().fit(X).subspaces_
    assert subspaces.shape == (expected, 3)
    assert len({tuple(s) for s in subspaces}) == expected  # distinct
    assert (np.diff(subspaces, axis=1) > 0).all()  # three different columns, sorted
    if math.comb(max(d, 3), 3) > expected:
        # Successive permutations: every column is used, about equally often.
        counts = np.bincount(subspaces.ravel(), minlength=d)
        assert counts.min() >= 1
        assert counts.max() - counts.min() <= 3


def test_rod_subspace_draw_follows_the_seed() -> None:
    X = np.random.default_rng(0).normal(size=(50, 20))
    first, again = RODDetector().fit(X), RODDetector().fit(X)
    other = RODDetector(random_state=1).fit(X)
    np.testing.assert_array_equal(first.subspaces_, again.subspaces_)
    assert not np.array_equal(first.subspaces_, other.subspaces_)


def test_rod_scores_do_not_depend_on_the_batch(planted) -> None:
    # PyOD recomputes the MAD on each scored batch; loghunt keeps the training one.
    detector = RODDetector().fit(planted.X)
    whole = detector.score(planted.X_new)
    np.testing.assert_allclose(detector.score(planted.X_new[:5]), whole[:5], rtol=1e-12)
    np.testing.assert_allclose(detector.score(planted.X), detector.train_scores_, rtol=1e-12)


def test_rod_fitted_on_a_sample_still_scores_every_row(planted) -> None:
    n = planted.X.shape[0]
    full = RODDetector().fit(planted.X)
    np.testing.assert_array_equal(
        RODDetector(max_samples=n).fit(planted.X).train_scores_, full.train_scores_
    )
    # The fitted state then comes from 300 rows: the normal rows' order moves (ROD's cubic
    # cost is sensitive to the median and scale), the planted outliers stay on top.
    sampled = RODDetector(max_samples=n // 2).fit(planted.X)
    assert sampled.train_scores_.shape == (n,)
    assert roc_auc_score(planted.y, sampled.train_scores_) > 0.95
    assert not np.allclose(sampled.train_scores_, full.train_scores_)


def test_rod_constant_data_scores_finitely() -> None:
    X = np.ones((30, 5))
    detector = RODDetector().fit(X)
    assert np.isfinite(detector.train_scores_).all()
    assert np.isfinite(detector.score(np.zeros((2, 5)))).all()


@pytest.mark.parametrize("params", [{"max_subspaces": 0}, {"max_samples": 2}, {"max_samples": 1.5}])
def test_rod_bad_parameters_raise_config_error(params, planted) -> None:
    with pytest.raises(ConfigError):
        RODDetector(**params).fit(planted.X)


# -- CBLOF ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sizes", "large"),
    [
        ([50, 45, 3, 2], [True, True, False, False]),  # both rules at 2
        ([3, 50, 2, 45], [False, True, False, True]),  # the same, unsorted
        ([30, 30, 30, 10], [True, True, True, False]),  # alpha alone (90 of 100)
        ([60, 10, 10, 10, 10], [True] * 4 + [False]),  # alpha (at 4) beats beta (at 1)
        ([66, 11, 11, 12], [True, False, False, False]),  # beta alone: 89 < 90 at best
        ([25, 25, 25, 25], [True] * 4),  # neither rule (PyOD raises): all large
        ([7], [True]),  # one cluster: nothing to cut
    ],
)
def test_cblof_large_small_cut_follows_pyods_rules(sizes, large) -> None:
    result = _large_clusters(np.array(sizes), alpha=0.9, beta=5.0)
    np.testing.assert_array_equal(result, large)


def test_cblof_small_cluster_rows_are_scored_from_the_large_centres() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (500, 2)), rng.normal(20, 0.1, (5, 2))])
    detector = CBLOFDetector(n_clusters=2).fit(X)
    assert detector.large_clusters_.sum() == 1
    big = detector.cluster_centers_[detector.large_clusters_][0]
    expected = np.linalg.norm(X[-5:] - big, axis=1)
    np.testing.assert_allclose(detector.train_scores_[-5:], expected, rtol=1e-6)  # float32 rows
    assert detector.train_scores_[-5:].min() > detector.train_scores_[:-5].max()


def test_cblof_weights_multiply_by_the_cluster_size(planted) -> None:
    plain = CBLOFDetector().fit(planted.X)
    weighted = CBLOFDetector(use_weights=True).fit(planted.X)
    _, label = plain._nearest(planted.X)
    np.testing.assert_allclose(
        weighted.train_scores_, plain.train_scores_ * plain.cluster_sizes_[label], rtol=1e-12
    )


def test_cblof_fitted_on_a_sample_scores_every_row(planted) -> None:
    sampled = CBLOFDetector(max_samples=150).fit(planted.X)
    assert sampled.cluster_sizes_.sum() == planted.X.shape[0]
    assert roc_auc_score(planted.y, sampled.train_scores_) > 0.95


@pytest.mark.parametrize("params", [{"alpha": 1.0}, {"beta": 1.0}, {"n_clusters": 0}])
def test_cblof_bad_parameters_raise_config_error(params, planted) -> None:
    with pytest.raises(ConfigError):
        CBLOFDetector(**params).fit(planted.X)


# -- INNE ----------------------------------------------------------------------------------------
def test_inne_rows_equal_to_duplicated_centres_are_covered() -> None:
    # Two values, each repeated: centres drawn twice have radius 0, and rows equal to them must
    # still fall inside (the distance expansion is a few ulps off 0 without the slack).
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 6)) * 1e3
    X = np.vstack([base[rng.integers(0, 2, 300)], base.mean(axis=0) + 5e3])
    scores = INNEDetector().fit(X).train_scores_
    assert scores[:-1].max() < 0.5 <= scores[-1]
    assert len(np.unique(scores[:-1].round(12))) <= 2


def test_inne_max_samples_variants(planted) -> None:
    n = planted.X.shape[0]
    assert INNEDetector().fit(planted.X).max_samples_ == 8
    assert INNEDetector(max_samples=0.05).fit(planted.X).max_samples_ == int(0.05 * n)
    few = planted.X[:40]
    with pytest.warns(UserWarning, match="max_samples"):
        assert INNEDetector(max_samples=45).fit(few).max_samples_ == len(few)


@pytest.mark.parametrize(
    "params",
    [{"max_samples": "all"}, {"max_samples": 0}, {"max_samples": 1.5}, {"n_estimators": 0}],
)
def test_inne_bad_parameters_raise_config_error(params, planted) -> None:
    with pytest.raises(ConfigError):
        INNEDetector(**params).fit(planted.X)


# -- autoencoder ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["torch", "sklearn"])
def test_autoencoder_backends_train_the_same_shape_and_find_the_outliers(backend, planted) -> None:
    if backend == "torch" and not HAS_TORCH:
        pytest.skip("torch is not installed (pip install 'loghunt[embed]')")
    detector = AutoEncoderDetector(backend=backend).fit(planted.X)
    assert detector.backend_ == backend
    d = planted.X.shape[1]
    assert detector.layer_sizes_.tolist() == [d, 64, 32, 64, d]
    assert detector.coefs_.size == sum(a * b + b for a, b in [(d, 64), (64, 32), (32, 64), (64, d)])
    assert roc_auc_score(planted.y, detector.train_scores_) > 0.95


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_autoencoder_auto_backend_is_torch_and_leaves_torch_state_alone(planted) -> None:
    import torch

    rng_state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    detector = make_detector("autoencoder").fit(planted.X)
    assert detector.backend_ == "torch"  # type: ignore[attr-defined]
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    assert torch.get_num_threads() == threads


def test_autoencoder_without_torch(planted, monkeypatch) -> None:
    monkeypatch.setattr(autoencoder_module, "_has_torch", lambda: False)
    assert AutoEncoderDetector().fit(planted.X[:100]).backend_ == "sklearn"
    with pytest.raises(MissingExtraError, match=r"loghunt\[embed\]"):
        AutoEncoderDetector(backend="torch").fit(planted.X)


def test_autoencoder_reconstruction_is_the_score(planted) -> None:
    detector = AutoEncoderDetector(backend="sklearn", epochs=2).fit(planted.X)
    z = (planted.X_new - detector.mean_) / detector.scale_
    h = z
    layers = detector._layers()
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        h = np.maximum(h, 0.0) if i < len(layers) - 1 else h
    np.testing.assert_allclose(detector.score(planted.X_new), np.linalg.norm(z - h, axis=1))


def test_autoencoder_trains_on_a_bounded_sample(planted) -> None:
    detector = AutoEncoderDetector(backend="sklearn", max_samples=100).fit(planted.X)
    assert detector.train_scores_.shape == (planted.X.shape[0],)


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_neurons": []},
        {"hidden_neurons": [8, 0]},
        {"epochs": 0},
        {"learning_rate": 0.0},
        {"backend": "jax"},
    ],
)
def test_autoencoder_bad_parameters_raise_config_error(params, planted) -> None:
    with pytest.raises(ConfigError):
        AutoEncoderDetector(**params).fit(planted.X)
