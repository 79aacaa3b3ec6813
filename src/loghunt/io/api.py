"""Entry points: read files, folders and in-memory bodies into one event table."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import polars as pl

from loghunt.errors import InputError
from loghunt.io.deadletter import DeadLetter
from loghunt.io.limits import ReadLimits
from loghunt.io.readers import ReadContext, read_stream

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ReadResult:
    """Events read from the inputs, and what could not be read.

    Parameters
    ----------
    table : polars.DataFrame
        One row per event; nested keys flattened with ``"."``; ``_source_file`` (Utf8) and
        ``_source_line`` (Int64) locate each row; ``_truncated``, ``_nonfinite`` and
        ``_overflow`` appear only when some row needs them.
    dead_letters : list of DeadLetter
        Records and inputs that were skipped, with location and reason.
    files : list of str
        The input files read, in reading order (archive members are not listed).

    Examples
    --------
    >>> from loghunt.io import parse_bytes
    >>> result = parse_bytes(b'{"eventName": "GetObject"}\\n[1]\\n')
    >>> result.n_records, result.n_dead
    (1, 1)
    """

    table: pl.DataFrame
    dead_letters: list[DeadLetter]
    files: list[str]

    @property
    def n_records(self) -> int:
        """Number of events (rows) read."""
        return self.table.height

    @property
    def n_dead(self) -> int:
        """Number of dead-letter entries."""
        return len(self.dead_letters)


def read_events(
    paths: PathLike | Sequence[PathLike],
    limits: ReadLimits | None = None,
    progress: bool = False,
) -> ReadResult:
    """Read security logs from files and folders into one table, sniffing each format.

    Formats are recognised from the bytes, never the file name: gzip, zstd, bzip2, xz, zip
    archives (members read as ``"archive.zip!member"``), Parquet (structs flattened), JSON
    arrays, CloudTrail ``{"Records": [...]}`` documents, JSON Lines (a line may be a Records
    envelope) and CSV/TSV with a header. Folders are walked recursively in sorted order,
    skipping hidden files and folders.

    Bad records never stop the read: they become dead letters. A JSON line that is not
    UTF-8 is dead-lettered (``"invalid UTF-8"``) rather than repaired; NaN / Infinity
    literals become null and the row gets ``_nonfinite = True``; nesting of any depth is
    read, and kept as JSON text below ``limits.max_depth``.

    Parameters
    ----------
    paths : str, path, or a sequence of them
        Files and folders to read.
    limits : ReadLimits, optional
        Size, depth and width limits; ``ReadLimits()`` when omitted.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    ReadResult

    Raises
    ------
    InputError
        A path does not exist, or no file at all could be found or opened.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.log").write_text('{"user": {"name": "alice"}}\\n')
    >>> read_events(folder).table.columns
    ['user.name', '_source_file', '_source_line']
    """
    limits = limits or ReadLimits()
    files = _collect_files(paths)
    ctx = ReadContext(limits)
    opened = 0
    with _progress_bar(len(files), progress) as advance:
        for path in files:
            name = str(path)
            try:
                fh = path.open("rb")
            except OSError as exc:
                ctx.dead(name, None, None, f"cannot open: {exc.strerror or exc}")
                advance()
                continue
            opened += 1
            with fh:
                # Archives and Parquet are reopened by path: only for regular files, not pipes.
                _read_guarded(fh, name, ctx, path if path.is_file() else None)
            advance()
    if not opened:
        raise InputError("no readable file found", file=str(files[0]))
    return _result(ctx, [str(path) for path in files])


def parse_bytes(
    data: bytes, source: str = "<bytes>", limits: ReadLimits | None = None
) -> ReadResult:
    """Read one in-memory input (e.g. an HTTP request body) exactly as a file would be read.

    Examples
    --------
    >>> parse_bytes(b'{"Records": [{"eventName": "A"}, {"eventName": "B"}]}').n_records
    2
    """
    ctx = ReadContext(limits or ReadLimits())
    _read_guarded(io.BytesIO(data), source, ctx, None)
    return _result(ctx, [source])


def _read_guarded(stream: IO[bytes], name: str, ctx: ReadContext, path: Path | None) -> None:
    try:
        read_stream(stream, name, ctx, path=path)
    except Exception as exc:
        # Known failures are dead-lettered where they happen; this net keeps an unforeseen
        # one (a library error on some odd file) from aborting a read over many files.
        reason = f"internal error while reading ({type(exc).__name__}): {exc}"
        ctx.dead(name, None, None, reason)


def _result(ctx: ReadContext, files: list[str]) -> ReadResult:
    table = ctx.builder.finish(ctx.limits.max_columns)
    return ReadResult(table=table, dead_letters=ctx.dead_letters, files=files)


def _collect_files(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    files: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            files.extend(_walk(path))
        elif path.exists():
            files.append(path)
        else:
            raise InputError("no such file or directory", file=str(path))
    if not files:
        first = str(paths[0]) if paths else None
        raise InputError(
            "no readable file found (folders are empty or hold only hidden files)", file=first
        )
    return files


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        # Sorting in place also fixes the order os.walk descends in.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            # FIFOs, sockets and devices are skipped: opening a FIFO would block the read.
            if not name.startswith(".") and (path.is_file() or path.is_symlink()):
                yield path


class _Advance(Protocol):
    def __call__(self) -> None: ...


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[_Advance]:
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading logs", total=total)
        yield lambda: bar.advance(task)
