"""The explainer's vectorised steps give what their one-feature-at-a-time versions give."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from loghunt.explain import Explainer, fields
from loghunt.explain.explainer import _neighbour_ids
from loghunt.explain.fields import present_masks
from loghunt.explain.tails import _UNSEEN_COUNT, BOTH, SKIP, FeatureTails
from loghunt.features import Featurizer
from loghunt.output.findings import NEAREST_NORMAL, REASONS
from loghunt.schema import normalize
from loghunt.synth import generate_cloudtrail_table

SPECIALS = (np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf, np.float32(1e-45))  # -nan: sign bit set


def _reference_contributions(tails: FeatureTails, Xq: np.ndarray) -> np.ndarray:
    """Contributions searched feature by feature in each sorted baseline column."""
    contrib = np.zeros(Xq.shape)
    for j, column in enumerate(tails.columns):
        if tails.sides[j] == SKIP or column.size == 0:
            continue
        n = column.size
        tail = np.maximum(n - np.searchsorted(column, Xq[:, j], side="left"), _UNSEEN_COUNT)
        if tails.sides[j] == BOTH:
            at_most = np.searchsorted(column, Xq[:, j], side="right")
            tail = np.minimum(tail, np.maximum(at_most, _UNSEEN_COUNT))
        contrib[:, j] = 0.0 - np.log10(np.minimum(tail / n, 1.0))
    return contrib


def test_tails_match_per_feature_searches_with_ties_zeros_infinities_and_nan() -> None:
    rng = np.random.default_rng(7)
    for trial in range(10):
        n, width = int(rng.integers(1, 800)), 6
        X = rng.normal(size=(n, width)).astype(np.float32)
        X[:, 0] = np.round(X[:, 0])  # many ties
        X[:, 1] = rng.integers(0, 3, n)  # few distinct values
        for value in SPECIALS:
            X[rng.random(X.shape) < 0.03] = value
        X[rng.random(n) < 0.8, 5] = np.nan  # mostly NaN: fewer values at or below NaN
        sides = ["right", "both", "skip", "both", "right", "both"]
        present = {3: rng.random(n) < 0.5, 4: np.zeros(n, dtype=bool)}  # 4: never present
        Xq = np.concatenate([X[rng.integers(0, n, 40)], rng.normal(size=(40, width))])
        Xq = Xq.astype(np.float32)
        for value in SPECIALS:
            Xq[rng.random(Xq.shape) < 0.05] = value
        with np.errstate(invalid="ignore"):  # spreads and distances of infinities
            tails = FeatureTails.fit(X, sides, max_rows=500, random_state=trial, present=present)
            contrib, _ = tails.score(Xq)
        assert np.array_equal(contrib, _reference_contributions(tails, Xq))


def test_presence_masks_agree_between_the_python_and_the_query_paths() -> None:
    rng = np.random.default_rng(3)
    n = 3_000  # above the Python path's limit; its first rows are below it
    numbers = rng.normal(size=n)
    numbers[rng.random(n) < 0.2] = np.nan
    numbers[rng.random(n) < 0.05] = np.inf
    events = pl.DataFrame(
        {
            "f": pl.Series(numbers).set(pl.Series(rng.random(n) < 0.1), None),
            "s": pl.Series(rng.choice(["a", "b"], n)).set(pl.Series(rng.random(n) < 0.3), None),
            "i": pl.Series(rng.integers(0, 5, n)).set(pl.Series(rng.random(n) < 0.3), None),
            "full": ["x"] * n,
            "none": pl.Series([None] * n, dtype=pl.Null),
        }
    )
    columns = ["f", "s", "i", "full", "none", "absent"]
    big = present_masks(events, columns)
    small = present_masks(events.head(500), columns)
    for column in columns:
        assert np.array_equal(big[column][:500], small[column]), column
        if column in events.columns:
            values = events.get_column(column)
            expected = values.is_not_null()
            if values.dtype.is_float():
                expected = expected & values.is_finite().fill_null(False)
            assert np.array_equal(big[column], expected.to_numpy()), column
    assert not big["absent"].any() and not big["none"].any()


def test_best_feature_per_field_is_the_first_highest_as_argmax_picks_it() -> None:
    table = pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(300)],
            "user": [f"u{i % 7}" for i in range(300)],
            "op": [f"op{i % 5}" for i in range(300)],
            "agent": [f"agent/{i % 3}" * (1 + i % 4) for i in range(300)],
        }
    )
    featurizer = Featurizer().fit(table)
    explainer = Explainer().fit(featurizer, featurizer.transform(table), table)
    rng = np.random.default_rng(0)
    key = np.round(rng.normal(size=(50, len(explainer.features_))), 1)  # ties
    key[rng.random(key.shape) < 0.05] = np.nan
    best, value = explainer._best_per_field(key)
    fields = np.array([explainer.fields_.index(m.field) for m in explainer.features_])
    for g in range(len(explainer.fields_)):
        members = np.flatnonzero(fields == g)
        arg = key[:, members].argmax(axis=1)
        assert np.array_equal(best[:, g], members[arg])
        assert np.array_equal(value[:, g], key[np.arange(50), members[arg]], equal_nan=True)


def test_nearest_normal_ids_leave_out_padding_and_events_without_an_id() -> None:
    ids = pl.Series("event_id", ["a", None, "c", "d"])
    near = np.array([[0, 1, -1], [2, 3, 0], [-1, -1, -1]])
    lists = _neighbour_ids(ids, near, np.arange(3), 3)
    assert lists.name == NEAREST_NORMAL and lists.dtype == pl.List(pl.String)
    assert lists.to_list() == [["a"], ["c", "d", "a"], []]


def test_nearest_normal_ids_land_on_their_rows_and_other_rows_are_null() -> None:
    ids = pl.Series("event_id", ["a", "b", "c", "d", "e"])
    near = np.array([[1, -1], [0, 4], [-1, -1]])
    lists = _neighbour_ids(ids, near, rows=np.array([3, 0, 2]), n=5)
    assert lists.to_list() == [["a", "e"], None, [], ["b"], None]
    alone = _neighbour_ids(ids, np.full((1, 3), -1), rows=np.array([1]), n=5)
    assert alone.dtype == pl.List(pl.String) and alone.to_list() == [None, [], None, None, None]


def _batch_explainer() -> tuple[Explainer, pl.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """An explainer fitted on synthetic CloudTrail, and a later batch to explain."""
    baseline = normalize(generate_cloudtrail_table(3_000, seed=5))
    batch = normalize(generate_cloudtrail_table(300, seed=6).drop("is_attack", "attack"))
    featurizer = Featurizer(exclude=["is_attack", "attack"]).fit(baseline)
    explainer = Explainer(top=40).fit(featurizer, featurizer.transform(baseline), baseline)
    rng = np.random.default_rng(1)
    detectors = {"knn": rng.random(batch.height), "ecod": rng.random(batch.height)}
    return explainer, batch, featurizer.transform(batch), detectors


@pytest.mark.parametrize("height", [20, 300])  # below and above the Python-pick limit
def test_explained_events_picked_in_python_or_gathered_explain_alike(
    height: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    explainer, batch, X, detectors = _batch_explainer()
    batch, X = batch.head(height), X[:height]
    detectors = {name: scores[:height] for name, scores in detectors.items()}
    flags = detectors["knn"] > 0.9
    rows = explainer.rows_to_explain(detectors["knn"] + detectors["ecod"], flags)

    def explain(rows: np.ndarray) -> dict[str, pl.Series]:
        return explainer.explain(batch, X, rows, detectors, cut=0.9, flags=flags)

    picked = explain(rows)
    monkeypatch.setattr(fields, "PICK_ROWS", -1)  # every read gathers the explained events
    gathered = explain(rows)
    twice = explain(np.concatenate([rows, rows[::2]]))  # a row asked for twice: once
    for name, column in picked.items():
        assert column.len() == height and column.dtype == gathered[name].dtype, name
        assert column.equals(gathered[name]) and column.equals(twice[name]), name
    explained = np.zeros(height, dtype=bool)
    explained[rows] = True
    assert np.array_equal(picked[REASONS].is_not_null().to_numpy(), explained)


def test_times_already_in_utc_read_as_the_parsed_strings_would() -> None:
    times = [dt.datetime(2026, 3, 7, 3, 12, 5, 250_000, tzinfo=dt.UTC), None]
    parsed = pl.DataFrame({"time": pl.Series(times, dtype=pl.Datetime("ms", "UTC"))})
    text = parsed.with_columns(pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
    got = [
        fields._utc_times(_context(events), "time", np.array([1, 0, 0]))
        for events in (parsed, text)
    ]
    assert got[0] == got[1] == [None, times[0], times[0]]


def _context(events: pl.DataFrame) -> fields.Context:
    table = pl.DataFrame({"op": ["a", "b"] * 50})
    featurizer = Featurizer().fit(table)
    X = featurizer.transform(table)
    explainer = Explainer().fit(featurizer, X)
    rows = np.arange(events.height)
    return fields.Context(X[rows], events, rows, featurizer, explainer.tails_, {})
