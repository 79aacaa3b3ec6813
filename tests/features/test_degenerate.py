"""Degenerate inputs: tiny, empty, null, partial tables, and schema mismatches."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from loghunt.errors import ConfigError, SchemaMismatchError
from loghunt.features import Featurizer


def _check(X: np.ndarray, rows: int) -> None:
    assert X.dtype == np.float32
    assert X.shape[0] == rows and X.shape[1] > 0
    assert np.isfinite(X).all()


def test_output_is_finite_float32(events: pl.DataFrame) -> None:
    _check(Featurizer().fit_transform(events), events.height)


def test_one_row(events: pl.DataFrame) -> None:
    one = events.head(1)
    _check(Featurizer().fit_transform(one), 1)
    fz = Featurizer().fit(events)
    _check(fz.transform(one), 1)


def test_empty_table_at_transform_and_fit(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    X = fz.transform(events.head(0))
    assert X.shape == (0, len(fz.feature_names_)) and X.dtype == np.float32
    with pytest.raises(ConfigError, match="empty"):
        Featurizer().fit(events.head(0))


def test_all_null_column_is_excluded_and_accepted_at_transform(events: pl.DataFrame) -> None:
    df = events.with_columns(pl.lit(None, dtype=pl.String).alias("api.response.message"))
    fz = Featurizer().fit(df)
    assert fz.excluded_["api.response.message"] == "all null"
    _check(fz.transform(df), df.height)


def test_all_null_batch_of_a_fitted_column(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    batch = events.head(20).with_columns(
        pl.lit(None).alias("bytes"),
        pl.lit(None).alias("api.operation"),
        pl.lit(None).alias("actor.user.name"),
        pl.lit(None).alias("time"),
    )
    _check(fz.transform(batch), 20)


def test_mixed_null_and_valid_values(events: pl.DataFrame) -> None:
    mask = pl.int_range(pl.len()) % 3 == 0
    df = events.with_columns(
        pl.when(mask).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("actor.user.name", "src_endpoint.ip", "bytes", "http_request.user_agent")
    )
    fz = Featurizer().fit(df)
    assert "missing:bytes" in fz.feature_names_
    _check(fz.transform(df), df.height)


def test_no_time_column(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events.drop("time"))
    assert not any(n.startswith(("time:", "window:", "first_seen:")) for n in fz.feature_names_)
    _check(fz.transform(events.drop("time")), events.height)


def test_no_user_column(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events.drop("actor.user.name"))
    assert not any(n.startswith(("pair_rarity:", "window:actor")) for n in fz.feature_names_)
    assert "time:off_hours" in fz.feature_names_  # against the global profile
    _check(fz.transform(events.drop("actor.user.name")), events.height)


def test_adbench_like_numeric_table() -> None:
    rng = np.random.default_rng(0)
    X_in = rng.normal(size=(500, 6))
    X_in[:, 0] = rng.integers(0, 2, 500)  # a one-hot column
    df = pl.DataFrame(X_in, schema=[str(i) for i in range(6)])
    fz = Featurizer().fit(df)
    assert fz.feature_names_ == [f"num:{i}" for i in range(6)]
    _check(fz.transform(df), 500)


def test_missing_fitted_column_raises_schema_mismatch_naming_it(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    with pytest.raises(SchemaMismatchError, match=r"api\.operation"):
        fz.transform(events.drop("api.operation"))


def test_extra_columns_are_ignored(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    wider = events.with_columns(pl.lit("x").alias("new_column"))
    assert np.array_equal(fz.transform(wider), fz.transform(events))


def test_wrong_type_at_transform_is_a_schema_mismatch(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    bad = events.with_columns(pl.lit([1, 2]).alias("bytes"))
    with pytest.raises(SchemaMismatchError):
        fz.transform(bad)


def test_numbers_as_strings_at_transform_are_read(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    as_text = events.with_columns(pl.col("bytes").cast(pl.String))
    assert np.allclose(fz.transform(as_text), fz.transform(events), atol=1e-5)


def test_not_a_polars_frame_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="polars DataFrame"):
        Featurizer().fit({"a": [1, 2]})  # type: ignore[arg-type]


def test_nested_columns_are_left_out() -> None:
    df = pl.DataFrame({"tags": [["a"], ["b", "c"], []], "x": [1.0, 2.0, 3.0]})
    fz = Featurizer().fit(df)
    assert fz.excluded_["tags"].startswith("unsupported type")


def test_time_only_table() -> None:
    times = [dt.datetime(2024, 1, 1, h) for h in range(5)]
    fz = Featurizer().fit(pl.DataFrame({"time": times}))
    assert fz.feature_names_[:2] == ["time:hour_sin", "time:hour_cos"]
