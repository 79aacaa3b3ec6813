"""Numeric columns: robust scaling, log for heavy tails, missing flags; booleans as 0/1."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from loghunt.features import Featurizer
from loghunt.features.numeric import RobustScaler, is_heavy_tailed


def test_robust_scaler_centres_on_the_median_and_divides_by_the_iqr() -> None:
    s = RobustScaler.fit(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 1000.0]))
    assert s.log
    assert s.center == pytest.approx((math.log1p(3.0) + math.log1p(4.0)) / 2)
    assert s.raw_median == 3.5
    plain = RobustScaler.fit(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert (plain.center, plain.scale, plain.log) == (3.0, 2.0, False)


def test_zero_iqr_falls_back_to_a_wider_spread_then_to_one() -> None:
    mostly_zero = np.array([0.0] * 90 + [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    s = RobustScaler.fit(mostly_zero, allow_log=False)
    assert s.scale > 0 and math.isfinite(s.scale)
    assert RobustScaler.fit(np.zeros(10)).scale == 1.0
    assert RobustScaler.fit(np.array([np.nan, np.inf])).scale == 1.0


def test_heavy_tails_are_logged_and_symmetric_data_is_not() -> None:
    rng = np.random.default_rng(0)
    assert is_heavy_tailed(rng.lognormal(6, 2, 5000))
    assert not is_heavy_tailed(rng.normal(100, 10, 5000))
    assert not is_heavy_tailed(rng.normal(0, 1, 5000))  # negative values: never logged


def test_numeric_features_are_robust_scaled() -> None:
    rng = np.random.default_rng(0)
    df = pl.DataFrame({"latency": rng.normal(100, 10, 2000), "bytes": rng.lognormal(6, 2, 2000)})
    fz = Featurizer().fit(df)
    assert fz.feature_names_ == ["num:latency", "num:bytes_log"]
    X = fz.transform(df)
    assert np.median(X, axis=0) == pytest.approx([0, 0], abs=0.01)
    iqr = np.quantile(X, 0.75, axis=0) - np.quantile(X, 0.25, axis=0)
    assert iqr == pytest.approx([1, 1], abs=0.01)


def test_purely_numeric_table_without_nulls_has_no_missing_flags() -> None:
    rng = np.random.default_rng(0)
    df = pl.DataFrame({f"x{i}": rng.normal(size=300) for i in range(5)})
    fz = Featurizer().fit(df)
    assert fz.feature_names_ == [f"num:x{i}" for i in range(5)]


def test_nulls_nan_and_inf_are_imputed_with_the_median_and_flagged() -> None:
    fit = pl.DataFrame({"x": [1.0, 2.0, 3.0, None, 5.0, 6.0, 7.0, 8.0]})
    fz = Featurizer().fit(fit)
    assert fz.feature_names_ == ["num:x", "missing:x"]
    X = fz.transform(pl.DataFrame({"x": [None, float("nan"), float("inf"), -float("inf"), 5.0]}))
    assert np.isfinite(X).all()
    assert X[:4, 0] == pytest.approx([0.0] * 4)
    assert X[:, 1].tolist() == [1.0, 1.0, 1.0, 1.0, 0.0]


def test_negative_values_at_transform_time_stay_finite_when_logged() -> None:
    rng = np.random.default_rng(0)
    fz = Featurizer().fit(pl.DataFrame({"bytes": rng.lognormal(6, 2, 1000)}))
    assert fz.feature_names_ == ["num:bytes_log"]
    X = fz.transform(pl.DataFrame({"bytes": [-1e12, -5.0, 0.0, 1e300]}))
    assert np.isfinite(X).all()
    assert X[0, 0] < X[1, 0] < X[2, 0] < X[3, 0]


def test_integers_and_durations_are_numbers() -> None:
    df = pl.DataFrame(
        {
            "count": [1, 2, 3, 4, 5, 6],
            "elapsed": pl.Series([1, 2, 3, 4, 5, 60], dtype=pl.Duration("ms")),
        }
    )
    fz = Featurizer().fit(df)
    assert [n.split("_log")[0] for n in fz.feature_names_] == ["num:count", "num:elapsed"]
    assert np.isfinite(fz.transform(df)).all()


def test_booleans_are_zero_or_one_with_a_missing_flag_when_needed() -> None:
    fz = Featurizer().fit(pl.DataFrame({"mfa": [True, False, True, True]}))
    assert fz.feature_names_ == ["bool:mfa"]
    assert fz.transform(pl.DataFrame({"mfa": [True, False]}))[:, 0].tolist() == [1.0, 0.0]
    fz = Featurizer().fit(pl.DataFrame({"mfa": [True, None, False]}))
    assert fz.feature_names_ == ["bool:mfa", "missing:mfa"]
    X = fz.transform(pl.DataFrame({"mfa": pl.Series([None, True], dtype=pl.Boolean)}))
    assert X.tolist() == [[0.5, 1.0], [1.0, 0.0]]
