"""Automatic field selection, the ``fields=`` and ``exclude`` overrides."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from loghunt.errors import ConfigError
from loghunt.features import Featurizer
from loghunt.features.select import select_fields


def _kinds(df: pl.DataFrame, **kwargs: object) -> dict[str, str]:
    fz = Featurizer(**kwargs).fit(df)  # type: ignore[arg-type]
    return {c.name: c.kind for c in fz.schema_.columns}


def test_identifiers_and_internal_columns_are_excluded(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    for name in ("metadata.uid", "event_id", "_source_file", "_source_line"):
        assert name in fz.excluded_
        assert name not in fz.schema_.input_columns
    assert not any("metadata.uid" in n or "event_id" in n for n in fz.feature_names_)


def test_kinds_of_a_cloudtrail_table(events: pl.DataFrame) -> None:
    kinds = _kinds(events)
    assert kinds["time"] == "time"
    assert kinds["api.operation"] == "categorical"
    assert kinds["http_request.user_agent"] == "text"
    assert kinds["actor.session.is_mfa"] == "boolean"
    assert kinds["bytes"] == "numeric"


def test_near_unique_strings_and_uuid_like_names_are_excluded() -> None:
    n = 3000
    rng = np.random.default_rng(1)
    df = pl.DataFrame(
        {
            "token": [f"t{rng.integers(10**12)}" for _ in range(n)],
            "request_id": [f"r{i}" for i in range(n)],
            "account.uid": ["111", "222"] * (n // 2),
            "op": ["a", "b", "c"] * (n // 3),
        }
    )
    fz = Featurizer().fit(df)
    assert fz.excluded_["token"].startswith("near-unique")
    assert fz.excluded_["request_id"].startswith("identifier")
    # An id column whose values repeat is a category (an account, an access key).
    assert "rarity:account.uid" in fz.feature_names_


def test_integer_counters_are_excluded_and_code_integers_are_categories() -> None:
    df = pl.DataFrame(
        {
            "LineId": list(range(100)),
            "EventID": [4624, 4625, 4688, 4624] * 25,
            "logon_type": [2, 3, 10, 3] * 25,
            "bytes": [float(i % 7) for i in range(100)],
        }
    )
    kinds = _kinds(df)
    assert "LineId" not in kinds
    assert kinds["EventID"] == "categorical"
    assert kinds["logon_type"] == "categorical"
    assert kinds["bytes"] == "numeric"


def test_constant_columns_and_timestamp_strings_are_excluded(events: pl.DataFrame) -> None:
    df = events.with_columns(
        pl.lit("123456789012").alias("recipientAccountId"),
        pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("eventTime_raw"),
    )
    fz = Featurizer().fit(df)
    assert fz.excluded_["recipientAccountId"] == "constant"
    assert fz.excluded_["eventTime_raw"] == "timestamp string"


def test_json_blobs_feed_string_statistics_only(events: pl.DataFrame) -> None:
    blobs = [f'{{"bucketName": "b{i % 40}", "key": "k{i}"}}' for i in range(events.height)]
    fz = Featurizer().fit(events.with_columns(pl.Series("api.request.data", blobs)))
    assert fz.schema_.kind_of("api.request.data") == "json"
    names = [fz.feature_names_[i] for i in fz.feature_groups_["api.request.data"]]
    assert names == ["str:api.request.data:length"]


def test_guids_in_braces_are_not_json() -> None:
    guids = [f"{{5770385F-C22A-43E0-BF4C-{i % 30:012d}}}" for i in range(200)]
    kinds = _kinds(pl.DataFrame({"ProcessGuid": guids, "op": ["a", "b"] * 100}))
    assert kinds["ProcessGuid"] != "json"


def test_fields_override_uses_exactly_those_columns(events: pl.DataFrame) -> None:
    fz = Featurizer(fields=["api.operation", "bytes", "cloud.region"]).fit(events)
    assert fz.schema_.input_columns == ["api.operation", "bytes", "cloud.region"]
    assert fz.feature_names_ == ["rarity:api.operation", "num:bytes_log", "rarity:cloud.region"]
    assert fz.transform(events).shape == (events.height, 3)


def test_fields_override_keeps_a_column_automatic_selection_drops(events: pl.DataFrame) -> None:
    fz = Featurizer(fields=["metadata.uid"]).fit(events)
    assert "metadata.uid" in fz.feature_groups_


def test_fields_naming_an_absent_column_is_a_config_error(events: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match="nope"):
        Featurizer(fields=["api.operation", "nope"]).fit(events)


def test_exclude_removes_columns(events: pl.DataFrame) -> None:
    df = events.with_columns(pl.lit(0).alias("label"))
    fz = Featurizer(exclude=["label", "bytes"]).fit(df)
    assert fz.excluded_["label"] == "excluded by caller"
    assert "bytes" not in fz.schema_.input_columns


def test_no_usable_field_names_what_was_excluded_and_why() -> None:
    df = pl.DataFrame({"event_id": ["a", "b", "c"], "k": [1, 1, 1], "label": [0, 1, 0]})
    with pytest.raises(ConfigError, match=r"event_id: event identifier.*k: constant"):
        Featurizer(exclude=["label"]).fit(df)


def test_a_datetime_column_with_another_name_is_the_time() -> None:
    df = pl.DataFrame(
        {
            "created": pl.datetime_range(
                pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 2), "1h", eager=True
            ),
            "x": [float(i) for i in range(25)],
        }
    )
    selection = select_fields(df, fields=None, exclude=(), random_state=0)
    assert selection.roles.time == "created"
    assert selection.kinds["created"] == "time"


def test_roles_follow_the_selection(events: pl.DataFrame) -> None:
    fz = Featurizer(exclude=["actor.user.name"]).fit(events)
    assert fz.roles_.user is None
    assert not any(n.startswith(("pair_rarity:", "window:actor")) for n in fz.feature_names_)
