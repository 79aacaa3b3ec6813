"""Every supported input format, sniffed from bytes, including compression and archives."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zipfile
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from loghunt.errors import InputError
from loghunt.io import DeadLetter, ReadLimits, parse_bytes, read_events, write_dead_letters


def _event(i: int) -> dict[str, object]:
    return {
        "eventName": f"Op{i}",
        "eventTime": f"2024-01-01T00:00:{i:02d}Z",
        "userIdentity": {
            "type": "AssumedRole",
            "sessionContext": {"sessionIssuer": {"arn": f"arn:aws:iam::1:role/r{i}"}},
        },
        "requestParameters": {"bucketName": "b", "key": f"k{i}"},
        "readOnly": i % 2 == 0,
    }


def _jsonl(n: int) -> bytes:
    return b"".join(orjson.dumps(_event(i)) + b"\n" for i in range(n))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- JSON family -------------------------------------------------------------------------


def test_jsonl_flattens_nested_keys_and_numbers_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", _jsonl(3))
    result = read_events(path)
    table = result.table
    assert result.n_records == 3 and result.n_dead == 0
    assert result.files == [str(path)]
    assert table["userIdentity.sessionContext.sessionIssuer.arn"].to_list()[2] == (
        "arn:aws:iam::1:role/r2"
    )
    assert table["_source_file"].dtype == pl.String
    assert table["_source_line"].dtype == pl.Int64
    assert table["_source_line"].to_list() == [1, 2, 3]
    assert table["readOnly"].dtype == pl.Boolean
    assert "_truncated" not in table.columns


def test_request_parameters_kept_as_sorted_compact_json() -> None:
    body = b'{"requestParameters": {"z": 1, "a": {"c": [1, 2], "b": null}}, "eventName": "X"}'
    table = parse_bytes(body).table
    assert table["requestParameters"].to_list() == ['{"a":{"b":null,"c":[1,2]},"z":1}']
    assert not [c for c in table.columns if c.startswith("requestParameters.")]


def test_cloudtrail_records_document_uses_record_ordinals() -> None:
    doc = orjson.dumps({"Records": [_event(i) for i in range(4)]})
    result = parse_bytes(doc, source="ct.json")
    assert result.n_records == 4
    assert result.table["_source_line"].to_list() == [1, 2, 3, 4]
    assert result.table["_source_file"].unique().to_list() == ["ct.json"]


def test_cloudtrail_records_document_larger_than_line_limit_is_read() -> None:
    # S3 delivers one line per object, often megabytes: the line limit must not apply.
    doc = orjson.dumps({"Records": [_event(i) for i in range(2000)]})
    limits = ReadLimits(max_line_bytes=1024)
    assert len(doc) > 64 * 1024
    assert parse_bytes(doc, limits=limits).n_records == 2000


def test_pretty_printed_records_document() -> None:
    doc = orjson.dumps({"Records": [_event(0), _event(1)]}, option=orjson.OPT_INDENT_2)
    result = parse_bytes(b"  \n" + doc)
    assert result.n_records == 2 and result.n_dead == 0


def test_jsonl_lines_holding_records_envelopes_are_expanded() -> None:
    line1 = orjson.dumps({"Records": [_event(0), _event(1)]})
    line2 = orjson.dumps(_event(2))
    line3 = orjson.dumps({"Records": [_event(3), 7]})
    result = parse_bytes(b"\n".join([line1, line2, line3]) + b"\n")
    assert result.table["eventName"].to_list() == ["Op0", "Op1", "Op2", "Op3"]
    assert result.table["_source_line"].to_list() == [1, 1, 2, 3]
    [dead] = result.dead_letters
    assert dead.line == 3 and dead.reason == "not an object (in Records)" and dead.excerpt == "7"


def test_json_array_of_objects() -> None:
    body = orjson.dumps([_event(0), "oops", _event(1)], option=orjson.OPT_INDENT_2)
    result = parse_bytes(body)
    assert result.n_records == 2
    assert result.table["_source_line"].to_list() == [1, 3]
    assert [(d.line, d.reason) for d in result.dead_letters] == [(2, "not an object")]


def test_single_pretty_printed_object() -> None:
    body = orjson.dumps(_event(5), option=orjson.OPT_INDENT_2)
    result = parse_bytes(body)
    assert result.n_records == 1
    assert result.table["eventName"].to_list() == ["Op5"]


def test_windows_style_crlf_lines_and_bom() -> None:
    body = b"\xef\xbb\xbf" + b'{"a": 1}\r\n\r\n{"a": 2}\r\n'
    result = parse_bytes(body)
    assert result.table["a"].to_list() == [1, 2]
    assert result.table["_source_line"].to_list() == [1, 3]


# --- CSV -----------------------------------------------------------------------------------


def test_csv_read_as_text_then_typed() -> None:
    body = (
        b"user,count,ratio,flag,account,note,id\n"
        b'alice,3,0.5,true,012345678901,"hello, world",12345678901234567890\n'
        b"bob,4,1,FALSE,123456789012,,1\n"
        b"\n"
        b'carol,5,2.5e3,false,000000000001,"multi\nline",2\n'
    )
    result = parse_bytes(body, source="t.csv")
    table = result.table
    assert result.n_dead == 0
    assert table["count"].dtype == pl.Int64 and table["count"].to_list() == [3, 4, 5]
    assert table["ratio"].dtype == pl.Float64
    assert table["flag"].to_list() == [True, False, False]
    # Leading zeros are data (AWS account ids): they stay text.
    assert table["account"].to_list() == ["012345678901", "123456789012", "000000000001"]
    assert table["note"].to_list() == ["hello, world", None, "multi\nline"]
    # Too many digits for Int64 and not a decimal: kept exact, as text.
    assert table["id"].to_list() == ["12345678901234567890", "1", "2"]
    assert table["_source_line"].to_list() == [1, 2, 4]


def test_csv_with_ragged_and_invalid_utf8_rows_keeps_the_good_rows() -> None:
    body = b"a,b\n1,x\n2,y,extra\n3,\xff\xfe\n4,z\n"
    result = parse_bytes(body)
    assert result.table["a"].to_list() == [1, 4]
    assert result.table["_source_line"].to_list() == [1, 4]
    reasons = {d.line: d.reason for d in result.dead_letters}
    assert reasons == {2: "expected 2 fields, found 3", 3: "invalid UTF-8"}


def test_tsv_is_recognised() -> None:
    result = parse_bytes(b"host\tuser\nh1\troot\nh2\tadmin\n")
    assert result.table["user"].to_list() == ["root", "admin"]


# --- Parquet -------------------------------------------------------------------------------


def _security_lake_parquet() -> bytes:
    table = pa.table(
        {
            "class_uid": pa.array([6003, 6003], pa.int32()),
            "time": pa.array([1_700_000_000_000, None], pa.timestamp("ms", tz="UTC")),
            "actor": [
                {"user": {"name": "alice", "type": "IAMUser"}, "session": {"is_mfa": True}},
                {"user": {"name": "bob", "type": "Root"}, "session": None},
            ],
            "api": [{"operation": "GetObject", "request": {"data": '{"k":1}'}}, None],
            "resources": [[{"uid": "arn:1", "type": "S3"}], []],
            "tags": [["a", "b"], None],
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_parquet_nested_structs_become_dotted_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "lake.gz.parquet.txt", _security_lake_parquet())
    table = read_events(path).table
    assert table["actor.user.name"].to_list() == ["alice", "bob"]
    assert table["actor.session.is_mfa"].to_list() == [True, None]
    assert table["api.request.data"].to_list() == ['{"k":1}', None]
    assert table["class_uid"].dtype == pl.Int64
    assert isinstance(table["time"].dtype, pl.Datetime)
    # Lists are kept as JSON strings; "resources" is a JSON subtree either way.
    assert table["resources"].to_list() == ['[{"type":"S3","uid":"arn:1"}]', "[]"]
    assert table["tags"].to_list() == ['["a","b"]', None]
    assert table["_source_line"].to_list() == [1, 2]


def test_parquet_in_memory_and_compressed() -> None:
    data = _security_lake_parquet()
    assert parse_bytes(zstandard.ZstdCompressor().compress(data)).n_records == 2


def test_parquet_struct_below_max_depth_is_json() -> None:
    table = parse_bytes(_security_lake_parquet(), limits=ReadLimits(max_depth=2)).table
    assert table["actor.user"].to_list()[0] == '{"name":"alice","type":"IAMUser"}'


# --- compression and archives ---------------------------------------------------------------


@pytest.mark.parametrize(
    "compress",
    [
        gzip.compress,
        zstandard.ZstdCompressor().compress,
        bz2.compress,
        lzma.compress,
    ],
    ids=["gzip", "zstd", "bzip2", "xz"],
)
def test_compressed_jsonl(tmp_path: Path, compress: object) -> None:
    assert callable(compress)
    path = _write(tmp_path / "events.json", compress(_jsonl(50)))
    result = read_events(path)
    assert result.n_records == 50 and result.n_dead == 0
    assert result.table["_source_line"].to_list() == list(range(1, 51))


def test_concatenated_gzip_and_zstd_members() -> None:
    parts = [_jsonl(2), _jsonl(3)]
    assert parse_bytes(b"".join(gzip.compress(p) for p in parts)).n_records == 5
    zstd = zstandard.ZstdCompressor()
    assert parse_bytes(b"".join(zstd.compress(p) for p in parts)).n_records == 5


def test_zip_members_nested_compression_and_names(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("deep.jsonl", _jsonl(1))
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("a/events.json", _jsonl(2))
        z.writestr("b.json.gz", gzip.compress(orjson.dumps({"Records": [_event(9)]})))
        z.writestr("c.zip", inner.getvalue())
        z.writestr("__MACOSX/._a", b"junk")
        z.writestr(".hidden.json", _jsonl(5))
        z.writestr("dir/", b"")
    result = read_events(path)
    assert result.n_dead == 0
    assert result.table["_source_file"].to_list() == [
        f"{path}!a/events.json",
        f"{path}!a/events.json",
        f"{path}!b.json.gz",
        f"{path}!c.zip!deep.jsonl",
    ]
    assert result.files == [str(path)]


def test_misleading_extensions_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path / "1_really_gzip.csv", gzip.compress(_jsonl(2)))
    _write(tmp_path / "2_really_csv.json", b"a,b\n1,2\n")
    _write(tmp_path / "3_really_jsonl.parquet", _jsonl(1))
    _write(tmp_path / "4_really_parquet.log", _security_lake_parquet())
    result = read_events(tmp_path)
    counts = result.table.group_by("_source_file", maintain_order=True).len()
    assert counts["len"].to_list() == [2, 1, 1, 2]
    assert result.n_dead == 0


# --- paths, folders, results ----------------------------------------------------------------


def test_folder_walk_is_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    _write(tmp_path / "b" / "2.jsonl", b'{"n": 3}\n')
    _write(tmp_path / "a.jsonl", b'{"n": 1}\n{"n": 2}\n')
    _write(tmp_path / ".hidden.jsonl", b'{"n": 99}\n')
    _write(tmp_path / ".git" / "x.jsonl", b'{"n": 98}\n')
    result = read_events([tmp_path])
    assert result.table["n"].to_list() == [1, 2, 3]
    assert result.files == [str(tmp_path / "a.jsonl"), str(tmp_path / "b" / "2.jsonl")]


def test_several_paths_and_formats_in_one_table(tmp_path: Path) -> None:
    csv_path = _write(tmp_path / "x.csv", b"eventName,n\nFromCsv,7\n")
    json_path = _write(tmp_path / "y.jsonl", b'{"eventName": "FromJson", "n": 1.5}\n')
    result = read_events([str(csv_path), json_path])
    assert result.table["eventName"].to_list() == ["FromCsv", "FromJson"]
    assert result.table["n"].dtype == pl.Float64


def test_missing_path_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_events(tmp_path / "nope.json")
    assert info.value.file == str(tmp_path / "nope.json")


def test_folder_without_files_raises_input_error(tmp_path: Path) -> None:
    (tmp_path / ".only_hidden").write_text("{}")
    with pytest.raises(InputError, match="no readable file"):
        read_events(tmp_path)


def test_empty_bytes_give_an_empty_table() -> None:
    result = parse_bytes(b"")
    assert result.n_records == 0 and result.n_dead == 0
    assert result.table.schema == pl.Schema({"_source_file": pl.String, "_source_line": pl.Int64})


def test_write_dead_letters_round_trip(tmp_path: Path) -> None:
    result = parse_bytes(b'{"a": 1}\n42\n', source="s")
    out = write_dead_letters(result.dead_letters, tmp_path / "dead.jsonl")
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert rows == [
        {"file": "s", "line": 2, "offset": 9, "reason": "not an object", "excerpt": "42\n"}
    ]
    assert DeadLetter(**rows[0]) == result.dead_letters[0]


def test_progress_bar_does_not_change_the_result(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.jsonl", _jsonl(3))
    assert read_events(path, progress=True).table.equals(read_events(path).table)


# --- real data ------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_real_cloudtrail_zip(shared_data: Path) -> None:
    result = read_events(shared_data / "otrf_aws_cloudtrail" / "ec2_proxy_s3_exfiltration.zip")
    assert result.n_records == 103 and result.n_dead == 0
    for column in ("@timestamp", "eventName", "userIdentity.type", "userAgent"):
        assert column in result.table.columns
    assert result.table["_source_file"][0].endswith(
        "ec2_proxy_s3_exfiltration.zip!ec2_proxy_s3_exfiltration_2020-09-14011940.json"
    )


@pytest.mark.shared_data
def test_real_honeybucket_csv_zip(shared_data: Path) -> None:
    result = read_events(shared_data / "otrf_aws_cloudtrail" / "aws_s3_honeybucketlogs.zip")
    assert result.n_dead == 0 and result.n_records > 100
    assert result.table["Event Name"].null_count() == 0
    assert result.table["Repeated Attempts"].dtype == pl.Int64


@pytest.mark.shared_data
def test_real_bgl_structured_csv_and_raw_log(shared_data: Path) -> None:
    folder = shared_data / "loghub_bgl_2k"
    result = read_events([folder / "BGL_2k.log_structured.csv", folder / "BGL_2k.log"])
    assert result.n_records == 2000
    assert result.table["LineId"].to_list()[:3] == [1, 2, 3]
    [dead] = result.dead_letters
    assert dead.file.endswith("BGL_2k.log") and dead.reason.startswith("unrecognised format")


@pytest.mark.shared_data
@pytest.mark.slow
def test_real_windows_atomic_counts_match_manifest(shared_data: Path) -> None:
    folder = shared_data / "otrf_windows_atomic"
    manifest = pl.read_csv(folder / "manifest.csv")
    zips = [folder / name for name in manifest["file"].to_list()]
    result = read_events(zips)
    assert result.n_dead == 0
    assert result.n_records == manifest["events"].sum()


def test_folder_walk_skips_fifos(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    _write(tmp_path / "a.jsonl", b'{"n": 1}\n')
    assert read_events(tmp_path).files == [str(tmp_path / "a.jsonl")]
