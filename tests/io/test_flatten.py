"""The iterative flattener, its limits, and the table's one-dtype-per-column rule."""

from __future__ import annotations

import math
from typing import Any

import orjson
import polars as pl
import pytest

from loghunt.errors import ConfigError
from loghunt.io import ReadLimits, flatten_record, parse_bytes
from loghunt.io import table as table_module
from loghunt.io.jsontext import dumps_limited, loads_lenient
from loghunt.io.table import TableBuilder


def _nested(depth: int) -> dict[str, object]:
    root: dict[str, object] = {}
    node = root
    for _ in range(depth):
        child: dict[str, object] = {}
        node["k"] = child
        node = child
    node["leaf"] = 1
    return root


def _lines(*records: object) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


# --- flatten_record ------------------------------------------------------------------------


def test_flatten_keeps_document_order_and_dots() -> None:
    flat, flags = flatten_record(
        {"a": 1, "b": {"c": {"d": "x"}, "e": None}, "f": True, "g": {}}, ReadLimits()
    )
    assert list(flat.items()) == [("a", 1), ("b.c.d", "x"), ("b.e", None), ("f", True)]
    assert flags == 0


def test_lists_become_compact_json() -> None:
    flat, _ = flatten_record({"s": [1, "a", None], "o": [{"y": 1, "x": 2}], "e": []}, ReadLimits())
    assert flat == {"s": '[1,"a",null]', "o": '[{"x":2,"y":1}]', "e": "[]"}


def test_json_subtrees_anywhere_and_for_any_non_null_value() -> None:
    record = {
        "requestParameters": {"b": 1, "a": 2},
        "responseElements": None,
        "detail": {"resources": [{"ARN": "x"}], "additionalEventData": 5},
    }
    flat, _ = flatten_record(record, ReadLimits())
    assert flat == {
        "requestParameters": '{"a":2,"b":1}',
        "responseElements": None,
        "detail.resources": '[{"ARN":"x"}]',
        "detail.additionalEventData": "5",
    }


def test_custom_json_subtrees() -> None:
    limits = ReadLimits(json_subtrees=("payload",))
    flat, _ = flatten_record({"payload": {"x": 1}, "requestParameters": {"y": 2}}, limits)
    assert flat == {"payload": '{"x":1}', "requestParameters.y": 2}


def test_depth_limit_keeps_the_deeper_subtree_as_json() -> None:
    flat, flags = flatten_record(_nested(4), ReadLimits(max_depth=2))
    assert flat == {"k.k": '{"k":{"k":{"leaf":1}}}'}
    assert flags == 0


def test_ten_thousand_deep_object_is_flattened_without_recursion() -> None:
    limits = ReadLimits()
    flat, flags = flatten_record(_nested(10_000), limits)
    [(name, value)] = flat.items()
    assert name == ".".join(["k"] * limits.max_depth)
    assert value.startswith('{"k":{"k":') and len(value) == limits.max_string_len
    assert flags == 1  # the JSON text was cut: truncated


def test_key_limit_drops_the_rest_and_flags() -> None:
    record = {f"k{i}": i for i in range(10)} | {"nested": {"a": 1}}
    flat, flags = flatten_record(record, ReadLimits(max_keys_per_event=4))
    assert list(flat) == ["k0", "k1", "k2", "k3"]
    assert flags == 1


def test_string_limit_cuts_and_flags() -> None:
    flat, flags = flatten_record({"s": "x" * 50, "t": "ok"}, ReadLimits(max_string_len=10))
    assert flat == {"s": "x" * 10, "t": "ok"}
    assert flags == 1


def test_nonfinite_python_floats_become_null() -> None:
    flat, flags = flatten_record({"a": math.inf, "b": math.nan, "c": 1.5}, ReadLimits())
    assert flat == {"a": None, "b": None, "c": 1.5}
    assert flags == 2


@pytest.mark.parametrize("field", ["max_depth", "max_line_bytes", "max_columns"])
def test_limits_must_be_positive(field: str) -> None:
    kwargs: dict[str, Any] = {field: 0}
    with pytest.raises(ConfigError, match=field):
        ReadLimits(**kwargs)


# --- JSON helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b'{"a": [1, 2.5, "x\\n\\u00e9"], "b": {"c": null, "d": true}}', None),
        (b"[]", None),
        (b'  {"a": {}} ', None),
        (b'"s"', None),
        (b"-0.5e3", None),
    ],
)
def test_lenient_parser_agrees_with_orjson(text: bytes, expected: object) -> None:
    assert loads_lenient(text) == (orjson.loads(text), False)


def test_lenient_parser_nonfinite_and_big_numbers() -> None:
    text = b'{"a": NaN, "b": [-Infinity, 1e400], "c": 123456789012345678901234567890}'
    value, nonfinite = loads_lenient(text)
    assert nonfinite
    assert math.isnan(value["a"]) and value["b"] == [-math.inf, math.inf]
    assert value["c"] == 123456789012345678901234567890
    assert loads_lenient(b"[1.5, 2]") == ([1.5, 2], False)


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b'{"a" 1}', b"[1,]", b"{} {}", b'{"a": 1,}', b"[1 2]", b"nul", b'"\\ud800"', b"01"],
)
def test_lenient_parser_rejects_invalid_json(text: bytes) -> None:
    with pytest.raises(ValueError):
        loads_lenient(text)


def test_lenient_parser_handles_any_depth() -> None:
    value, _ = loads_lenient(b"[" * 100_000 + b"]" * 100_000)
    depth = 0
    while value:
        value = value[0]
        depth += 1
    assert depth == 99_999


def test_dumps_limited_falls_back_for_deep_and_huge_values() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(5000):
        child: list[object] = []
        node.append(child)
        node = child
    text, cut = dumps_limited(deep, 100)
    assert text == "[" * 100 and cut
    assert dumps_limited({"b": 2**70, "a": [math.nan]}, 100) == (
        '{"a":[null],"b":1180591620717411303424}',
        False,
    )


# --- column types --------------------------------------------------------------------------


def test_one_dtype_per_column_by_the_rule() -> None:
    body = _lines(
        {"b": True, "i": 1, "f": 1, "s": "x", "m": 1, "bi": True, "n": None},
        {"b": False, "i": 2, "f": 2.5, "s": "y", "m": "two", "bi": 3, "n": None},
        {"b": None, "i": None, "f": None, "s": None, "m": 2.5, "bi": None},
    )
    table = parse_bytes(body).table
    assert table.schema["b"] == pl.Boolean
    assert table.schema["i"] == pl.Int64
    assert table.schema["f"] == pl.Float64 and table["f"].to_list() == [1.0, 2.5, None]
    assert table.schema["s"] == pl.String
    assert table["m"].to_list() == ["1", "two", "2.5"]
    assert table["bi"].to_list() == ["true", "3", None]
    assert table.schema["n"] == pl.String and table["n"].null_count() == 3


def test_integers_past_int64_stay_exact_as_text() -> None:
    table = parse_bytes(_lines({"k": 18446744073709551615}, {"k": 1})).table
    assert table["k"].to_list() == ["18446744073709551615", "1"]


def test_types_agree_across_chunks_and_sparse_columns() -> None:
    builder = TableBuilder(chunk_rows=4)
    for i in range(20):
        row: dict[str, object] = {"dense": i, "mixed": i if i < 10 else f"s{i}"}
        if i == 17:
            row["rare"] = 2.5
        if i == 3:
            row["rare"] = 1
        builder.add_row(row, 0, "f", i + 1)
    table = builder.finish(max_columns=100)
    assert table["dense"].to_list() == list(range(20))
    assert table["mixed"].to_list() == [str(i) for i in range(10)] + [
        f"s{i}" for i in range(10, 20)
    ]
    rare = table["rare"].to_list()
    assert rare[3] == 1.0 and rare[17] == 2.5 and sum(v is not None for v in rare) == 2
    assert table["_source_line"].to_list() == list(range(1, 21))


def _build(rows: list[dict[str, object]], chunk_rows: int) -> pl.DataFrame:
    builder = TableBuilder(chunk_rows=chunk_rows)
    for line, row in enumerate(rows, 1):
        builder.add_row(row, 0, "f", line)
    return builder.finish(max_columns=100)


def test_small_chunks_typed_together_match_column_by_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A small chunk's columns are built one Series per type, a large chunk's one by one.
    rows: list[dict[str, object]] = [
        {
            "s": f"s{i}",
            "b": i % 2 == 0,
            "i": i,
            "f": i / 2 if i % 3 else i,
            "big": 2**64 - 1 if i == 40 else i,  # past Int64 in one row: all text
            "late": "x" if i < 50 else 7,  # text first, a number later: all text
            "none": None,
            f"k{i % 40}": i,  # keys first seen at every position: column order
        }
        for i in range(70)
    ]
    together, chunked = _build(rows, 1000), _build(rows, 3)
    monkeypatch.setattr(table_module, "_MAX_GROUPED_CELLS", 0)
    apart = _build(rows, 1000)
    for other in (chunked, apart):
        assert together.equals(other) and together.schema == other.schema
    assert together.columns[:8] == ["s", "b", "i", "f", "big", "late", "none", "k0"]
    assert together.schema["big"] == pl.String and together["big"][40] == str(2**64 - 1)
    assert together["late"].to_list()[48:52] == ["x", "x", "7", "7"]
    assert together.schema["none"] == pl.String and together["none"].null_count() == 70


def test_float_text_in_mixed_columns_is_json_text() -> None:
    builder = TableBuilder(chunk_rows=1)
    for value in (0.1, 1e-7, "x"):
        builder.add_row({"v": value}, 0, "f", 1)
    assert builder.finish(10)["v"].to_list() == ["0.1", "1e-7", "x"]


# --- table shape ---------------------------------------------------------------------------


def test_max_columns_folds_the_rarest_into_overflow() -> None:
    rows = [{"common": i, "also": "x", f"rare{i}": i} for i in range(6)]
    table = parse_bytes(_lines(*rows), limits=ReadLimits(max_columns=3)).table
    assert table.columns[:3] == ["common", "also", "rare0"]
    assert table["_overflow"].to_list() == [None] + [f'{{"rare{i}":{i}}}' for i in range(1, 6)]


def test_truncated_column_only_when_needed() -> None:
    limits = ReadLimits(max_string_len=3)
    assert "_truncated" not in parse_bytes(b'{"a": "abc"}', limits=limits).table.columns
    table = parse_bytes(_lines({"a": "abc"}, {"a": "abcdef"}), limits=limits).table
    assert table["_truncated"].to_list() == [False, True]
    assert table["a"].to_list() == ["abc", "abc"]


def test_input_fields_named_like_added_columns_are_renamed() -> None:
    table = parse_bytes(b'{"_source_file": "old.json", "_truncated": true}').table
    assert table["_source_file_input"].to_list() == ["old.json"]
    assert table["_truncated_input"].to_list() == [True]
    assert table["_source_file"].to_list() == ["<bytes>"]
