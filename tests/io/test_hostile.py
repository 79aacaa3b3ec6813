"""Hostile and broken input: nothing here may abort a file, let alone the run."""

from __future__ import annotations

import gzip
import io
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from loghunt.errors import InputError
from loghunt.io import ReadLimits, parse_bytes, read_events

GOOD = b'{"eventName": "GetObject", "n": 1}\n'


def _png() -> bytes:
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + ihdr + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def test_one_bad_line_among_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(GOOD + GOOD + b'{"eventName": "Get\n' + GOOD + b"[1, 2]\n" + b"7\n" + GOOD)
    result = read_events(path)
    assert result.n_records == 4
    assert result.table["_source_line"].to_list() == [1, 2, 4, 7]
    dead = [(d.line, d.offset, d.reason.split(":")[0]) for d in result.dead_letters]
    assert dead == [
        (3, 2 * len(GOOD), "invalid JSON"),
        (5, 3 * len(GOOD) + 19, "not an object"),
        (6, 3 * len(GOOD) + 26, "not an object"),
    ]
    assert result.dead_letters[0].excerpt == '{"eventName": "Get\n'


def test_ten_thousand_deep_line_is_depth_limited(tmp_path: Path) -> None:
    deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    path = tmp_path / "deep.jsonl"
    path.write_bytes(GOOD + deep + b"\n" + GOOD)
    result = read_events(path)
    assert result.n_dead == 0 and result.n_records == 3
    column = ".".join(["a"] * 8)
    value = result.table[column][1]
    assert value.startswith('{"a":{"a":')
    assert result.table["_truncated"].to_list() == [False, True, False]


def test_deep_json_array_document_is_read() -> None:
    body = b'[{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}]"
    result = parse_bytes(body)
    assert result.n_records == 1
    assert result.table["x"][0].startswith("[[[")


def test_fifty_megabyte_line_is_dead_lettered_and_never_held_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    size = 50 * 1024 * 1024
    with path.open("wb") as fh:
        fh.write(GOOD)
        fh.write(b'{"blob": "')
        for _ in range(size // (1 << 20)):
            fh.write(b"x" * (1 << 20))
        fh.write(b'"}\n')
        fh.write(GOOD)
    tracemalloc.start()
    try:
        result = read_events(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.n_records == 2
    assert result.table["_source_line"].to_list() == [1, 3]
    [dead] = result.dead_letters
    assert dead.line == 2 and dead.offset == len(GOOD)
    assert dead.reason == f"line longer than max_line_bytes ({1 << 20})"
    assert dead.excerpt.startswith('{"blob": "xxx') and len(dead.excerpt) == 200
    assert peak < 16 * 1024 * 1024  # a handful of 1 MiB buffers, not 50 MB


def test_line_limit_boundary() -> None:
    limits = ReadLimits(max_line_bytes=len(GOOD) - 1)  # the newline does not count
    assert parse_bytes(GOOD * 2, limits=limits).n_records == 2
    limits = ReadLimits(max_line_bytes=len(GOOD) - 2)
    result = parse_bytes(GOOD * 2, limits=limits)
    assert result.n_records == 0 and [d.line for d in result.dead_letters] == [1, 2]


def test_invalid_utf8_line_is_dead_lettered_not_repaired() -> None:
    result = parse_bytes(GOOD + b'{"user": "\xff\xfeadmin"}\n' + GOOD)
    assert result.n_records == 2
    [dead] = result.dead_letters
    assert (dead.line, dead.reason) == (2, "invalid UTF-8")
    assert "\\xff\\xfe" in dead.excerpt


def test_lone_surrogate_escape_is_invalid_json() -> None:
    result = parse_bytes(b'{"user": "\\ud800"}\n' + GOOD)
    assert result.n_records == 1
    assert result.dead_letters[0].reason.startswith("invalid JSON")


def test_nan_and_infinity_become_null_with_a_flag() -> None:
    body = GOOD + b'{"n": NaN, "m": Infinity, "k": [-Infinity], "big": 1e999}\n' + GOOD
    result = parse_bytes(body)
    assert result.n_dead == 0
    table = result.table
    assert table["_nonfinite"].to_list() == [False, True, False]
    assert table["n"].to_list() == [1, None, 1]
    assert table["m"].to_list() == [None, None, None]
    assert table["k"].to_list() == [None, "[null]", None]
    assert table["big"].to_list() == [None, None, None]


def test_truncated_gzip_keeps_records_before_the_break(tmp_path: Path) -> None:
    body = b"".join(orjson.dumps({"i": i, "pad": "y" * 50}) + b"\n" for i in range(5000))
    packed = gzip.compress(body)
    path = tmp_path / "cut.json.gz"
    path.write_bytes(packed[: len(packed) // 2])
    result = read_events(path)
    assert 0 < result.n_records < 5000
    assert result.table["i"].to_list() == list(range(result.n_records))
    breaks = [d for d in result.dead_letters if d.reason.startswith("input stream broken")]
    assert len(breaks) == 1 and breaks[0].offset is not None and breaks[0].offset > 0
    assert result.n_dead <= 2  # the break, and perhaps the cut-off last line


def test_truncated_zstd_is_reported() -> None:
    body = b"".join(orjson.dumps({"i": i}) + b"\n" for i in range(20000))
    packed = zstandard.ZstdCompressor().compress(body)
    result = parse_bytes(packed[: len(packed) - 10])
    assert result.table["i"].to_list() == list(range(result.n_records))
    assert any(d.reason.startswith("input stream broken") for d in result.dead_letters)


def test_truncated_gzip_document_keeps_whole_csv_rows() -> None:
    body = b"a,b\n" + b"".join(b"%d,row%d\n" % (i, i) for i in range(20000))
    packed = gzip.compress(body)
    result = parse_bytes(packed[: len(packed) * 3 // 4])
    assert 0 < result.n_records < 20000
    assert result.table["b"].to_list()[-1] == f"row{result.n_records - 1}"


def test_png_and_random_binary_give_one_dead_letter_each(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(_png())
    rng = np.random.default_rng(7)
    (tmp_path / "b.bin").write_bytes(rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes())
    (tmp_path / "c.jsonl").write_bytes(GOOD)
    result = read_events(tmp_path)
    assert result.n_records == 1
    assert [(Path(d.file).name, d.reason) for d in result.dead_letters] == [
        ("a.png", "unrecognised format: binary data"),
        ("b.bin", "unrecognised format: binary data"),
    ]


def test_plain_text_log_is_unrecognised() -> None:
    body = b"Jun  3 15:42:50 host sshd[123]: Accepted password for root from 1.2.3.4\n" * 5
    [dead] = parse_bytes(body).dead_letters
    assert dead.reason.startswith("unrecognised format") and dead.line is None


def test_empty_and_blank_files_are_not_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "blank.json").write_bytes(b"\n\n  \n")
    result = read_events(tmp_path)
    assert result.n_records == 0 and result.n_dead == 0 and len(result.files) == 2


def test_corrupt_zip_and_corrupt_parquet(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(b"PK\x03\x04" + b"\x01" * 100)
    (tmp_path / "b.parquet").write_bytes(b"PAR1" + b"\x00" * 100)
    (tmp_path / "c.jsonl").write_bytes(GOOD)
    result = read_events(tmp_path)
    assert result.n_records == 1
    reasons = [d.reason.split(":")[0] for d in result.dead_letters]
    assert reasons == ["unreadable zip archive", "unreadable Parquet"]


def test_zip_member_with_bad_crc_keeps_other_members(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("bad.jsonl", GOOD * 3)
        z.writestr("good.jsonl", GOOD)
    data = bytearray(path.read_bytes())
    at = data.index(b"GetObject")
    data[at] = ord("X")  # same length, wrong CRC
    path.write_bytes(bytes(data))
    result = read_events(path)
    assert result.table["_source_file"].to_list()[-1] == f"{path}!good.jsonl"
    assert any("bad.jsonl" in d.file for d in result.dead_letters)


def test_archives_nested_too_deep_stop() -> None:
    data = GOOD
    for _ in range(6):
        data = gzip.compress(data)
    [dead] = parse_bytes(data).dead_letters
    assert dead.reason.startswith("archives nested more than")


def test_document_over_the_size_limit() -> None:
    body = orjson.dumps([{"i": i} for i in range(1000)])
    [dead] = parse_bytes(body, limits=ReadLimits(max_document_bytes=1000)).dead_letters
    assert dead.reason == "document larger than max_document_bytes (1000)"


def test_unopenable_file_is_dead_lettered_when_others_are_read(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(GOOD)
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "gone.jsonl")  # listed, but cannot be opened
    result = read_events(tmp_path)
    assert result.n_records == 1
    [dead] = result.dead_letters
    assert dead.file.endswith("b.jsonl") and dead.reason.startswith("cannot open")


def test_no_file_can_be_opened_raises(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "gone.jsonl")
    with pytest.raises(InputError, match="no readable file"):
        read_events(tmp_path)


def test_broken_first_line_does_not_lose_the_file() -> None:
    result = parse_bytes(b'{"eventName": "Cut\n' + GOOD + GOOD)
    assert result.n_records == 2
    assert result.table["_source_line"].to_list() == [2, 3]
    assert [d.line for d in result.dead_letters] == [1]


def test_records_document_with_nan_keeps_ordinals() -> None:
    body = b'{"Records": [{"a": 1}, {"a": NaN}, {"a": 3}]}'
    table = parse_bytes(body).table
    assert table["_source_line"].to_list() == [1, 2, 3]
    assert table["a"].to_list() == [1, None, 3]
    assert table["_nonfinite"].to_list() == [False, True, False]


def test_parquet_whose_struct_collides_with_a_dotted_column() -> None:
    table = pa.table({"a.b": [1], "a": [{"b": 2}]})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    result = parse_bytes(buf.getvalue())
    assert result.n_records == 0
    assert result.dead_letters[0].reason.startswith("unreadable Parquet")


def test_envelope_lines_past_the_document_limit_are_streamed() -> None:
    line = orjson.dumps({"Records": [{"i": i} for i in range(50)]}) + b"\n"
    result = parse_bytes(line * 20, limits=ReadLimits(max_document_bytes=len(line) * 3))
    assert result.n_records == 1000 and result.n_dead == 0
    assert result.table["_source_line"].to_list()[::50] == list(range(1, 21))


def test_archive_over_the_document_limit_inside_a_compressed_stream() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.jsonl", GOOD * 100)
    packed = gzip.compress(buf.getvalue())
    [dead] = parse_bytes(packed, limits=ReadLimits(max_document_bytes=100)).dead_letters
    assert dead.reason.startswith("archive larger than max_document_bytes")
