"""The table builder's paths: one chunk of rows (a request body) and many chunks or frames."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from loghunt.io import table as table_module
from loghunt.io.table import TableBuilder


def _rows(n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {"s": f"s{i}", "i": i, "none": None}
        if i % 5 == 0:
            row["mixed"] = i if i % 2 else f"m{i}"
        if i % 3 == 0:
            row["f"] = i / 4
        if i == 17:
            row["rare"] = True
        if i >= 250:
            row["late"] = i  # first seen well after the first drain of rows
        if i % 11 == 10:
            row = {}  # an event whose keys all held empty objects
        rows.append(row)
    rows[-1]["_source_file"] = "old.json"  # renamed, not confused with the added column
    return rows


def _build(rows: list[dict[str, Any]], chunk_rows: int, max_columns: int = 100) -> pl.DataFrame:
    builder = TableBuilder(chunk_rows=chunk_rows)
    for line, row in enumerate(rows, 1):
        builder.add_row(row, line % 2, "f", line)  # odd lines flagged truncated
    return builder.finish(max_columns)


def _expected(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: [row.get(name) for row in rows] for name in names}


@pytest.mark.parametrize("n", [1, 7, 300])
def test_one_chunk_matches_many_chunks(n: int) -> None:
    rows = _rows(n)
    one, many = _build(rows, chunk_rows=10_000), _build(rows, chunk_rows=4)
    assert one.columns == many.columns and one.schema == many.schema
    assert one.equals(many)
    expected = _expected(rows)
    names = [c if c != "_source_file" else "_source_file_input" for c in expected]
    assert one.columns == [*names, "_truncated", "_source_file", "_source_line"]
    assert one["i"].to_list() == expected["i"] and one["s"].to_list() == expected["s"]
    assert one.schema["none"] == pl.String and one["none"].null_count() == n
    assert one["_source_file_input"].to_list() == [None] * (n - 1) + ["old.json"]
    assert one["_truncated"].to_list() == [line % 2 == 1 for line in range(1, n + 1)]
    if n == 300:
        assert one["late"].to_list() == expected["late"] and one.schema["f"] == pl.Float64
        assert one["mixed"].to_list()[:6] == ["m0", None, None, None, None, "5"]


def test_rows_without_keys_before_the_last_chunk_keep_their_place() -> None:
    rows: list[dict[str, Any]] = [{}] * 5 + [{"a": 0}, {"a": 1}]
    table = _build(rows, chunk_rows=4)  # the first chunk ends with no column at all
    assert table["a"].to_list() == [None] * 5 + [0, 1]
    assert table["_source_line"].to_list() == list(range(1, 8))


def test_frames_and_rows_in_one_table() -> None:
    builder = TableBuilder()
    builder.add_frame(pl.DataFrame({"a": [1, 2]}), "x.csv")
    builder.add_row({"a": 3, "b": "y"}, 0, "y.jsonl", 1)
    table = builder.finish(10)
    assert table["a"].to_list() == [1, 2, 3] and table["b"].to_list() == [None, None, "y"]
    assert table["_source_file"].to_list() == ["x.csv", "x.csv", "y.jsonl"]


def test_one_chunk_with_too_many_columns_folds_into_overflow() -> None:
    rows = [{"common": i, f"rare{i}": i} for i in range(4)]
    table = _build(rows, chunk_rows=10_000, max_columns=2)
    assert table.columns[:3] == ["common", "rare0", "_overflow"]
    assert table["_overflow"].to_list() == [None, '{"rare1":1}', '{"rare2":2}', '{"rare3":3}']


def test_drain_size_does_not_change_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(300)
    default = _build(rows, chunk_rows=10_000)
    monkeypatch.setattr(table_module, "_DRAIN_ROWS", 1)
    assert _build(rows, chunk_rows=10_000).equals(default)
