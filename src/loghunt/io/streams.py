"""Byte streams: put sniffed bytes back in front, and decompress gzip, zstd, bzip2 and xz."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
import zlib
from typing import IO, Any, cast

import zstandard

BUFFER_BYTES = 1 << 20

STREAM_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes gzip.BadGzipFile
    EOFError,  # a compressed stream that stops before its end marker
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
    zipfile.BadZipFile,
)
"""What reading a damaged stream can raise; caught per input and dead-lettered."""


class _PrefixedRaw(io.RawIOBase):
    """``prefix`` followed by the rest of ``stream``, so a sniffed head is not lost."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        super().__init__()
        # Dropped once served, so a large prefix (a whole document) is freed early.
        self._prefix: memoryview | None = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix is not None:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:] if size < len(self._prefix) else None
            if size:
                return size
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _ZstdRaw(io.RawIOBase):
    """Multi-frame zstd decompression that reports a truncated frame as EOFError.

    zstandard's own ``stream_reader`` ends quietly when its input stops mid-frame; a
    truncated file would then look complete.
    """

    _FEED_BYTES = 1 << 16  # small input steps bound the output of one call

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._in_frame = False
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._stream.read(self._FEED_BYTES)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd stream ended before the end of its frame")
                return 0
            self._pending = self._feed(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _feed(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            self._in_frame = True
            out.append(self._frame.decompress(chunk))
            if not self._frame.eof:
                break
            # Concatenated frames (as `zstd` writes for appended data): start the next one.
            chunk = self._frame.unused_data
            self._frame = self._decompressor.decompressobj()
            self._in_frame = False
        return b"".join(out)


def prefixed(prefix: bytes, stream: IO[bytes]) -> io.BufferedReader:
    """Return a buffered reader yielding ``prefix`` then the rest of ``stream``."""
    return io.BufferedReader(_PrefixedRaw(prefix, stream), buffer_size=BUFFER_BYTES)


def decompressed(kind: str, stream: IO[bytes]) -> IO[bytes]:
    """Return a streaming decompressor of ``kind`` ("gzip", "zstd", "bzip2", "xz")."""
    reader: io.BufferedIOBase
    if kind == "gzip":
        reader = gzip.GzipFile(fileobj=stream, mode="rb")
    elif kind == "zstd":
        reader = io.BufferedReader(_ZstdRaw(stream), buffer_size=BUFFER_BYTES)
    elif kind == "bzip2":
        reader = bz2.BZ2File(stream)
    elif kind == "xz":
        reader = lzma.LZMAFile(stream)  # noqa: SIM115  (the caller owns it)
    else:
        raise ValueError(f"unknown compression {kind!r}")
    return cast(IO[bytes], reader)


def read_up_to(stream: IO[bytes], size: int) -> tuple[bytes, BaseException | None]:
    """Read ``size`` bytes (fewer at end of stream); a stream error ends the read early.

    Returns the bytes read before the end or the error, and the error (None at a clean end),
    so that what a truncated compressed file held up to the break is kept.
    """
    parts = []
    left = size
    error: BaseException | None = None
    while left > 0:
        try:
            data = stream.read(left)
        except STREAM_ERRORS as exc:
            error = exc
            break
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts), error
