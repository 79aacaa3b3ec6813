"""Records that could not be read: where they were, why, and what they started with."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

EXCERPT_CHARS = 200


@dataclass(frozen=True)
class DeadLetter:
    """One input record (or whole input) that was skipped, with its location and reason.

    Parameters
    ----------
    file : str
        Source name, as in the table's ``_source_file`` (``"a.zip!b.json"`` for members).
    line : int or None
        1-based line for line-oriented formats, 1-based record ordinal for documents
        (JSON arrays, ``{"Records": [...]}``, CSV, Parquet); None when the whole input failed.
    offset : int or None
        Byte offset of the record in the (decompressed) stream, when known.
    reason : str
        Why it was skipped, e.g. ``"invalid UTF-8"`` or ``"unrecognised format: binary data"``.
    excerpt : str
        The first 200 characters; undecodable bytes appear as ``\\xNN`` escapes.

    Examples
    --------
    >>> DeadLetter("a.jsonl", 3, 120, "not an object", "[1, 2]").line
    3
    """

    file: str
    line: int | None
    offset: int | None
    reason: str
    excerpt: str


def make_excerpt(raw: bytes | str) -> str:
    """Return the first 200 characters of ``raw``, decoded without ever failing."""
    if isinstance(raw, str):
        return raw[:EXCERPT_CHARS]
    # 4 bytes per character is the UTF-8 worst case; escapes only make the text longer.
    return raw[: EXCERPT_CHARS * 4].decode("utf-8", errors="backslashreplace")[:EXCERPT_CHARS]


def write_dead_letters(dead_letters: Iterable[DeadLetter], path: str | Path) -> Path:
    """Write dead letters as JSON Lines, one object per entry; return the path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "dead.jsonl"
    >>> _ = write_dead_letters([DeadLetter("a.jsonl", 1, 0, "not an object", "1")], out)
    >>> out.read_text().startswith('{"file":"a.jsonl"')
    True
    """
    target = Path(path)
    with target.open("wb") as fh:
        for entry in dead_letters:
            fh.write(orjson.dumps(dataclasses.asdict(entry)) + b"\n")
    return target
