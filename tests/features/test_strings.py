"""String statistics: length, entropy, digit ratio."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from loghunt.features import Featurizer, strings
from loghunt.features.strings import byte_entropy, raw_stats


def test_entropy_of_known_strings() -> None:
    values = byte_entropy(pl.Series(["aaaa", "abcd", "", None, "ab"]))
    assert values.tolist() == pytest.approx([0.0, 2.0, 0.0, 0.0, 1.0])


def test_entropy_across_chunks_matches_a_direct_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strings, "_CHUNK_ROWS", 7)
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdef0123"), rng.integers(0, 40))) for _ in range(50)]
    got = byte_entropy(pl.Series(words))
    for i, word in enumerate(words):
        counts = [word.count(c) for c in set(word)]
        want = -sum(c / len(word) * math.log2(c / len(word)) for c in counts) if word else 0.0
        assert got[i] == pytest.approx(want), word


def test_raw_stats_keep_row_order_and_handle_nulls() -> None:
    stats = raw_stats(pl.Series("ua", ["abc1", None, "abc1", "zz"]))
    assert stats.get_column("length").to_list() == [4.0, None, 4.0, 2.0]
    assert stats.get_column("digit_ratio").to_list() == [0.25, None, 0.25, 0.0]
    assert stats.get_column("entropy").to_list()[1] is None


def test_random_tokens_stand_out_from_ordinary_user_agents() -> None:
    ordinary = [f"aws-cli/2.{i % 5}.0 Python/3.11 Linux/5.15" for i in range(300)]
    fz = Featurizer().fit(pl.DataFrame({"http_request.user_agent": ordinary}))
    assert fz.feature_names_ == [
        "rarity:http_request.user_agent",
        "str:http_request.user_agent:length",
        "str:http_request.user_agent:entropy",
        "str:http_request.user_agent:digit_ratio",
    ]
    new = pl.DataFrame(
        {"http_request.user_agent": [ordinary[0], "x9Q2vL7kP0zR4mT8wB1nC6yD3hF5jG" * 4]}
    )
    X = fz.transform(new)
    assert np.abs(X[1, 1:]).sum() > np.abs(X[0, 1:]).sum() + 1.0


def test_describe_string_statistic() -> None:
    fz = Featurizer().fit(pl.DataFrame({"http_request.user_agent": ["curl/8.0", "Boto3/1.2"] * 5}))
    i = fz.feature_names_.index("str:http_request.user_agent:length")
    assert fz.describe_value(i, {"http_request.user_agent": "curl/8.0"}).startswith(
        "http_request.user_agent length 8"
    )
