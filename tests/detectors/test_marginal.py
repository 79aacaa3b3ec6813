"""ECOD and robust z-scores: per-feature detectors with explanations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from loghunt.detectors import ECODDetector, RobustZDetector
from loghunt.errors import ConfigError


def test_ecod_matches_pyod(planted) -> None:
    ecod = pytest.importorskip("pyod.models.ecod")
    X = planted.X.astype(np.float64)
    X[:, 2] = np.round(X[:, 2])  # ties, which the empirical CDF must count like PyOD
    reference = ecod.ECOD().fit(X)
    detector = ECODDetector().fit(X)
    assert spearmanr(detector.train_scores_, reference.decision_scores_).statistic >= 0.99
    np.testing.assert_allclose(detector.train_scores_, reference.decision_scores_, rtol=1e-9)


def test_ecod_feature_scores_sum_to_the_score_and_point_at_the_odd_feature(planted) -> None:
    detector = ECODDetector().fit(planted.X)
    row = np.median(planted.X, axis=0, keepdims=True)
    row[0, 4] = 1e3  # far beyond every training value of feature 4
    per_feature = detector.feature_scores(row)
    assert per_feature.shape == (1, planted.X.shape[1])
    assert int(np.argmax(per_feature)) == 4
    np.testing.assert_allclose(per_feature.sum(axis=1), detector.score(row))
    # Beyond the training range: a finite tail probability, below the most extreme row's.
    assert np.isfinite(per_feature).all()
    assert per_feature[0, 4] > detector.feature_scores(planted.X)[:, 4].max()


def test_ecod_constant_column_scores_zero_in_training_and_flags_change() -> None:
    X = np.c_[np.random.default_rng(0).normal(size=200), np.full(200, 3.0)]
    detector = ECODDetector().fit(X)
    assert detector.skew_sign_[1] == 0
    np.testing.assert_array_equal(detector.feature_scores(X)[:, 1], 0.0)
    assert detector.feature_scores([[0.0, 4.0]])[0, 1] > 5


def test_robust_z_uses_median_and_mad() -> None:
    X = np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])
    detector = RobustZDetector().fit(X)
    assert detector.median_[0] == 3.0
    assert detector.scale_[0] == pytest.approx(1.4826)  # MAD of |x - 3| = [2, 1, 0, 1, 97] is 1
    np.testing.assert_allclose(detector.feature_scores([[6.0]]), [[3.0 / 1.4826]])


def test_robust_z_falls_back_when_mad_is_zero() -> None:
    rare = np.zeros((100, 3))
    rare[:10, 0] = 1.0  # MAD 0, IQR 0: mean absolute deviation
    rare[:30, 1] = np.arange(30)  # MAD 0, IQR > 0
    detector = RobustZDetector().fit(rare)  # column 2 is constant: scale 1
    assert detector.scale_[0] == pytest.approx(0.1 * np.sqrt(np.pi / 2))
    assert detector.scale_[1] == pytest.approx(np.quantile(rare[:, 1], 0.75) / 1.349)
    assert detector.scale_[2] == 1.0
    assert (detector.scale_ > 0).all()


def test_robust_z_aggregates(planted) -> None:
    by_max = RobustZDetector(aggregate="max").fit(planted.X)
    by_sum = RobustZDetector(aggregate="sum").fit(planted.X)
    z = by_max.feature_scores(planted.X)
    np.testing.assert_allclose(by_max.train_scores_, z.max(axis=1))
    np.testing.assert_allclose(by_sum.train_scores_, z.sum(axis=1))
    with pytest.raises(ConfigError, match="aggregate"):
        RobustZDetector(aggregate="mean").fit(planted.X)
