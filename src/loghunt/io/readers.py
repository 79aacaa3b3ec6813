"""Format readers: route each input by its bytes and turn it into rows or dead letters."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import polars as pl

from loghunt.io.deadletter import DeadLetter, make_excerpt
from loghunt.io.flatten import NONFINITE, flatten_record
from loghunt.io.frames import flatten_frame, infer_text_types
from loghunt.io.jsontext import has_nonfinite, loads_lenient
from loghunt.io.limits import ReadLimits
from loghunt.io.sniff import (
    COMPRESSED,
    SNIFF_BYTES,
    Format,
    looks_like_csv,
    looks_like_json_lines,
    sniff,
    strip_bom,
)
from loghunt.io.streams import STREAM_ERRORS, decompressed, prefixed, read_up_to
from loghunt.io.table import TableBuilder

MAX_LAYERS = 4  # compression/archive layers inside one another (guards archive quines)
_SKIP_CHUNK = 1 << 20
_ZIP_ERRORS: tuple[type[BaseException], ...] = (*STREAM_ERRORS, ValueError)
# RuntimeError: an encrypted member; NotImplementedError: an unknown compression method.
_MEMBER_ERRORS: tuple[type[BaseException], ...] = (
    *STREAM_ERRORS,
    RuntimeError,
    NotImplementedError,
)


class ReadContext:
    """Collects the rows and dead letters of one read, across all of its inputs."""

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.builder = TableBuilder()
        self.dead_letters: list[DeadLetter] = []

    def dead(
        self,
        file: str,
        line: int | None,
        offset: int | None,
        reason: str,
        raw: bytes | str = b"",
    ) -> None:
        """Record one skipped record or input."""
        self.dead_letters.append(DeadLetter(file, line, offset, reason, make_excerpt(raw)))

    def add_record(self, record: dict[str, Any], file: str, line: int, lenient: bool) -> None:
        """Flatten and add one event (``lenient``: parsed by the fallback, may hold NaN)."""
        flat, flags = flatten_record(record, self.limits)
        if lenient and has_nonfinite(record):
            # Inside lists and JSON subtrees orjson writes NaN as null: flag those events too.
            flags |= NONFINITE
        self.builder.add_row(flat, flags, file, line)

    def add_line_value(
        self, value: Any, file: str, line: int, offset: int, raw: bytes, lenient: bool
    ) -> None:
        """Add what one JSON line held: an event, or a ``{"Records": [...]}`` envelope."""
        if type(value) is not dict:
            self.dead(file, line, offset, "not an object", raw)
            return
        records = value.get("Records")
        if type(records) is not list:
            self.add_record(value, file, line, lenient)
            return
        # Records from one envelope line share its line number (and offset).
        for item in records:
            if type(item) is dict:
                self.add_record(item, file, line, lenient)
            else:
                self.dead(file, line, offset, "not an object (in Records)", _dumps(item))

    def add_document_value(self, value: Any, file: str, lenient: bool) -> None:
        """Add a whole JSON document: an array, a Records envelope or one object."""
        if type(value) is dict:
            records = value.get("Records")
            items = records if type(records) is list else [value]
        elif type(value) is list:
            items = value
        else:
            self.dead(file, None, None, "not an object", _dumps(value))
            return
        for ordinal, item in enumerate(items, 1):
            if type(item) is dict:
                self.add_record(item, file, ordinal, lenient)
            else:
                self.dead(file, ordinal, None, "not an object", _dumps(item))


def read_stream(
    stream: IO[bytes], name: str, ctx: ReadContext, *, layer: int = 0, path: Path | None = None
) -> None:
    """Read one input of any supported format; every problem becomes a dead letter.

    ``path`` is given for a file on disk, so archives and Parquet are opened from it rather
    than loaded into memory.
    """
    head, error = read_up_to(stream, SNIFF_BYTES)
    at_eof = len(head) < SNIFF_BYTES
    if error is not None:
        ctx.dead(name, None, len(head), f"input stream broken: {error}")
        stream, at_eof = io.BytesIO(), True  # still read what came before the break
    head = strip_bom(head)
    fmt = sniff(head, at_eof)
    if fmt in COMPRESSED or fmt is Format.ZIP:
        if layer >= MAX_LAYERS:
            ctx.dead(name, None, None, f"archives nested more than {MAX_LAYERS} deep")
        elif fmt is Format.ZIP:
            _read_zip(head, stream, name, ctx, layer, path)
        else:
            inner = decompressed(fmt.value, prefixed(head, stream))
            read_stream(inner, name, ctx, layer=layer + 1)
    elif fmt is Format.BINARY:
        ctx.dead(name, None, None, "unrecognised format: binary data", head)
    elif fmt is Format.TEXT:
        reason = "unrecognised format: text that is not JSON, JSON Lines or CSV"
        ctx.dead(name, None, None, reason, head)
    elif fmt is Format.JSON_LINES:
        read_json_lines(prefixed(head, stream), name, ctx)
    elif fmt is Format.PARQUET and path is not None:
        _read_parquet(path, name, ctx)
    elif fmt is not Format.EMPTY:
        _read_document(fmt, head, stream, name, ctx)


def _read_document(
    fmt: Format, head: bytes, stream: IO[bytes], name: str, ctx: ReadContext
) -> None:
    limit = ctx.limits.max_document_bytes
    data = _load_document(head, stream, name, ctx)
    if data is None:
        return
    if len(data) > limit:
        if fmt is Format.JSON_DOCUMENT and data.lstrip().startswith(b"{"):
            # Too big for one document: most likely many envelope lines, so stream it as
            # JSON Lines, where only lines over max_line_bytes are refused.
            read_json_lines(prefixed(data, stream), name, ctx)
        else:
            reason = f"document larger than max_document_bytes ({limit})"
            ctx.dead(name, None, None, reason, head)
    elif fmt is Format.PARQUET:
        _read_parquet(data, name, ctx)
    elif fmt is Format.CSV:
        _read_csv(data, name, ctx)
    else:
        _read_json_document(data, name, ctx)


def _load_document(head: bytes, stream: IO[bytes], name: str, ctx: ReadContext) -> bytes | None:
    """Read a whole-document input into memory: up to one byte past ``max_document_bytes``.

    Returns None when nothing is left to read after a stream break.
    """
    limit = ctx.limits.max_document_bytes
    rest, error = read_up_to(stream, max(limit + 1 - len(head), 0))
    data = head + rest
    if error is not None:
        ctx.dead(name, None, len(data), f"input stream broken: {error}")
        # Keep whole lines only: a cut-off last row would otherwise read as a short row.
        data = data[: data.rfind(b"\n") + 1]
        if data.isspace() or not data:
            return None
    return data


def read_json_lines(stream: IO[bytes], name: str, ctx: ReadContext) -> None:
    """Read JSON Lines; each line is an event or a ``{"Records": [...]}`` envelope.

    A line longer than ``max_line_bytes`` is skipped in bounded chunks, never held whole.
    Blank lines are skipped; line numbers count every physical line from 1.
    """
    limit = ctx.limits.max_line_bytes
    readline = stream.readline
    loads = orjson.loads
    add, add_record = ctx.add_line_value, ctx.add_record
    line = offset = 0
    try:
        while raw := readline(limit + 1):
            line += 1
            start = offset
            offset += len(raw)
            if len(raw) > limit and not raw.endswith(b"\n"):
                reason = f"line longer than max_line_bytes ({limit})"
                ctx.dead(name, line, start, reason, raw)
                offset += _skip_rest_of_line(stream)
                continue
            try:
                value = loads(raw)
            except orjson.JSONDecodeError as exc:
                if raw.isspace():
                    continue
                parsed = parse_fallback(raw, exc)
                if isinstance(parsed, _Refused):
                    ctx.dead(name, line, start, parsed, raw)
                else:
                    add(parsed, name, line, start, raw, True)
                continue
            if type(value) is dict and type(value.get("Records")) is not list:
                add_record(value, name, line, False)  # one event on the line: the usual case
            else:
                add(value, name, line, start, raw, False)
    except STREAM_ERRORS as exc:
        ctx.dead(name, None, offset, f"input stream broken: {exc}")


def _skip_rest_of_line(stream: IO[bytes]) -> int:
    skipped = 0
    while chunk := stream.readline(_SKIP_CHUNK):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


class _Refused(str):
    """A dead-letter reason, distinguishable from a parsed JSON string value."""


def parse_fallback(raw: bytes, error: Exception) -> Any:
    """Retry text orjson refused; return the value, or the dead-letter reason as ``_Refused``.

    Invalid UTF-8 is refused outright: replacing bytes would invent text no one logged. NaN
    and Infinity literals (and overflowing numbers) are accepted, for the flattener to turn
    into null and flag ``_nonfinite``; nesting deeper than orjson's limit is parsed
    iteratively and depth-limited when flattened.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return _Refused("invalid UTF-8")
    try:
        return loads_lenient(raw)[0]
    except ValueError:
        return _Refused(f"invalid JSON: {error}")


def _read_json_document(data: bytes, name: str, ctx: ReadContext) -> None:
    try:
        value, lenient = orjson.loads(data), False
    except orjson.JSONDecodeError as exc:
        if looks_like_json_lines(data):
            # Not one document after all (e.g. several envelope lines): go line by line.
            read_json_lines(io.BytesIO(data), name, ctx)
            return
        value, lenient = parse_fallback(data, exc), True
        if isinstance(value, _Refused):
            ctx.dead(name, None, None, value, data)
            return
    ctx.add_document_value(value, name, lenient)


def _read_zip(
    head: bytes, stream: IO[bytes], name: str, ctx: ReadContext, layer: int, path: Path | None
) -> None:
    source: Path | io.BytesIO
    if path is not None:
        source = path
    else:
        data = _load_document(head, stream, name, ctx)
        if data is None:
            return
        if len(data) > ctx.limits.max_document_bytes:
            reason = f"archive larger than max_document_bytes ({ctx.limits.max_document_bytes})"
            ctx.dead(name, None, None, reason, head)
            return
        source = io.BytesIO(data)
    try:
        archive = zipfile.ZipFile(source)
    except _ZIP_ERRORS as exc:
        ctx.dead(name, None, None, f"unreadable zip archive: {exc}", head)
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir() or _is_hidden_member(info.filename):
                continue
            member = f"{name}!{info.filename}"
            try:
                with archive.open(info) as fh:
                    read_stream(fh, member, ctx, layer=layer + 1)
            except _MEMBER_ERRORS as exc:
                ctx.dead(member, None, None, f"unreadable archive member: {exc}")


def _is_hidden_member(member: str) -> bool:
    parts = member.split("/")
    return parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def _read_parquet(source: bytes | Path, name: str, ctx: ReadContext) -> None:
    try:
        frame = pl.read_parquet(io.BytesIO(source) if isinstance(source, bytes) else source)
        # Inside the try: unnesting can collide with an existing dotted column name.
        frame, cut = flatten_frame(frame, ctx.limits)
    except (pl.exceptions.PolarsError, OSError) as exc:
        ctx.dead(name, None, None, f"unreadable Parquet: {exc}")
        return
    ctx.builder.add_frame(frame, name, cut)


def _read_csv(data: bytes, name: str, ctx: ReadContext) -> None:
    """Read CSV/TSV as text columns, then type columns whose every value is a number/bool.

    Rows are numbered by record ordinal (quoted fields may span lines). polars reads the
    file; if it refuses (ragged rows, invalid UTF-8), the stdlib reader goes row by row and
    dead-letters only the bad rows.
    """
    delimiter = looks_like_csv(data[:SNIFF_BYTES], at_eof=len(data) <= SNIFF_BYTES) or ","
    try:
        frame = pl.read_csv(
            io.BytesIO(data), separator=delimiter, infer_schema=False, raise_if_empty=False
        )
        frame = frame.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("\0line"))
    except pl.exceptions.PolarsError:
        frame = _read_csv_rows(data, delimiter, name, ctx)
    # polars reads a blank line as a row of nulls.
    frame = frame.filter(~pl.all_horizontal(pl.exclude("\0line").is_null()))
    lines = frame.get_column("\0line").to_numpy()
    frame = infer_text_types(frame.drop("\0line"))
    frame, cut = flatten_frame(frame, ctx.limits)
    ctx.builder.add_frame(frame, name, cut, lines=lines)


def _read_csv_rows(data: bytes, delimiter: str, name: str, ctx: ReadContext) -> pl.DataFrame:
    # surrogateescape keeps invalid bytes visible (as lone surrogates) so such rows are found.
    text = data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    # Header names must be valid text even when the file is not.
    raw_header = next(reader, [])
    header = _unique_names([n.encode("utf-8", "replace").decode() for n in raw_header])
    columns: list[list[str | None]] = [[] for _ in header]
    lines: list[int] = []
    ordinal = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            ordinal += 1
            ctx.dead(name, ordinal, None, f"unreadable CSV row: {exc}")
            continue
        if not row:
            continue
        ordinal += 1
        reason = _bad_row_reason(row, len(header))
        if reason is not None:
            raw = delimiter.join(row).encode("utf-8", "surrogateescape")  # the original bytes
            ctx.dead(name, ordinal, None, reason, raw)
            continue
        for values, value in zip(columns, row, strict=True):
            values.append(value or None)
        lines.append(ordinal)
    series = [
        pl.Series(h, values, dtype=pl.String) for h, values in zip(header, columns, strict=True)
    ]
    series.append(pl.Series("\0line", np.asarray(lines, dtype=np.int64)))
    return pl.DataFrame(series)


def _bad_row_reason(row: list[str], n_fields: int) -> str | None:
    if len(row) != n_fields:
        return f"expected {n_fields} fields, found {len(row)}"
    try:
        "".join(row).encode("utf-8")
    except UnicodeEncodeError:
        return "invalid UTF-8"
    return None


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_duplicated_{count - 1}")
    return out


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)
