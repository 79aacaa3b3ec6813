"""State round trip (JSON + arrays, no pickle), schema and its hash."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import orjson
import polars as pl
import pytest

from loghunt.errors import ConfigError, NotFittedError, SchemaMismatchError
from loghunt.features import FeatureSchema, Featurizer


def _round_trip(fz: Featurizer) -> Featurizer:
    """Through real serialisation: orjson for the state, .npy without pickle for arrays."""
    state, arrays = fz.to_state()
    text = orjson.dumps(state)
    loaded = {}
    for name, array in arrays.items():
        assert array.dtype != object, name
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        buffer.seek(0)
        loaded[name] = np.load(buffer, allow_pickle=False)
    return Featurizer.from_state(orjson.loads(text), loaded)


def test_round_trip_gives_identical_output(make_events: Callable[..., pl.DataFrame]) -> None:
    fit, new = make_events(500, seed=0), make_events(300, seed=1)
    new = new.with_columns(
        pl.when(pl.col("api.operation") == "GetObject")
        .then(pl.lit("CreateAccessKey"))
        .otherwise(pl.col("api.operation"))
        .alias("api.operation")
    )
    fz = Featurizer().fit(fit)
    again = _round_trip(fz)
    assert np.array_equal(again.transform(new), fz.transform(new))
    assert again.feature_names_ == fz.feature_names_
    assert again.feature_groups_ == fz.feature_groups_
    assert again.schema_ == fz.schema_
    assert again.schema_.hash() == fz.schema_.hash()
    row = new.row(0, named=True)
    for i in range(len(fz.feature_names_)):
        assert again.describe_value(i, row) == fz.describe_value(i, row)


def test_round_trip_of_a_numeric_table() -> None:
    rng = np.random.default_rng(0)
    df = pl.DataFrame({"a": rng.normal(size=50), "b": rng.lognormal(size=50)})
    fz = Featurizer().fit(df)
    assert np.array_equal(_round_trip(fz).transform(df), fz.transform(df))


def test_schema_hash_is_stable_and_tracks_the_features(events: pl.DataFrame) -> None:
    a = Featurizer().fit(events).schema_
    b = Featurizer().fit(events).schema_
    c = Featurizer(entity_windows=False).fit(events).schema_
    assert a.hash() == b.hash()
    assert a.hash() != c.hash()
    assert FeatureSchema.from_dict(orjson.loads(orjson.dumps(a.to_dict()))) == a


def test_schema_lists_kinds_and_roles(events: pl.DataFrame) -> None:
    schema = Featurizer().fit(events).schema_
    assert schema.roles["user"] == "actor.user.name"
    assert schema.roles["time"] == "time"
    assert schema.kind_of("bytes") == "numeric"
    assert "metadata.uid" in schema.excluded


def test_feature_groups_cover_every_feature_once(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    indices = sorted(i for group in fz.feature_groups_.values() for i in group)
    assert indices == list(range(len(fz.feature_names_)))
    assert [fz.feature_names_[i] for i in fz.feature_groups_["bytes"]] == ["num:bytes_log"]


def test_from_state_refuses_foreign_or_inconsistent_state(events: pl.DataFrame) -> None:
    with pytest.raises(ConfigError):
        Featurizer.from_state({"format": "something else"}, {})
    state, arrays = Featurizer().fit(events).to_state()
    state["schema"]["feature_names"] = state["schema"]["feature_names"][:-1]
    with pytest.raises(SchemaMismatchError):
        Featurizer.from_state(state, arrays)


def test_unfitted_featurizer_refuses_to_work(events: pl.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        Featurizer().transform(events)
    with pytest.raises(NotFittedError):
        Featurizer().to_state()


def test_init_only_stores_parameters() -> None:
    fz = Featurizer(fields=["a"], exclude=("b",), entity_windows=False, pairs=[], random_state=3)
    assert (fz.fields, fz.exclude, fz.entity_windows, fz.pairs, fz.random_state) == (
        ["a"],
        ("b",),
        False,
        [],
        3,
    )
    assert not hasattr(fz, "feature_names_")
