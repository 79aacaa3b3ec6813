"""The scoring core: the service's scores are the batch pipeline's scores."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from loghunt.io import parse_bytes
from loghunt.model import load_model
from loghunt.output.findings import COMBINED, FLAGGED, NORM_PREFIX, RANK, VOTES
from loghunt.schema import ocsf
from loghunt.service.engine import ScoredBatch, Scorer
from loghunt.service.ids import finding_id
from loghunt.service.store import OnlineStore


@pytest.fixture
def scorer(model_dir: Path) -> Scorer:
    return Scorer(OnlineStore(model_dir), learn=False)


def test_same_scores_as_the_batch_pipeline(
    scorer: Scorer, model_dir: Path, new_records: list[dict[str, Any]], to_ndjson: Any
) -> None:
    body = to_ndjson(new_records[:1_000])
    batch = scorer.score_bytes(body)
    assert batch.findings is not None and batch.n_events == 1_000
    expected = load_model(model_dir).score(parse_bytes(body).table).table
    got = batch.findings.table
    for column in ("event_id", COMBINED, FLAGGED, VOTES, NORM_PREFIX + "knn"):
        assert got.get_column(column).to_list() == expected.get_column(column).to_list(), column
    results = batch.results()
    by_id = {r["event_id"]: r for r in results}
    row = expected.row(0, named=True)
    assert by_id[row["event_id"]]["combined_score"] == row[COMBINED]
    assert by_id[row["event_id"]]["scores"]["ecod"] == row[NORM_PREFIX + "ecod"]
    assert [r["line"] for r in results] == sorted(r["line"] for r in results)


def test_single_events_and_single_sources_score(
    scorer: Scorer, new_records: list[dict[str, Any]], to_ndjson: Any
) -> None:
    one = scorer.score_bytes(to_ndjson(new_records[:1]))
    assert one.n_events == 1 and len(one.results()) == 1
    auth_only = [r for r in new_records if r.get("class_uid") == 3002][:20]
    batch = scorer.score_bytes(to_ndjson(auth_only))
    assert batch.n_events == 20
    assert np.isfinite(batch.findings.table.get_column(COMBINED).to_numpy()).all()  # type: ignore[union-attr]


def test_finding_ids_are_deterministic(
    scorer: Scorer, new_records: list[dict[str, Any]], to_ndjson: Any
) -> None:
    first = scorer.score_bytes(to_ndjson(new_records[:50]))
    again = scorer.score_bytes(to_ndjson(new_records[10:60]))
    ids = {r["event_id"]: r["finding_id"] for r in first.results()}
    overlap = [r for r in again.results() if r["event_id"] in ids]
    assert len(overlap) == 40
    assert all(ids[r["event_id"]] == r["finding_id"] for r in overlap)
    version = scorer.store.model_version
    assert all(r["finding_id"] == finding_id(version, r["event_id"]) for r in overlap)


def test_events_without_ids_get_stable_ids_per_body(scorer: Scorer) -> None:
    body = b'{"user": "a", "action": "x"}\n{"user": "b", "action": "y"}\n'
    ids = [r["event_id"] for r in scorer.score_bytes(body).results()]
    assert ids == [r["event_id"] for r in scorer.score_bytes(body).results()]
    assert len(set(ids)) == 2


def test_bad_records_come_back_as_errors(scorer: Scorer, to_ndjson: Any) -> None:
    body = b'{"eventName": "GetObject", "eventSource": "s3.amazonaws.com"}\n{oops\n[1]\n'
    batch = scorer.score_bytes(body)
    assert batch.n_events == 1
    assert [(e.line, e.reason.split(":")[0]) for e in batch.errors] == [
        (2, "invalid JSON"),
        (3, "not an object"),
    ]
    records = batch.records()
    assert records[0]["finding_id"] and isinstance(records[0]["scores"], dict)
    assert pl.DataFrame(records).height == 1


@pytest.mark.parametrize("lines", ["shuffled", "some null", "absent"])
def test_results_follow_the_input_lines_as_a_stable_sort_would(
    scorer: Scorer, new_records: list[dict[str, Any]], to_ndjson: Any, lines: str
) -> None:
    batch = scorer.score_bytes(to_ndjson(new_records[:60]))
    assert batch.findings is not None
    table = batch.findings.table
    line = pl.Series(ocsf.SOURCE_LINE, np.random.default_rng(3).integers(0, 20, table.height))
    if lines == "some null":
        line = line.set(pl.Series(np.arange(table.height) % 7 == 0), None)
    table = table.with_columns(line) if lines != "absent" else table.drop(ocsf.SOURCE_LINE)
    shuffled = ScoredBatch(replace(batch.findings, table=table), batch.ids, batch.events)
    expected = table.with_row_index("at")
    if lines != "absent":
        expected = expected.sort(ocsf.SOURCE_LINE, maintain_order=True, nulls_last=True)
    results = shuffled.results()
    assert [r["rank"] for r in results] == expected.get_column(RANK).to_list()
    assert [r["finding_id"] for r in results] == batch.ids[expected["at"]].to_list()
    assert [r["line"] for r in results] == (
        expected.get_column(ocsf.SOURCE_LINE).to_list() if lines != "absent" else [None] * 60
    )
