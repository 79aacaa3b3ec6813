"""Categorical rarity and pair rarity."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from loghunt.errors import ConfigError
from loghunt.features import Featurizer
from loghunt.features.categorical import ValueCounts, rarity


def _column(fz: Featurizer, X: np.ndarray, name: str) -> np.ndarray:
    return X[:, fz.feature_names_.index(name)]


def test_rarity_counts_decades_from_ubiquitous_to_unseen() -> None:
    r = rarity(np.array([0, 1, 9, 99, 999]), 999)
    assert r.tolist() == pytest.approx([3.0, math.log10(500), 2.0, 1.0, 0.0])


def test_unseen_value_is_the_rarest() -> None:
    fit = pl.DataFrame({"op": ["Get"] * 90 + ["Put"] * 9 + ["Delete"]})
    fz = Featurizer().fit(fit)
    new = pl.DataFrame({"op": ["Get", "Put", "Delete", "CreateAccessKey", None]})
    r = _column(fz, fz.transform(new), "rarity:op")
    assert r[3] == pytest.approx(math.log10(101))
    assert r[3] > r[2] > r[1] > r[0]
    assert r[4] == r[0]  # null means "not applicable": as normal as the commonest value


def test_null_is_not_applicable_rather_than_rare() -> None:
    # Authentication events have no API operation: in a mixed table that must not look rare.
    fit = pl.DataFrame({"op": [None] * 3 + ["GetObject"] * 97, "err": [None] * 97 + ["X"] * 3})
    fz = Featurizer().fit(fit)
    X = fz.transform(fit)
    op, err = _column(fz, X, "rarity:op"), _column(fz, X, "rarity:err")
    assert op[0] == op[-1]  # as common as GetObject
    assert err[0] < err[-1]


def test_rarity_is_bounded_so_categories_are_not_codes(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    X = fz.transform(events)
    top = math.log10(events.height + 1)
    for name in fz.feature_names_:
        if name.startswith(("rarity:", "pair_rarity:")):
            values = _column(fz, X, name)
            assert values.min() >= 0.0 and values.max() <= top, name
            assert values.max() - values.min() < 2.0, name  # usual values sit close together


def test_rare_pair_scores_higher_than_common_pair() -> None:
    users = ["alice"] * 50 + ["bob"] * 50
    ops = ["GetObject"] * 49 + ["DeleteBucket"] + ["DeleteBucket"] * 40 + ["GetObject"] * 10
    fz = Featurizer().fit(pl.DataFrame({"actor.user.name": users, "api.operation": ops}))
    new = pl.DataFrame(
        {
            "actor.user.name": ["alice", "alice", "bob", "alice"],
            "api.operation": ["GetObject", "DeleteBucket", "DeleteBucket", "CreateUser"],
        }
    )
    pair = _column(fz, fz.transform(new), "pair_rarity:actor.user.name×api.operation")
    assert pair[1] > pair[0]  # alice deleting a bucket is rare, her reads are not
    assert pair[1] > pair[2]  # bob deletes buckets all the time
    assert pair[3] == pytest.approx(math.log10(101))


def test_default_pairs_come_from_roles(events: pl.DataFrame) -> None:
    fz = Featurizer().fit(events)
    pairs = [n for n in fz.feature_names_ if n.startswith("pair_rarity:")]
    assert pairs == [
        "pair_rarity:actor.user.name×api.operation",
        "pair_rarity:actor.user.name×src_endpoint.ip",
        "pair_rarity:actor.user.name×http_request.user_agent",
    ]
    assert fz.feature_groups_["actor.user.name×api.operation"]


def test_pairs_override(events: pl.DataFrame) -> None:
    fz = Featurizer(pairs=[("api.operation", "cloud.region")], entity_windows=False).fit(events)
    pairs = [n for n in fz.feature_names_ if n.startswith(("pair_rarity:", "first_seen:"))]
    assert pairs == ["pair_rarity:api.operation×cloud.region"]
    names = Featurizer(pairs=[]).fit(events).feature_names_
    assert not any(n.startswith(("pair_rarity:", "first_seen:")) for n in names)


def test_pair_with_an_excluded_column_is_a_config_error(events: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"metadata\.uid"):
        Featurizer(pairs=[("actor.user.name", "metadata.uid")]).fit(events)


def test_value_counts_compare_as_strings() -> None:
    vc = ValueCounts.fit(pl.DataFrame({"EventID": [4624, 4624, 4688]}), ("EventID",))
    assert vc.count_of((4624,)) == 2
    assert vc.count_of(("4688",)) == 1
    assert vc.count_of((1,)) == 0


def test_integer_codes_get_rarity_not_their_number() -> None:
    fit = pl.DataFrame({"EventID": [4624] * 50 + [4688] * 50})
    fz = Featurizer().fit(fit)
    assert fz.feature_names_ == ["rarity:EventID"]
    r = fz.transform(pl.DataFrame({"EventID": [4624, 1102]}))[:, 0]
    assert r[1] == pytest.approx(math.log10(101)) and r[0] == pytest.approx(math.log10(101 / 51))
