"""Transforms of small and large batches give the same features as straightforward references.

The featurizer computes features with numpy and looks values up through dicts for small frames,
joins for large ones (:mod:`loghunt.features.lookup`); window and first-seen features are
computed with numpy on integer codes. These tests hold the plain polars formulation the features
were first written in (one ``rolling_sum_by(...).over(entity)`` per window, ``is_first_distinct``
on the time-sorted frame, joins for rarity) and check every path against it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from loghunt.features import Featurizer, featurizer, lookup, windows
from loghunt.features.base import FAILED, ROW, TIME, WTIME
from loghunt.features.categorical import CategoricalColumn, PairColumns, ValueCounts, rarity
from loghunt.features.lookup import KeyIndex, ValueMemo, factorize
from loghunt.features.windows import WindowFeatures
from loghunt.synth import generate_cloudtrail_table

from .conftest import scaler_expr

T0 = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)
USER, IP, OP = "actor.user.name", "src_endpoint.ip", "api.operation"
LABELS = ("is_attack", "attack")


def _tied_events(n: int, seed: int) -> pl.DataFrame:
    """Events on a 7-minute grid (many ties), null users and IPs, many failures, 3 days."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.integers(0, 3 * 24 * 60, n)) // 7 * 7
    return pl.DataFrame(
        {
            "time": [T0 + dt.timedelta(minutes=int(m)) for m in minutes],
            USER: pl.Series(rng.choice(["alice", "bob", "carol", ""], n), dtype=pl.String).replace(
                "", None
            ),
            IP: pl.Series(rng.choice(["10.0.0.1", "10.0.0.2", "10.0.0.3", ""], n)).replace(
                "", None
            ),
            OP: rng.choice(["GetObject", "PutObject", "DeleteBucket"], n),
            "status": rng.choice(["Failure", "Success", "Success"], n),
        }
    )


@pytest.fixture(scope="module")
def cloudtrail() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fit and later (held-out) events of the synthetic CloudTrail table, labels dropped."""
    table = generate_cloudtrail_table(6_000, seed=4).drop(LABELS)
    later = table.slice(4_000).with_columns(
        # Some unseen operations and users, and events without a time.
        pl.when(pl.int_range(pl.len()) % 5 == 0)
        .then(pl.lit("NewOperation"))
        .otherwise(pl.col(OP))
        .alias(OP),
        pl.when(pl.int_range(pl.len()) % 11 == 0).then(None).otherwise(pl.col(USER)).alias(USER),
        pl.when(pl.int_range(pl.len()) % 13 == 0)
        .then(None)
        .otherwise(pl.col("time"))
        .alias("time"),
    )
    return table.head(4_000), later


# -- references: the features written plainly in polars -----------------------------------------
def _reference_windows(family: WindowFeatures, work: pl.DataFrame) -> pl.DataFrame:
    """Unscaled window features of a time-sorted working frame, one polars window each."""
    ts = pl.from_epoch(pl.col(WTIME), time_unit="ms")
    failed = pl.col(FAILED).cast(pl.Int32)
    exprs = {}
    for name, stat, entity, other in family._stats():
        if stat == "events_1h":
            one = ts.is_not_null().cast(pl.Int32)
            exprs[name] = one.rolling_sum_by(ts, "1h").over(entity)
        elif stat == "failures_1h":
            exprs[name] = failed.rolling_sum_by(ts, "1h").over(entity)
        elif stat == "success_after_failures":
            recent = failed.rolling_sum_by(ts, "15m").over(entity)
            exprs[name] = ~pl.col(FAILED) & (recent >= 3)
        else:
            exprs[name] = pl.col(other).n_unique().over(entity, ts.dt.date())
    return work.select(e.cast(pl.Float64).alias(n) for n, e in exprs.items())


def _reference_first_seen(family: PairColumns, work: pl.DataFrame) -> np.ndarray:
    """First sightings on the time-sorted working frame, with a join for the fit times."""
    keys = [family.left, family.right]
    found = work.select(keys).join(
        family.counts.table, on=keys, how="left", nulls_equal=True, maintain_order="left"
    )
    new = pl.struct(family.left, family.right).is_first_distinct() & (
        pl.col("__first").is_null() | (pl.col("__first") >= pl.col(WTIME))
    )
    checked = work.with_columns(found.get_column("__lh_first").alias("__first"))
    return checked.select(new).to_series().to_numpy()


def _reference_rarity(counts: ValueCounts, frame: pl.DataFrame) -> np.ndarray:
    keys = list(counts.keys)
    found = frame.select(pl.col(k).cast(pl.String) for k in keys).join(
        counts.table, on=keys, how="left", nulls_equal=True, maintain_order="left"
    )
    n = found.get_column("__lh_count").fill_null(0).to_numpy().astype(np.int64)
    missing = frame.select(pl.any_horizontal(pl.col(k).is_null() for k in keys)).to_series()
    n[missing.to_numpy()] = np.maximum(n[missing.to_numpy()], counts.commonest_count)
    return rarity(n, counts.n)


def _in_input_order(work: pl.DataFrame, values: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    out[work.get_column(ROW).to_numpy()] = values
    return out


# -- the tests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("small", [True, False], ids=["dict-path", "join-path"])
def test_windows_and_first_seen_match_the_polars_reference(
    small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookup, "DICT_MAX_ROWS", 10**9 if small else 0)
    fit, later = _tied_events(3_000, seed=0), _tied_events(2_000, seed=1)
    fz = Featurizer().fit(fit)
    for frame in (later, later.sample(fraction=1.0, shuffle=True, seed=2), later.head(1)):
        work = fz._prepare(frame)
        X = fz.transform(frame)
        for family in fz._families:
            if isinstance(family, WindowFeatures):
                ours = family.raw(work)
                assert ours.equals(_reference_windows(family, work))
            if isinstance(family, PairColumns):
                j = fz.feature_names_.index(f"first_seen:{family.key}")
                expected = _in_input_order(work, _reference_first_seen(family, work))
                assert np.array_equal(X[:, j], expected.astype(np.float32))


@pytest.mark.parametrize("small", [True, False], ids=["dict-path", "join-path"])
def test_rarity_matches_the_join_reference(small: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lookup, "DICT_MAX_ROWS", 10**9 if small else 0)
    fit, later = _tied_events(500, seed=3), _tied_events(300, seed=4)
    new_op = pl.when(pl.int_range(pl.len()) < 10).then(pl.lit("NewOp")).otherwise(pl.col(OP))
    later = later.with_columns(new_op.alias(OP))
    fz = Featurizer().fit(fit)
    X = fz.transform(later)
    work = fz._inputs(later)
    checked = 0
    for family in fz._families:
        if isinstance(family, CategoricalColumn):
            j = fz.feature_names_.index(f"rarity:{family.column}")
            assert np.array_equal(X[:, j], _reference_rarity(family.counts, work))
            checked += 1
    assert checked >= 3


def test_dict_and_join_paths_give_the_same_matrix(
    cloudtrail: tuple[pl.DataFrame, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    fit, later = cloudtrail
    fz = Featurizer().fit(fit)
    monkeypatch.setattr(lookup, "DICT_MAX_ROWS", 0)
    joined = fz.transform(later)
    monkeypatch.setattr(lookup, "DICT_MAX_ROWS", 10**9)
    by_dict = fz.transform(later)
    again = fz.transform(later)  # memoised string statistics and failures this time
    assert np.array_equal(joined, by_dict)
    assert np.array_equal(joined, again)


def test_families_on_two_threads_give_the_same_features(
    cloudtrail: tuple[pl.DataFrame, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    fit, later = cloudtrail
    monkeypatch.setattr(featurizer, "PARALLEL_MIN_ROWS", 10**9)
    one = Featurizer(exclude=LABELS)
    one_fit, one_later = one.fit_transform(fit), one.transform(later)
    monkeypatch.setattr(featurizer, "PARALLEL_MIN_ROWS", 0)
    two = Featurizer(exclude=LABELS)
    assert np.array_equal(two.fit_transform(fit), one_fit)
    assert np.array_equal(two.transform(later), one_later)
    assert two.feature_names_ == one.feature_names_


@pytest.mark.parametrize("size", [1, 1000])
def test_chunked_transform_matches_whole_frame_transform(
    cloudtrail: tuple[pl.DataFrame, pl.DataFrame], size: int
) -> None:
    """Row-local features do not depend on the batch; windows and first sightings describe
    each batch's own events, exactly as the references computed on that batch say."""
    fit, later = cloudtrail
    fz = Featurizer().fit(fit)
    whole = fz.transform(later)
    chunks = [later.slice(i, size) for i in range(0, min(later.height, 30 * size), size)]
    chunked = np.vstack([fz.transform(c) for c in chunks])
    n = chunked.shape[0]
    local = [
        j
        for j, name in enumerate(fz.feature_names_)
        if not name.startswith(("window:", "first_seen:"))
    ]
    np.testing.assert_allclose(chunked[:, local], whole[:n, local], rtol=0, atol=1e-6)
    window = next(f for f in fz._families if isinstance(f, WindowFeatures))
    first = [j for j, name in enumerate(fz.feature_names_) if name.startswith("window:")]
    expected = []
    for chunk in chunks:
        work = fz._prepare(chunk)
        raw = _reference_windows(window, work)
        scaled = raw.select(
            (scaler_expr(window.scalers[c], pl.col(c)) if c in window.scalers else pl.col(c)).cast(
                pl.Float32
            )
            for c in raw.columns
        )
        expected.append(_in_input_order(work, scaled.to_numpy()))
    np.testing.assert_array_equal(chunked[:, first], np.vstack(expected))
    if size == 1:  # a lone event: one event in its hour, nothing else that day
        events = chunked[:, fz.feature_names_.index(f"window:{USER}:events_1h")]
        assert np.unique(events).size == 1


def test_round_trip_of_the_fit_frame_equals_fit_transform(
    cloudtrail: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    fit, _ = cloudtrail
    fz = Featurizer()
    X = fz.fit_transform(fit)
    state, arrays = fz.to_state()
    assert np.array_equal(Featurizer.from_state(state, arrays).transform(fit), X)


def test_windows_when_times_span_millennia(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys that would overflow int64 rank the times first; counts stay exact."""
    times = [dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, tzinfo=dt.UTC)]
    times += [T0 + dt.timedelta(minutes=m) for m in (0, 30, 59, 61, 61)]  # 59: user b
    frame = pl.DataFrame(
        {"time": times, USER: ["a", "a", "a", "a", "b", "a", "a"], "status": ["Success"] * 7}
    )
    fz = Featurizer().fit(frame)
    family = next(f for f in fz._families if isinstance(f, WindowFeatures))
    work = fz._prepare(frame)
    direct = family.raw(work)
    monkeypatch.setattr(windows, "_KEY_LIMIT", 0)
    ranked = family.raw(work)
    assert direct.equals(ranked)
    assert direct.equals(_reference_windows(family, work))
    # In time order: year 1, 10:00, 10:30, 10:59 (b), 11:01 twice, year 9999.
    assert direct.get_column(f"window:{USER}:events_1h").to_list() == [1, 1, 2, 1, 3, 3, 1]


def test_key_index_and_factorize_agree_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    table = pl.DataFrame({"a": ["x", "y", None, "x"], "b": ["1", "1", "2", None]})
    frame = pl.DataFrame({"a": ["y", None, "x", "z", "x"], "b": ["1", "2", None, "1", "9"]})
    index = KeyIndex(table)
    for limit in (10**9, 0):
        monkeypatch.setattr(lookup, "DICT_MAX_ROWS", limit)
        assert index.positions(frame).tolist() == [1, 2, 3, -1, -1]
        assert factorize(frame, ("a",)).tolist() == [0, 1, 2, 3, 2]
        assert factorize(frame, ("a", "b")).tolist() == [0, 1, 2, 3, 4]


def test_value_memo_starts_over_when_full() -> None:
    calls: list[list[str | None]] = []

    def lengths(values: pl.Series) -> np.ndarray:
        calls.append(values.to_list())
        return values.str.len_chars().fill_null(-1).to_numpy()

    memo = ValueMemo(lengths, pl.String, limit=2)
    assert memo.of(pl.Series(["ab", "abc", "ab"])).tolist() == [2, 3, 2]
    assert memo.of(pl.Series(["abc", "ab"])).tolist() == [3, 2]  # all known: no call
    # No room for None: a fresh table, holding this call's values only.
    assert memo.of(pl.Series(["abc", None], dtype=pl.String)).tolist() == [3, -1]
    assert memo.of(pl.Series(["abcd", "ab"])).tolist() == [4, 2]
    assert memo.of(pl.Series([], dtype=pl.String)).tolist() == []
    assert calls == [["ab", "abc"], ["abc", None], ["abcd", "ab"]]


def test_boolean_column_arriving_as_text_reads_unknown_words_as_missing() -> None:
    fit = pl.DataFrame({"mfa": [True, False, None, True], "op": ["a", "b", "a", "a"]})
    fz = Featurizer().fit(fit)
    flag, missing = (fz.feature_names_.index(n) for n in ("bool:mfa", "missing:mfa"))
    text = pl.DataFrame({"mfa": ["true", " FALSE", "maybe", None, "1"], "op": ["a"] * 5})
    X = fz.transform(text)
    assert X[:, flag].tolist() == [1.0, 0.0, 0.5, 0.5, 1.0]
    assert X[:, missing].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
    numbers = pl.DataFrame({"mfa": [1, 0, None], "op": ["a"] * 3})
    assert fz.transform(numbers)[:, flag].tolist() == [1.0, 0.0, 0.5]
    dates = pl.DataFrame({"mfa": [dt.date(2024, 1, 1)], "op": ["a"]})
    assert fz.transform(dates)[:, flag].tolist() == [0.5]


def test_event_with_an_impossible_epoch_time_still_transforms() -> None:
    fit = pl.DataFrame({"time": [1.7e9 + 60 * i for i in range(50)], USER: ["a", "b"] * 25})
    fz = Featurizer().fit(fit)
    X = fz.transform(pl.DataFrame({"time": [1e308, -1e308, float("nan")], USER: ["a"] * 3}))
    assert np.isfinite(X).all()
    work = fz._inputs(pl.DataFrame({"time": [1e308], USER: ["a"]}))
    assert work.get_column(TIME).to_list() == [None]
