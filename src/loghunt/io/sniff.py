"""Recognise an input's format from its first bytes; file names are never trusted."""

from __future__ import annotations

import codecs
import csv
import io
import re
from enum import Enum
from itertools import islice

SNIFF_BYTES = 1 << 16
_SAMPLE_LINES = 20

_ENVELOPE = re.compile(rb'\{\s*"Records"\s*:\s*\[')
# Undecodable bytes (replaced by U+FFFD) and control codes other than \t \n \f \r.
_ODD_CHARACTER = re.compile(r"[\ufffd\x00-\x08\x0b\x0e-\x1f]")


class Format(Enum):
    """What an input's bytes are."""

    GZIP = "gzip"
    ZSTD = "zstd"
    BZIP2 = "bzip2"
    XZ = "xz"
    ZIP = "zip"
    PARQUET = "parquet"
    JSON_DOCUMENT = "json"  # one JSON value: an array, {"Records": [...]}, a pretty-printed object
    JSON_LINES = "jsonl"
    CSV = "csv"
    EMPTY = "empty"
    TEXT = "text"  # readable text in none of the formats above
    BINARY = "binary"


COMPRESSED = frozenset({Format.GZIP, Format.ZSTD, Format.BZIP2, Format.XZ})

_MAGIC: tuple[tuple[bytes, Format], ...] = (
    (b"\x1f\x8b", Format.GZIP),
    (b"\x28\xb5\x2f\xfd", Format.ZSTD),
    (b"\xfd7zXZ\x00", Format.XZ),
    (b"PK\x03\x04", Format.ZIP),
    (b"PK\x05\x06", Format.ZIP),  # an empty archive
    (b"PAR1", Format.PARQUET),
)


def strip_bom(head: bytes) -> bytes:
    """Drop a UTF-8 byte-order mark, which JSON parsers reject."""
    return head[len(codecs.BOM_UTF8) :] if head.startswith(codecs.BOM_UTF8) else head


def sniff(head: bytes, at_eof: bool) -> Format:
    """Return the format of an input from its first bytes.

    Parameters
    ----------
    head : bytes
        Up to ``SNIFF_BYTES`` leading bytes (after any decompression).
    at_eof : bool
        Whether ``head`` is the whole input, so its last line is complete.

    Examples
    --------
    >>> sniff(b'{"a": 1}\\n{"a": 2}\\n', at_eof=True)
    <Format.JSON_LINES: 'jsonl'>
    """
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return Format.BZIP2
    text = head.lstrip(b" \t\r\n")
    if not text:
        # Only whitespace so far: empty, or blank lines before JSON Lines.
        return Format.EMPTY if at_eof else Format.JSON_LINES
    if _looks_binary(head):
        return Format.BINARY
    if text.startswith(b"["):
        return Format.JSON_DOCUMENT
    if text.startswith(b"{"):
        return _sniff_object_text(text, at_eof)
    if looks_like_csv(head, at_eof) is not None:
        return Format.CSV
    return Format.TEXT


def _sniff_object_text(text: bytes, at_eof: bool) -> Format:
    if _ENVELOPE.match(text):
        return Format.JSON_DOCUMENT  # CloudTrail as delivered to S3: one (often huge) line
    newline = text.find(b"\n")
    if newline < 0 and not at_eof:
        # A first line longer than the sniff window: stream it, line limits apply.
        return Format.JSON_LINES
    first = (text if newline < 0 else text[:newline]).strip()
    # A pretty-printed document's first line does not close its object; a JSON Lines one does.
    return Format.JSON_LINES if first.endswith(b"}") else Format.JSON_DOCUMENT


def looks_like_json_lines(data: bytes) -> bool:
    """Whether ``data`` has several lines and one of the first is a one-line JSON object."""
    lines = (line.strip() for line in data[: SNIFF_BYTES * 4].split(b"\n"))
    sample = list(islice((line for line in lines if line), _SAMPLE_LINES))
    if len(sample) < 2:
        return False
    return any(line.startswith(b"{") and line.endswith(b"}") for line in sample)


def looks_like_csv(head: bytes, at_eof: bool) -> str | None:
    """Return the delimiter if ``head`` reads as a CSV/TSV table with a header, else None.

    The header must have at least two distinct, non-empty names, and nearly every sampled row
    the header's number of fields, which plain log lines (syslog, prose) practically never
    do. A few bad rows are tolerated: they are dead-lettered when the file is read.
    """
    text = head.decode("utf-8", errors="replace")
    if not at_eof:
        text = text[: text.rfind("\n") + 1]  # drop the partial last line
    first_line = text.split("\n", 1)[0]
    delimiter = max(",\t", key=first_line.count)
    if first_line.count(delimiter) == 0:
        return None
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = [row for row in islice(reader, _SAMPLE_LINES * 2) if row]
    except csv.Error:
        return None
    if not rows:
        return None
    header, body = rows[0], rows[1 : _SAMPLE_LINES + 1]
    names = [name.strip() for name in header]
    if len(names) < 2 or not all(names) or len(set(names)) != len(names):
        return None
    if any(len(name) > 256 or name.startswith(("{", "[")) for name in names):
        return None
    if not body:
        return None if not at_eof else delimiter  # a header-only file is still a table
    # Most rows must fit the header; the few that do not are dead-lettered when read.
    mismatched = sum(len(row) != len(header) for row in body)
    fits = mismatched < len(body) and mismatched <= max(1, len(body) // 10)
    return delimiter if fits else None


def _looks_binary(head: bytes) -> bool:
    """NUL bytes, or more than 10% of characters undecodable or control codes."""
    if b"\x00" in head:
        return True
    text = head[:4096].decode("utf-8", errors="replace")
    return len(_ODD_CHARACTER.findall(text)) * 10 > len(text)
