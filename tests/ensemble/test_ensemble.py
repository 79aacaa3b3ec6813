from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.errors import ConfigError, NotFittedError


def _clustered(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=6.0, size=(4, 6))
    normal = centers[rng.integers(0, 4, 600)] + rng.normal(size=(600, 6))
    outliers = rng.uniform(-15, 15, size=(12, 6))
    X = np.vstack([normal, outliers]).astype(np.float32)
    return X, np.r_[np.zeros(600, bool), np.ones(12, bool)]


def test_one_graph_serves_every_neighbour_detector() -> None:
    X, y = _clustered()
    ens = DetectorEnsemble(("knn", "lof", "iforest"), n_neighbors=15).fit(X)
    assert ens.k_ == 15 and ens.index_ is not None
    for name, scores in ens.train_scores_.items():
        assert scores.shape == (X.shape[0],)
        assert roc_auc_score(y, scores) > 0.9, name


def test_largest_k_is_searched_once_and_each_detector_reads_its_own() -> None:
    X, _ = _clustered()
    ens = DetectorEnsemble(
        ("knn", "lof"), n_neighbors=10, detector_params={"lof": {"n_neighbors": 25}}
    ).fit(X)
    assert ens.k_ == 25
    assert ens.detectors_["knn"].n_neighbors == 10  # type: ignore[attr-defined]


def test_a_detector_on_another_metric_searches_for_itself() -> None:
    X, _ = _clustered()
    ens = DetectorEnsemble(("knn", "lof"), detector_params={"knn": {"metric": "cosine"}}).fit(X)
    assert not ens._shares_graph(ens.detectors_["knn"])
    assert ens._shares_graph(ens.detectors_["lof"])


def test_scoring_new_rows_matches_the_training_scale() -> None:
    X, _ = _clustered()
    new, _ = _clustered(seed=1)
    ens = DetectorEnsemble(("knn", "ecod")).fit(X)
    scores = ens.score(new[-12:])
    assert set(scores) == {"knn", "ecod"}
    # Far-away rows score above the training median for every detector.
    for name, s in scores.items():
        assert np.median(s) > np.median(ens.train_scores_[name]), name


def test_errors() -> None:
    with pytest.raises(NotFittedError):
        DetectorEnsemble().score(np.zeros((3, 2), np.float32))
    with pytest.raises(ConfigError):
        DetectorEnsemble(()).fit(np.zeros((3, 2), np.float32))


def test_threaded_fit_gives_the_serial_scores_and_times_every_step() -> None:
    X, _ = _clustered()
    specs = ("knn", "lof", "iforest", "ecod", "hbos", "loda")
    serial = DetectorEnsemble(specs, n_jobs=1).fit(X)
    threaded = DetectorEnsemble(specs, n_jobs=3).fit(X)
    assert serial.n_jobs_ == 1 and threaded.n_jobs_ == 3
    assert list(threaded.train_scores_) == list(specs)  # the detectors' order, not finishing
    for name in specs:
        np.testing.assert_allclose(threaded.train_scores_[name], serial.train_scores_[name])
    assert list(threaded.fit_seconds_) == ["neighbour graph", *specs]
    assert all(seconds > 0 for seconds in threaded.fit_seconds_.values())
    assert threaded.index_ is not None and threaded.shares_index("knn")


def test_small_matrices_fit_on_one_thread_by_default() -> None:
    X, _ = _clustered()
    assert DetectorEnsemble(("knn", "iforest")).fit(X).n_jobs_ == 1


def test_a_failing_detector_fails_a_threaded_fit() -> None:
    X, _ = _clustered()
    bad = DetectorEnsemble(
        ("knn", "iforest"), n_jobs=2, detector_params={"iforest": {"n_estimators": 0}}
    )
    with pytest.raises(ConfigError):
        bad.fit(X)


def test_learned_rows_are_refused_when_a_member_needs_them_exactly_and_the_index_rounds() -> None:
    import loghunt.index.neighbors as neighbors_module

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4)).astype(np.float32)
    new = rng.normal(size=(20, 4)).astype(np.float32)
    with pytest.MonkeyPatch.context() as patch:  # IVF (float16 lists) at this small size
        patch.setattr(neighbors_module.NeighborIndex, "_choose_method", lambda self, n: "ivf")
        alone = DetectorEnsemble(("knn",)).fit(X)
        mixed = DetectorEnsemble(("knn", "kc=knn(metric='cosine')")).fit(X)
    for ensemble in (alone, mixed):
        assert ensemble.index_ is not None and ensemble.index_.holds_float16
        ensemble.learn(new)
    rows, _ = alone.learned_rows(20)
    np.testing.assert_allclose(rows, new, rtol=1e-3, atol=1e-3)  # rounded, enough for itself
    # kc keeps its own (cosine) index of the rows as given: rounded ones would change it.
    assert mixed.learned_rows(20) is None
