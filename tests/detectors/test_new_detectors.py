"""COPOD, HBOS, PCA, OCSVM, LODA, GMM, Mahalanobis and the PyOD adapter: their own behaviour
(the contract itself is checked for all of them by test_common.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.covariance import MinCovDet
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.svm import OneClassSVM

from loghunt.detectors import (
    COPODDetector,
    GMMDetector,
    HBOSDetector,
    LODADetector,
    MahalanobisDetector,
    OCSVMDetector,
    PCADetector,
    PyODDetector,
    available_detectors,
    detector_class,
    make_detector,
)
from loghunt.errors import ConfigError, MissingExtraError

NEW = {"copod", "gmm", "hbos", "loda", "mahalanobis", "ocsvm", "pca"}


def test_new_detectors_are_registered() -> None:
    assert set(available_detectors()) >= NEW
    assert not any(name.startswith("pyod") for name in available_detectors())


@pytest.mark.parametrize("cls", [COPODDetector, HBOSDetector])
def test_feature_scores_sum_to_the_score_and_point_at_the_odd_feature(cls, planted) -> None:
    detector = cls().fit(planted.X)
    row = np.median(planted.X, axis=0, keepdims=True)
    row[0, 4] = 1e3
    per_feature = detector.feature_scores(row)
    assert per_feature.shape == (1, planted.X.shape[1])
    assert int(np.argmax(per_feature)) == 4
    np.testing.assert_allclose(per_feature.sum(axis=1), detector.score(row))


def test_copod_constant_column_scores_finitely_and_flags_change() -> None:
    X = np.c_[np.random.default_rng(0).normal(size=200), np.full(200, 3.0)]
    detector = COPODDetector().fit(X)
    assert np.isfinite(detector.train_scores_).all()
    assert detector.feature_scores([[0.0, 4.0]])[0, 1] > detector.feature_scores(X)[:, 1].max()


def test_hbos_values_outside_the_range_take_the_edge_bin_or_the_worst() -> None:
    X = np.linspace(0.0, 10.0, 101)[:, None]  # bins of width 1
    detector = HBOSDetector(n_bins=10, tol=0.5).fit(X)
    near, far = detector.feature_scores([[10.4]]), detector.feature_scores([[11.0]])
    assert near[0, 0] == detector.bin_scores_[0, -1]
    assert far[0, 0] == detector.bin_scores_[0].max()


@pytest.mark.parametrize(
    ("params", "match"),
    [({"n_bins": 1}, "n_bins"), ({"alpha": 0.0}, "alpha"), ({"tol": 2.0}, "tol")],
)
def test_hbos_rejects_bad_parameters(params, match, planted) -> None:
    with pytest.raises(ConfigError, match=match):
        HBOSDetector(**params).fit(planted.X)


def test_pca_scores_rows_that_break_correlations() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=500)
    X = np.c_[t, t + 0.05 * rng.normal(size=500), rng.normal(size=500)]
    detector = PCADetector().fit(X)
    along, across = detector.score([[2.0, 2.0, 0.0], [1.0, -1.0, 0.0]])
    assert across > 10 * along


def test_pca_n_components_is_clamped_with_a_warning_and_takes_a_share(planted) -> None:
    with pytest.warns(UserWarning, match="n_components"):
        detector = PCADetector(n_components=50).fit(planted.X)
    assert detector.components_.shape == (planted.X.shape[1], planted.X.shape[1])
    share = PCADetector(n_components=0.9).fit(planted.X)
    assert 1 <= share.components_.shape[0] < planted.X.shape[1]
    with pytest.raises(ConfigError, match="n_components"):
        PCADetector(n_components=1.5).fit(planted.X)


@pytest.mark.parametrize("kernel", ["rbf", "linear", "poly", "sigmoid"])
def test_exact_ocsvm_equals_scikit_learn(kernel, planted) -> None:
    X = planted.X.astype(np.float64)
    detector = OCSVMDetector(kernel=kernel, nu=0.2).fit(X)
    reference = OneClassSVM(kernel=kernel, nu=0.2, gamma="scale").fit(X)
    np.testing.assert_allclose(
        detector.score(planted.X_new), -reference.decision_function(planted.X_new), atol=1e-6
    )


def test_ocsvm_above_max_exact_uses_nystroem_and_sgd(planted) -> None:
    detector = OCSVMDetector(max_exact=200).fit(planted.X)
    assert not detector.exact_
    assert detector.basis_.shape == (300, planted.X.shape[1])
    assert roc_auc_score(planted.y, detector.train_scores_) > 0.95
    arrays = detector.to_arrays()
    restored = OCSVMDetector.from_arrays(json.loads(json.dumps(detector.get_config())), arrays)
    np.testing.assert_array_equal(restored.score(planted.X_new), detector.score(planted.X_new))


@pytest.mark.parametrize(
    ("params", "match"),
    [({"kernel": "cubic"}, "kernel"), ({"nu": 0.0}, "nu"), ({"gamma": "wide"}, "gamma")],
)
def test_ocsvm_rejects_bad_parameters(params, match, planted) -> None:
    with pytest.raises(ConfigError, match=match):
        OCSVMDetector(**params).fit(planted.X)


def test_loda_seed_changes_projections_and_bad_bins_are_refused(planted) -> None:
    first = LODADetector(random_state=0).fit(planted.X)
    other = LODADetector(random_state=1).fit(planted.X)
    assert not np.array_equal(first.projections_, other.projections_)
    # int(sqrt(6)) = 2 features per projection, as PyOD draws them.
    assert ((first.projections_ != 0).sum(axis=1) == 2).all()
    with pytest.raises(ConfigError, match="n_bins"):
        LODADetector(n_bins=1).fit(planted.X)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gmm_equals_scikit_learn(covariance_type, planted) -> None:
    X = planted.X.astype(np.float64)
    detector = GMMDetector(n_components=4, covariance_type=covariance_type).fit(X)
    mixture = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
    np.testing.assert_allclose(
        detector.score(planted.X_new), -mixture.score_samples(planted.X_new), rtol=1e-5
    )


def test_gmm_clamps_components_and_refuses_bad_types(planted) -> None:
    with pytest.warns(UserWarning, match="n_components"):
        detector = GMMDetector(n_components=10).fit(planted.X[:5])
    assert len(detector.weights_) == 5
    with pytest.raises(ConfigError, match="covariance_type"):
        GMMDetector(covariance_type="round").fit(planted.X)


def test_mahalanobis_uses_mcd_and_resists_the_outliers() -> None:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(500, 3)), np.full((25, 3), 30.0)])
    detector = MahalanobisDetector().fit(X)
    assert detector.robust_
    mcd = MinCovDet(random_state=0).fit(X.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(detector.train_scores_, mcd.mahalanobis(X), rtol=1e-5)
    assert np.abs(detector.location_).max() < 0.3  # the 25 far rows do not drag the centre


def test_mahalanobis_falls_back_to_a_ridge_when_singular() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=(200, 1))
    X = np.c_[t, 2 * t, rng.normal(size=(200, 1))]  # collinear: singular covariance
    detector = MahalanobisDetector().fit(X)
    assert not detector.robust_
    normal, off_plane = detector.score([[1.0, 2.0, 0.0], [1.0, -2.0, 0.0]])
    assert np.isfinite([normal, off_plane]).all()
    assert off_plane > 1e3 * normal


# -- the PyOD adapter ---------------------------------------------------------------------


def test_pyod_names_dispatch_to_the_adapter() -> None:
    detector = make_detector("pyod:SOD", n_neighbors=15)
    assert isinstance(detector, PyODDetector)
    assert detector.get_config() == {"model": "SOD", "params": {"n_neighbors": 15}}
    assert detector_class("pyod:ROD") is PyODDetector
    with pytest.raises(ConfigError, match="unknown PyOD model 'Nope'"):
        make_detector("pyod:Nope")


@pytest.mark.parametrize("model", ["INNE", "CBLOF", "COPOD"])
def test_pyod_adapter_gives_pyods_scores_without_changing_itself(model, planted) -> None:
    pytest.importorskip("pyod")
    detector = make_detector(f"pyod:{model}").fit(planted.X)
    scores = detector.score(planted.X_new)
    assert detector.train_scores_.dtype == np.float64 == scores.dtype
    assert scores.shape == (planted.X_new.shape[0],)
    np.testing.assert_array_equal(detector.train_scores_, detector.model_.decision_scores_)
    state = dict(vars(detector.model_))
    detector.score(planted.X)
    assert vars(detector.model_).keys() == state.keys()
    assert all(vars(detector.model_)[key] is value for key, value in state.items())
    assert roc_auc_score(planted.y, detector.train_scores_) > 0.9


def test_pyod_adapter_cannot_be_saved_and_checks_its_input(planted) -> None:
    pytest.importorskip("pyod")
    detector = PyODDetector(model="HBOS").fit(planted.X)
    with pytest.raises(ConfigError, match="pickle"):
        detector.to_arrays()
    with pytest.raises(ConfigError, match="features"):
        detector.score(planted.X[:, :-1])
    with pytest.raises(ConfigError, match="PyOD HBOS"):
        PyODDetector(model="HBOS", params={"no_such": 1}).fit(planted.X)


def test_pyod_adapter_without_pyod_names_the_extra(monkeypatch, planted) -> None:
    def missing(name: str) -> None:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr("loghunt.detectors.pyod_adapter.importlib.import_module", missing)
    with pytest.raises(MissingExtraError, match=r"loghunt\[pyod\]"):
        PyODDetector(model="SOD").fit(planted.X)
