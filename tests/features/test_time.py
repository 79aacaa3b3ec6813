"""Time features: parsing, hour of day, weekend, off-hours relative to the user's habits."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

from loghunt.features import Featurizer
from loghunt.features.timefeat import to_utc_datetime

MONDAY = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)


def _shift_table() -> pl.DataFrame:
    """An admin working 9-17 and a night-shift operator working 22-06, for two weeks."""
    rows = []
    for day in range(14):
        for hour in range(9, 17):
            rows.append(("admin", MONDAY + dt.timedelta(days=day, hours=hour, minutes=10)))
        for hour in (22, 23, 0, 1, 2, 3, 4, 5):
            rows.append(("nightops", MONDAY + dt.timedelta(days=day, hours=hour, minutes=20)))
    users, times = zip(*rows, strict=True)
    return pl.DataFrame({"time": list(times), "actor.user.name": list(users)})


def _at(user: str, hour: int) -> dict[str, object]:
    return {"time": MONDAY + dt.timedelta(days=20, hours=hour), "actor.user.name": user}


def test_off_hours_is_relative_to_the_users_own_hours() -> None:
    fz = Featurizer(entity_windows=False).fit(_shift_table())
    new = pl.DataFrame([_at("admin", 3), _at("nightops", 3), _at("admin", 12), _at("nightops", 12)])
    off = fz.transform(new)[:, fz.feature_names_.index("time:off_hours")]
    assert off[0] > 0.8  # the admin at 03:00
    assert off[1] < 0.2  # the night shift at 03:00
    assert off[2] < 0.2
    assert off[3] > 0.8


def test_unknown_users_fall_back_to_the_global_profile() -> None:
    fz = Featurizer(entity_windows=False).fit(_shift_table())
    new = pl.DataFrame([_at("mallory", 12), _at("mallory", 19)])
    off = fz.transform(new)[:, fz.feature_names_.index("time:off_hours")]
    assert off[1] > off[0]  # nobody works at 19:00


def test_hour_is_cyclic_and_weekend_is_flagged() -> None:
    times = [MONDAY + dt.timedelta(hours=6), MONDAY + dt.timedelta(days=5, hours=18)]
    fz = Featurizer().fit(pl.DataFrame({"time": times, "x": [1.0, 2.0]}))
    X = fz.transform(pl.DataFrame({"time": times, "x": [1.0, 2.0]}))
    sin, cos, weekend = (
        X[:, fz.feature_names_.index(f"time:{n}")] for n in ("hour_sin", "hour_cos", "weekend")
    )
    assert sin[0] == pytest.approx(1.0) and cos[0] == pytest.approx(0.0, abs=1e-6)
    assert sin[1] == pytest.approx(-1.0) and weekend.tolist() == [0.0, 1.0]
    assert math.isclose(float(sin[0] ** 2 + cos[0] ** 2), 1.0, rel_tol=1e-6)


def test_time_strings_epochs_and_naive_datetimes_parse_to_utc() -> None:
    expected = dt.datetime(2024, 3, 4, 12, 30, tzinfo=dt.UTC)
    cases = [
        pl.Series(["2024-03-04T12:30:00Z"]),
        pl.Series(["2024-03-04T14:30:00+02:00"]),
        pl.Series(["2024-03-04 12:30:00"]),
        pl.Series([int(expected.timestamp())]),
        pl.Series([int(expected.timestamp() * 1000)]),
        pl.Series([expected.timestamp()]),
        pl.Series([expected.replace(tzinfo=None)]),
        pl.Series(["1709555400"]),
    ]
    for series in cases:
        parsed = to_utc_datetime(series)
        assert parsed.dtype == pl.Datetime("ms", "UTC"), series
        assert parsed[0] == expected, series


def test_string_time_column_gets_time_features() -> None:
    df = _shift_table().with_columns(pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    fz = Featurizer(entity_windows=False).fit(df)
    assert fz.schema_.kind_of("time") == "time"
    assert "time:off_hours" in fz.feature_names_


def test_unparseable_times_are_flagged_not_fatal() -> None:
    df = pl.DataFrame({"time": ["2024-03-04T12:30:00Z", "garbage", None], "x": [1.0, 2.0, 3.0]})
    fz = Featurizer().fit(df)
    assert "missing:time" in fz.feature_names_
    X = fz.transform(df)
    assert np.isfinite(X).all()
    assert X[:, fz.feature_names_.index("missing:time")].tolist() == [0.0, 1.0, 1.0]


def test_describe_off_hours_names_the_users_habit() -> None:
    fz = Featurizer(entity_windows=False).fit(_shift_table())
    text = fz.describe_value(fz.feature_names_.index("time:off_hours"), _at("admin", 3))
    assert "03:00 UTC" in text and 'actor.user.name="admin"' in text and "0%" in text
