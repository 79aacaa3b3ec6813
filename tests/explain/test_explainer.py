"""Explainer pieces on small hand-made tables: tails, decoding, sentences, nearest normal."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from loghunt.errors import NotFittedError
from loghunt.explain import (
    DETECTORS,
    FAILURES_BEFORE,
    RARITY,
    REASON_STRUCT,
    TIME_OF_DAY,
    Explainer,
)
from loghunt.explain.fields import decode_counts, show, usual_hours
from loghunt.explain.nearest import nearest_normal
from loghunt.explain.tails import FeatureTails
from loghunt.features import Featurizer
from loghunt.features.categorical import rarity
from loghunt.index import NeighborIndex
from loghunt.output.findings import NEAREST_NORMAL, REASON_DETAILS, REASONS

START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def _office_table(n_days: int = 20) -> pl.DataFrame:
    """Three users calling a few APIs 09-17 from their own address; nothing unusual."""
    rows = []
    rng = np.random.default_rng(0)
    for day in range(n_days):
        for user, ip in (("alice", "10.0.0.1"), ("bob", "10.0.0.2"), ("carol", "10.0.0.3")):
            for _ in range(12):
                hour = int(rng.integers(9, 17))
                rows.append(
                    {
                        "time": START
                        + dt.timedelta(days=day, hours=hour, minutes=int(rng.integers(60))),
                        "actor.user.name": user,
                        "api.operation": str(rng.choice(["GetObject", "ListBuckets", "PutObject"])),
                        "src_endpoint.ip": ip,
                        "status": "Success",
                    }
                )
    table = pl.DataFrame(rows).sort("time")
    return table.with_columns(pl.format("e{}", pl.int_range(pl.len())).alias("event_id"))


def _explain(
    table: pl.DataFrame, rows: list[int], flags: np.ndarray | None = None
) -> tuple[dict[str, pl.Series], np.ndarray]:
    fz = Featurizer().fit(table)
    X = fz.transform(table)
    explainer = Explainer().fit(fz, X, table)
    flags = np.isin(np.arange(table.height), rows) if flags is None else flags
    detectors = {"knn": np.where(flags, 0.999, 0.5), "ecod": np.where(flags, 0.98, 0.4)}
    cols = explainer.explain(table, X, np.array(rows), detectors, cut=0.99, flags=flags)
    return cols, X


def test_never_seen_operation_is_the_top_reason_and_detectors_come_last() -> None:
    table = _office_table()
    odd = table.height // 2
    table = table.with_columns(
        pl.when(pl.int_range(pl.len()) == odd)
        .then(pl.lit("DeleteTrail"))
        .otherwise(pl.col("api.operation"))
        .alias("api.operation")
    )
    cols, _ = _explain(table, [odd])
    details = cols[REASON_DETAILS][odd]
    top = details[0]
    assert (top["kind"], top["field"], top["value"]) == (RARITY, "api.operation", '"DeleteTrail"')
    assert "seen once" in top["text"] and top["typical"]
    assert details[-1]["kind"] == DETECTORS and details[-1]["value"] == "1 of 2"
    assert cols[REASONS][odd].startswith(top["text"])
    assert cols[REASONS][odd].endswith("1 of 2 detectors voted (knn 0.999, ecod 0.980)")
    assert cols[REASON_DETAILS].dtype == pl.List(REASON_STRUCT)
    # Events that were not explained get nulls, not empty strings.
    assert cols[REASONS].null_count() == table.height - 1


def test_three_am_event_is_explained_against_the_users_own_hours() -> None:
    table = _office_table()
    late = table.height // 3
    user = table["actor.user.name"][late]
    new_time = (table["time"][late]).replace(hour=3, minute=12)
    table = table.with_columns(
        pl.when(pl.int_range(pl.len()) == late)
        .then(pl.lit(new_time))
        .otherwise(pl.col("time"))
        .alias("time")
    )
    cols, _ = _explain(table, [late])
    top = cols[REASON_DETAILS][late][0]
    assert top["kind"] == TIME_OF_DAY and top["field"] == "time"
    assert top["value"] == "03:12 UTC"
    assert f'actor.user.name "{user}" is usually active' in top["text"]
    start, end = (int(h[:2]) for h in top["typical"].removesuffix(" UTC").split("-"))
    assert 8 <= start <= 10 and 16 <= end <= 18


def test_failures_in_the_hour_before_name_the_outcome_field() -> None:
    table = _office_table()
    base = START + dt.timedelta(days=5, hours=12)
    burst = pl.DataFrame(
        {
            "time": [base + dt.timedelta(seconds=20 * i) for i in range(15)],
            "actor.user.name": ["bob"] * 15,
            "api.operation": ["ConsoleLogin"] * 15,
            "src_endpoint.ip": ["10.0.0.2"] * 15,
            "status": ["Failure"] * 15,
            "event_id": [f"f{i}" for i in range(15)],
        },
        schema=table.schema,
    )
    table = pl.concat([table, burst]).sort("time")
    last = int(table.with_row_index().filter(pl.col("event_id") == "f14")["index"][0])
    cols, _ = _explain(table, [last])
    kinds = {d["kind"]: d for d in cols[REASON_DETAILS][last]}
    assert FAILURES_BEFORE in kinds
    failures = kinds[FAILURES_BEFORE]
    assert failures["field"] == "status" and failures["value"] == "15"
    assert failures["text"].startswith("status: 15 failures for")


def test_nearest_normal_events_are_unflagged_and_never_the_event_itself() -> None:
    X = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    flags = np.zeros(300, dtype=bool)
    flags[:40] = True
    queries = np.arange(0, 60)
    index = NeighborIndex(method="exact").fit(X)
    for shared in (index, None):
        near = nearest_normal(X, queries, flags, k=3, index=shared, reference_size=100)
        assert near.shape == (60, 3) and (near >= 0).all()
        assert not flags[near].any()
        assert (near != queries[:, None]).all()
    # With the whole index, the result is the exact nearest unflagged rows.
    d = ((X[queries, None, :] - X[None, :, :]) ** 2).sum(-1)
    d[:, flags] = np.inf
    d[np.arange(60), queries] = np.inf
    exact = np.argsort(d, axis=1)[:, :3]
    got = nearest_normal(X, queries, flags, k=3, index=index)
    assert (np.sort(got, axis=1) == np.sort(exact, axis=1)).mean() > 0.95


def test_nearest_normal_in_an_index_of_sampled_rows_returns_rows_of_the_data() -> None:
    X = np.random.default_rng(1).normal(size=(400, 4)).astype(np.float32)
    flags = np.zeros(400, dtype=bool)
    flags[::7] = True
    sample = np.sort(np.random.default_rng(2).choice(400, 150, replace=False))
    index = NeighborIndex(method="exact").fit(X[sample])
    queries = np.arange(0, 400, 7)
    near = nearest_normal(X, queries, flags, k=2, index=index, index_rows=sample)
    assert (near >= 0).all() and not flags[near].any()
    # The nearest unflagged rows among the sample, in data row numbers.
    usable = sample[~flags[sample]]
    d = ((X[queries, None, :] - X[None, usable, :]) ** 2).sum(-1)
    assert (near == usable[np.argsort(d, axis=1)[:, :2]]).all()


def test_nearest_normal_pads_when_few_normal_events_exist() -> None:
    X = np.arange(10, dtype=np.float32).reshape(5, 2)
    flags = np.array([True, True, True, False, True])
    near = nearest_normal(X, np.array([0, 1]), flags, k=3)
    assert near.tolist() == [[3, -1, -1], [3, -1, -1]]
    assert nearest_normal(X, np.array([0]), np.ones(5, bool), k=2).tolist() == [[-1, -1]]


def test_explained_rows_carry_nearest_normal_event_ids() -> None:
    table = _office_table(5)
    cols, _ = _explain(table, [0, 7])
    for row in (0, 7):
        ids = cols[NEAREST_NORMAL][row].to_list()
        assert len(ids) == 3 and table["event_id"][row] not in ids
        assert set(ids) <= set(table["event_id"].to_list())


def test_rows_to_explain_are_flagged_plus_top_n() -> None:
    explainer = Explainer(top=2)
    combined = np.array([0.1, 0.9, 0.5, 0.95, 0.2])
    flags = np.array([True, False, False, False, False])
    assert explainer.rows_to_explain(combined, flags).tolist() == [3, 1, 0]


def test_decode_counts_inverts_the_featurizer_rarity() -> None:
    counts = np.array([0, 1, 2, 17, 999, 50_000, 1_000_000])
    n = 1_000_000
    assert decode_counts(rarity(counts, n), n).tolist() == counts.tolist()


def test_tails_use_the_unusual_side_only_and_conditional_features() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5_000, 2)).astype(np.float32)
    tails = FeatureTails.fit(X, ["right", "both"])
    contrib, _ = tails.score(np.array([[-4.0, -4.0], [4.0, 4.0]], dtype=np.float32))
    # Low values are not unusual on a right-sided feature; both ends are on a two-sided one.
    assert contrib[0, 0] < 0.01 and contrib[1, 0] > 3
    assert contrib[0, 1] > 3 and contrib[1, 1] > 3
    present = np.zeros(5_000, dtype=bool)
    present[:100] = True
    X[:100, 1] += 10  # present values live far from the absent ones' placeholder
    cond = FeatureTails.fit(X, ["right", "both"], present={1: present})
    query = np.array([[0.0, 10.0], [0.0, 10.0]], dtype=np.float32)
    contrib, _ = cond.score(query, {1: np.array([True, False])})
    assert contrib[0, 1] < 1.0  # typical among present values
    assert contrib[1, 1] == 0.0  # absent: says nothing


def test_usual_hours_wraps_around_midnight() -> None:
    night = np.zeros((1, 24), dtype=np.int64)
    night[0, [22, 23, 0, 1, 2, 3]] = 10
    assert usual_hours(night).tolist() == [[22, 4]]


def test_show_quotes_shortens_and_defuses_control_characters() -> None:
    assert show(None) == "null"
    assert show("a\x1b[31mb") == '"a?[31mb"'
    assert len(show("x" * 500)) == 82
    assert show(3) == "3" and show(2.5) == "2.5"


def test_explainer_must_be_fitted() -> None:
    with pytest.raises(NotFittedError):
        Explainer().explain(
            pl.DataFrame(), np.zeros((1, 1), np.float32), np.array([0]), {}, 0.99, np.zeros(1, bool)
        )


def test_no_rows_to_explain_gives_all_null_columns() -> None:
    table = _office_table(2)
    cols, _ = _explain(table, [])
    assert all(col.null_count() == table.height for col in cols.values())
    assert cols[REASON_DETAILS].dtype == pl.List(REASON_STRUCT)
