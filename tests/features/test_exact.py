"""The numpy and Python paths of a transform give the very bits of the polars formulations.

Small batches avoid queries: scaling runs in numpy, hour and weekday come from lookup tables,
ASCII string statistics are measured in Python, rarity is looked up per key. Each is checked
here against the polars expression it stands for, with ``np.array_equal`` rather than a
tolerance, on awkward values (nulls, NaN, infinities, negatives, huge numbers, old dates).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from loghunt.features import Featurizer, lookup, numeric, strings
from loghunt.features.base import TIME
from loghunt.features.categorical import ValueCounts, rarity
from loghunt.features.numeric import RobustScaler, scale_columns
from loghunt.features.timefeat import UTC_MS, TimeFeatures, calendar_exprs

from .conftest import scaler_expr


def _awkward_numbers(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.concatenate(
        [
            rng.integers(0, 500, n).astype(np.float64),
            rng.lognormal(3, 4, n),
            rng.normal(0, 1e3, n),
            [0.0, -0.0, np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, 1e6, -1.0],
        ]
    )
    return rng.permutation(values)


@pytest.mark.parametrize("size", [1, 10, 5_000])  # math.log1p below 1,024 values, polars above
def test_scale_columns_equals_the_scaler_expressions(size: int) -> None:
    values = _awkward_numbers(size, seed=size)
    scalers = [
        RobustScaler(center=2.5, scale=0.3, log=False),
        RobustScaler(center=3.7, scale=1.9, log=True),
        RobustScaler(center=-1e-3, scale=7e-4, log=True),
    ]
    raw = np.column_stack([values, values[::-1], np.sqrt(np.abs(values))])
    frame = pl.DataFrame({str(j): raw[:, j] for j in range(3)})
    # A null goes through the expression as null, through numpy as NaN.
    nulls = np.arange(len(raw)) % 7 == 0
    frame = frame.with_columns(pl.Series("0", raw[:, 0]).scatter(np.flatnonzero(nulls), None))
    raw[nulls, 0] = np.nan
    ours = scale_columns(scalers, raw)
    theirs = frame.select(
        scaler_expr(s, pl.col(str(j))).alias(str(j)) for j, s in enumerate(scalers)
    )
    assert ours.dtype == np.float32
    assert np.array_equal(ours, theirs.to_numpy())


def test_log1p_is_the_one_polars_computes() -> None:
    values = np.abs(_awkward_numbers(3_000, seed=1))
    expected = pl.Series(values).log1p().to_numpy()
    for part in np.array_split(values, 5):  # below the math module's limit
        got = numeric.log1p(part)
        assert np.array_equal(got, pl.Series(part).log1p().to_numpy(), equal_nan=True)
    assert np.array_equal(numeric.log1p(values), expected, equal_nan=True)


def test_calendar_lookup_equals_the_time_expressions() -> None:
    rng = np.random.default_rng(0)
    ms = np.concatenate(
        [
            rng.integers(-62_135_596_800_000, 253_402_300_799_000, 5_000),  # years 1 to 9999
            rng.integers(1_700_000_000_000, 1_800_000_000_000, 5_000),
            [0, -1, 59_999, 60_000, -60_000, -86_400_001],
        ]
    )
    times = pl.Series(TIME, ms).cast(UTC_MS)
    times = times.scatter([3, 17], None)
    frame = pl.DataFrame({TIME: times})
    family = TimeFeatures.fit(frame, TIME, None)
    assert family.missing_flag
    ours = np.column_stack(family.parts(frame))
    theirs = frame.select(e.alias(str(j)) for j, e in enumerate(calendar_exprs(pl.col(TIME))))
    assert np.array_equal(ours[:, :3], theirs.to_numpy())
    assert ours[:, 4].tolist() == times.is_null().cast(pl.Float32).to_list()


def test_ascii_statistics_in_python_equal_the_polars_ones() -> None:
    rng = np.random.default_rng(0)
    alphabet = list("abcXYZ0123456789 -_/.:{}\"'\t\x00\x7f")
    values: list[str | None] = [
        "".join(rng.choice(alphabet, rng.integers(0, 400))) for _ in range(300)
    ]
    values += ["", None, "0", "9" * 300, "a\x00", "\x00"]
    text = pl.Series("__lh_value", values, dtype=pl.String)
    for stats in (strings.STATS, ("length",), ("digit_ratio", "length")):
        ours = strings._stats_matrix(text, stats)
        assert np.array_equal(ours, strings._stats_of(text, stats).to_numpy(), equal_nan=True)


def test_other_text_goes_to_polars() -> None:
    text = pl.Series("__lh_value", ["é٣4", "abc", None, "日本語 ٠١٢"], dtype=pl.String)
    ours = strings._stats_matrix(text, strings.STATS)
    assert np.array_equal(ours, strings._stats_of(text, strings.STATS).to_numpy(), equal_nan=True)
    assert ours[0, 2] == pytest.approx(2 / 3)  # "٣" is a digit too


@pytest.mark.parametrize("small", [True, False], ids=["dict-path", "join-path"])
def test_rarity_lookup_treats_null_keys_like_the_reference(
    small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys with a null count at least as often as the commonest key, seen in the fit or not."""
    monkeypatch.setattr(lookup, "DICT_MAX_ROWS", 10**9 if small else 0)
    fit = pl.DataFrame(
        {"a": ["x", "x", "x", "y", None, "z", "z"], "b": ["1", "1", None, "2", "1", "1", "2"]}
    )
    later = pl.DataFrame(
        {
            "a": ["x", None, None, "q", None, "y", "z", None],
            "b": ["1", "1", "7", None, None, "2", None, "1"],
        }
    )
    for keys in (("a",), ("b",), ("a", "b")):
        counts = ValueCounts.fit(fit, keys)
        found = later.select(keys).join(
            counts.table, on=list(keys), how="left", nulls_equal=True, maintain_order="left"
        )
        n = found.get_column("__lh_count").fill_null(0).to_numpy().astype(np.int64)
        null = later.select(pl.any_horizontal(pl.col(k).is_null() for k in keys)).to_series()
        n = np.where(null.to_numpy(), np.maximum(n, counts.commonest_count), n)
        assert np.array_equal(counts.rarity(later), rarity(n, counts.n)), keys


def test_memoised_and_fresh_featurizers_agree_on_every_batch_size() -> None:
    """Memo hits, misses and a memo starting over give the features of a fresh featurizer."""
    from loghunt.synth import generate_cloudtrail_table

    table = generate_cloudtrail_table(3_000, seed=7).drop(["is_attack", "attack"])
    fz = Featurizer().fit(table.head(2_000))
    for family in fz._families:
        memo = getattr(family, "memo", None)
        if memo is not None:
            memo.limit = 150  # start over now and then
    later = table.slice(2_000)
    for size in (1, 7, 100, 1_000):
        for start in (0, 500):
            batch = later.slice(start, size)
            fresh = Featurizer.from_state(*fz.to_state())
            assert np.array_equal(fz.transform(batch), fresh.transform(batch))
