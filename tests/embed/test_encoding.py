"""Categorical codes (vocabulary, UNKNOWN, NULL, hashing) and the numeric scaler."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from loghunt.embed.encoding import (
    N_RESERVED,
    NULL,
    UNKNOWN,
    FieldCodes,
    NumericScaler,
    _bucket,
    encode_categories,
)
from loghunt.errors import ConfigError, SchemaMismatchError
from loghunt.features.lookup import DICT_MAX_ROWS


def test_vocabulary_unknown_and_null() -> None:
    column = pl.Series("op", ["Get"] * 5 + ["Put"] * 3 + ["Once", None])
    codes = FieldCodes.fit(column, "op", max_categories=100, n_hash_buckets=16)
    assert codes.values == ("Get", "Put") and codes.n_hash == 0  # "Once" is too rare
    encoded = codes.encode(pl.Series(["Put", "Get", "Once", "Never", None]))
    assert encoded.tolist() == [N_RESERVED + 1, N_RESERVED, UNKNOWN, UNKNOWN, NULL]
    assert codes.cardinality == N_RESERVED + 2


def test_numbers_are_read_as_text() -> None:
    codes = FieldCodes.fit(pl.Series("cls", [6003, 6003, 3002, 3002]), "cls", 10, 4)
    # Equal counts: ordered by value, so "3002" comes first.
    assert codes.encode(pl.Series([3002, 6003, 1])).tolist() == [N_RESERVED, N_RESERVED + 1, 1]


def test_high_cardinality_fields_hash_the_tail_stably() -> None:
    values = [f"user{i}" for i in range(50) for _ in range(3)] + [f"rare{i}" for i in range(30)]
    codes = FieldCodes.fit(pl.Series("u", values), "u", max_categories=20, n_hash_buckets=8)
    assert len(codes.values) == 20 and codes.n_hash == 8
    tail = pl.Series([v for v in dict.fromkeys(values) if v not in codes.values] + ["new"])
    first, again = codes.encode(tail), codes.encode(tail)
    np.testing.assert_array_equal(first, again)
    lo = N_RESERVED + 20
    assert ((first >= lo) & (first < lo + 8)).all()
    assert len(np.unique(first)) > 3  # spread over the buckets, not one
    restored = FieldCodes.from_dict(codes.to_dict())
    np.testing.assert_array_equal(restored.encode(tail), first)


def _encode_by_table(codes: FieldCodes, column: pl.Series) -> np.ndarray:
    """The former encoding, one polars replace per call: the reference for the index."""
    text = column.cast(pl.String)
    start = N_RESERVED + len(codes.values)
    lookup = dict(zip(codes.values, range(N_RESERVED, start), strict=True))
    if codes.n_hash:
        uniques = text.drop_nulls().unique()
        others = uniques.filter(~uniques.is_in(list(codes.values)))
        lookup.update({v: start + _bucket(v, codes.n_hash) for v in others.to_list()})
    out = text.replace_strict(
        list(lookup), list(lookup.values()), default=UNKNOWN, return_dtype=pl.Int64
    ).to_numpy(writable=True)
    out[text.is_null().to_numpy()] = NULL
    return out.astype(np.int64)


@pytest.mark.parametrize("n_hash", [0, 8])
@pytest.mark.parametrize("rows", [1, 7, DICT_MAX_ROWS + 10])
def test_codes_match_the_former_encoding(n_hash: int, rows: int) -> None:
    rng = np.random.default_rng(rows + n_hash)
    fitted = [f"v{i % 40}" for i in range(400)] + [f"once{i}" for i in range(60)] + [None]
    codes = FieldCodes.fit(pl.Series("f", fitted), "f", max_categories=25, n_hash_buckets=n_hash)
    pool = np.array([f"v{i}" for i in range(45)] + ["once3", "new", "", "ünï"], dtype=object)
    picked = [None if rng.random() < 0.1 else str(v) for v in rng.choice(pool, rows)]
    column = pl.Series("f", picked, dtype=pl.String)
    np.testing.assert_array_equal(codes.encode(column), _encode_by_table(codes, column))
    numbers = pl.Series("n", rng.integers(0, 50, rows))
    by_number = FieldCodes.fit(pl.Series("n", np.arange(400) % 30), "n", 20, n_hash)
    np.testing.assert_array_equal(by_number.encode(numbers), _encode_by_table(by_number, numbers))


def test_encode_categories_checks_columns_and_rows() -> None:
    codes = [FieldCodes.fit(pl.Series("a", ["x", "x", "y", "y"]), "a", 10, 0)]
    frame = pl.DataFrame({"a": ["y", "x"], "extra": [1, 2]})
    assert encode_categories(frame, codes, 2).tolist() == [[N_RESERVED + 1], [N_RESERVED]]
    with pytest.raises(SchemaMismatchError, match="lacks"):
        encode_categories(pl.DataFrame({"b": ["x"]}), codes, 1)
    with pytest.raises(SchemaMismatchError):
        encode_categories(None, codes, 1)
    with pytest.raises(ConfigError, match="rows"):
        encode_categories(frame, codes, 3)
    assert encode_categories(None, [], 3).shape == (3, 0)


def test_scaler_keeps_order_and_tames_outliers() -> None:
    X = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [1e6, 5.0]], dtype=np.float32)
    scaler = NumericScaler.fit(X)
    Z = scaler.transform(X)
    assert np.isfinite(Z).all() and (np.diff(Z[:, 0]) > 0).all()
    assert np.abs(Z).max() < 5 and (Z[:, 1] == 0).all()  # a constant column stays at 0
    with pytest.raises(SchemaMismatchError):
        scaler.transform(X[:, :1])
