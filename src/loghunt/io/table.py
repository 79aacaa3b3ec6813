"""Column-wise table assembly: one dtype per column and a bounded number of columns.

Rows arrive as flat dicts (JSON) or as whole frames (CSV, Parquet). Every ``chunk_rows`` rows
the pending dicts are turned into typed polars Series, so a million events are held as Arrow
buffers rather than as tens of millions of Python objects. Columns present in few rows of a
chunk are stored sparsely (row numbers plus values) until the end, when the kept columns are
scattered into full length and the rest folded into ``_overflow``.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from loghunt.io.flatten import NONFINITE, TRUNCATED
from loghunt.io.jsontext import scalar_text
from loghunt.schema.ocsf import SOURCE_FILE, SOURCE_LINE

TRUNCATED_COLUMN = "_truncated"
NONFINITE_COLUMN = "_nonfinite"
OVERFLOW_COLUMN = "_overflow"
RESERVED = frozenset(
    {SOURCE_FILE, SOURCE_LINE, TRUNCATED_COLUMN, NONFINITE_COLUMN, OVERFLOW_COLUMN}
)

_PY_KINDS: dict[type, str] = {str: "str", bool: "bool", int: "int", float: "float"}
_NUMERIC = frozenset({"int", "float"})
# A column present in fewer than 1/_DENSE_FRACTION of a chunk's rows is stored sparsely.
_DENSE_FRACTION = 16
_MAX_PENDING_CELLS = 1 << 22

RowIndex = npt.NDArray[np.int64]


@dataclass
class _Part:
    start: int  # first global row of the chunk the part came from
    index: RowIndex | None  # global row of each value; None: rows start, start+1, ...
    values: pl.Series


@dataclass
class _Column:
    kinds: set[str] = field(default_factory=set)
    natives: dict[str, pl.DataType] = field(default_factory=dict)
    count: int = 0  # non-null values, to rank columns when there are too many
    parts: list[_Part] = field(default_factory=list)

    def add(self, part: _Part, kinds: set[str]) -> None:
        self.parts.append(part)
        self.kinds |= kinds
        self.count += len(part.values) - part.values.null_count()


class TableBuilder:
    """Collect rows and frames; build one polars DataFrame with consistent column types.

    Type rule per column, over all its non-null values: all bool -> Boolean, all int ->
    Int64, ints and floats -> Float64, all str -> Utf8, one native dtype from a frame (e.g.
    Datetime) -> kept; anything else -> Utf8, non-strings written as JSON text.
    """

    def __init__(self, chunk_rows: int = 32_768) -> None:
        self._chunk_rows = chunk_rows
        self._columns: dict[str, _Column] = {}
        # The chunk being filled: one list per column, padded with None up to its last value.
        self._pending: dict[str, list[Any]] = {}
        self._pending_rows = 0
        self._chunk_start = 0
        self._files: list[str] = []
        self._lines = array("q")
        self._flags = bytearray()

    @property
    def n_rows(self) -> int:
        """Rows added so far."""
        return len(self._lines)

    def add_row(self, flat: dict[str, Any], flags: int, file: str, line: int) -> None:
        """Add one flattened event with its row flags and location."""
        row = self._pending_rows
        pending = self._pending
        # Row by row, while the event's dict is still hot in the CPU cache.
        for key, value in flat.items():
            values = pending.get(key)
            if values is None:
                pending[key] = values = [None] * row
            elif len(values) != row:
                values.extend(repeat(None, row - len(values)))
            values.append(value)
        self._pending_rows = row + 1
        self._files.append(file)
        self._lines.append(line)
        self._flags.append(flags)
        # Padding costs a pointer per cell, so many sparse columns end a chunk early.
        if row + 1 >= self._chunk_rows or len(pending) * row > _MAX_PENDING_CELLS:
            self._flush_rows()

    def add_frame(
        self,
        frame: pl.DataFrame,
        file: str,
        truncated: npt.NDArray[np.bool_] | None = None,
        lines: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Add a flat frame (no struct or list columns); rows are numbered 1.. unless ``lines``."""
        self._flush_rows()
        start, height = self._chunk_start, frame.height
        for series in frame.get_columns():
            values, kinds, native = _frame_series(series)
            column = self._columns.setdefault(series.name, _Column())
            if native is not None:
                column.natives[next(iter(kinds))] = native
            column.add(_Part(start, None, values), kinds)
        self._files.extend([file] * height)
        if lines is None:
            self._lines.extend(range(1, height + 1))
        else:
            self._lines.frombytes(lines.astype(np.int64).tobytes())
        if truncated is None:
            self._flags.extend(bytes(height))
        else:
            self._flags.extend(truncated.astype(np.uint8).tobytes())
        self._chunk_start += height

    def finish(self, max_columns: int) -> pl.DataFrame:
        """Build the table (once): data columns, then ``_overflow``, flags and the location."""
        self._flush_rows()
        n = self.n_rows
        keep = _most_frequent(self._columns, max_columns)
        series = []
        for name, column in self._columns.items():
            if name in keep:
                series.append(_assemble(column, n).alias(_safe_name(name)))
                column.parts.clear()  # free each column's chunks once copied: halves the peak
        dropped = [name for name in self._columns if name not in keep]
        if dropped:
            series.append(_overflow(self._columns, dropped, n))
        flags = np.frombuffer(bytes(self._flags), dtype=np.uint8)
        for bit, name in ((TRUNCATED, TRUNCATED_COLUMN), (NONFINITE, NONFINITE_COLUMN)):
            mask = (flags & bit) != 0
            if mask.any():
                series.append(pl.Series(name, mask, dtype=pl.Boolean))
        series.append(pl.Series(SOURCE_FILE, self._files, dtype=pl.String))
        lines = np.frombuffer(bytes(self._lines), dtype=np.int64)
        series.append(pl.Series(SOURCE_LINE, lines, dtype=pl.Int64))
        return pl.DataFrame(series)

    def _flush_rows(self) -> None:
        n, start = self._pending_rows, self._chunk_start
        if not n:
            return
        for name, values in self._pending.items():
            values.extend(repeat(None, n - len(values)))
            series, kinds = _typed_series(values)
            index = None
            # null_count() is known without a query (is_not_null() runs one: ~0.2 ms a column).
            if (n - series.null_count()) * _DENSE_FRACTION < n:
                present = np.fromiter((v is not None for v in values), bool, n)
                index = np.flatnonzero(present) + start
                series = series.filter(pl.Series(present))
            self._columns.setdefault(name, _Column()).add(_Part(start, index, series), kinds)
        self._pending = {}
        self._pending_rows = 0
        self._chunk_start = start + n


def _typed_series(values: list[Any]) -> tuple[pl.Series, set[str]]:
    """Type one chunk of a column by the rule in :class:`TableBuilder`."""
    try:
        # Most columns hold only strings; polars checks that while copying, so try it first.
        series = pl.Series(values, dtype=pl.String, strict=True)
    except TypeError:
        pass
    else:
        return series, (set() if series.null_count() == len(series) else {"str"})
    types = set(map(type, values))
    types.discard(type(None))
    if not types:
        return pl.Series(values, dtype=pl.Null), set()
    if types == {str}:
        return pl.Series(values, dtype=pl.String), {"str"}
    if types == {bool}:
        return pl.Series(values, dtype=pl.Boolean), {"bool"}
    if types == {int}:
        try:
            return pl.Series(values, dtype=pl.Int64), {"int"}
        except (TypeError, OverflowError):
            # Past Int64 (orjson yields up to 2**64 - 1): text keeps every digit exact.
            return _as_text(values), {"bigint"}
    if types <= {int, float}:
        return pl.Series(values, dtype=pl.Float64), {_PY_KINDS[t] for t in types}
    return _as_text(values), {_PY_KINDS.get(t, "other") for t in types}


def _as_text(values: list[Any]) -> pl.Series:
    return pl.Series([None if v is None else scalar_text(v) for v in values], dtype=pl.String)


def _frame_series(series: pl.Series) -> tuple[pl.Series, set[str], pl.DataType | None]:
    """Map a frame column onto the kinds used for JSON values (or keep its native dtype)."""
    dtype = series.dtype
    if series.null_count() == len(series):
        return series, set(), None
    if dtype == pl.String:
        return series, {"str"}, None
    if dtype == pl.Boolean:
        return series, {"bool"}, None
    if dtype.is_integer() and dtype != pl.UInt64:
        return series.cast(pl.Int64), {"int"}, None
    if dtype.is_float():
        return series.cast(pl.Float64), {"float"}, None
    kind = f"dtype:{dtype}"
    return series, {kind}, dtype


def _final_dtype(column: _Column) -> pl.DataType:
    kinds = column.kinds
    if kinds == {"bool"}:
        return pl.Boolean()
    if kinds == {"int"}:
        return pl.Int64()
    if kinds and kinds <= _NUMERIC:
        return pl.Float64()
    if len(kinds) == 1 and column.natives:
        return column.natives[next(iter(kinds))]
    return pl.String()


def _cast(series: pl.Series, dtype: pl.DataType) -> pl.Series:
    if series.dtype == dtype:
        return series
    if dtype == pl.String and series.dtype == pl.Float64:
        # polars and orjson print some floats differently; mixed columns use JSON text.
        return _as_text(series.to_list())
    return series.cast(dtype)


def _assemble(column: _Column, n: int) -> pl.Series:
    dtype = _final_dtype(column)
    values = [_cast(part.values, dtype) for part in column.parts]
    contiguous = all(part.index is None for part in column.parts)
    if contiguous and sum(len(v) for v in values) == n:
        if len(values) == 1:
            return values[0]
        return pl.concat(values, rechunk=True) if values else pl.Series([], dtype=dtype)
    index = np.concatenate([_rows_of(part) for part in column.parts])
    full = pl.repeat(None, n, dtype=dtype, eager=True)
    return full.scatter(index, pl.concat(values)) if len(index) else full


def _rows_of(part: _Part) -> RowIndex:
    if part.index is not None:
        return part.index
    return np.arange(part.start, part.start + len(part.values), dtype=np.int64)


def _most_frequent(columns: dict[str, _Column], max_columns: int) -> frozenset[str]:
    if len(columns) <= max_columns:
        return frozenset(columns)
    # sorted() is stable, so ties keep first-seen order.
    ranked = sorted(columns, key=lambda name: -columns[name].count)
    return frozenset(ranked[:max_columns])


def _overflow(columns: dict[str, _Column], dropped: list[str], n: int) -> pl.Series:
    """Fold the dropped columns, per row, into one JSON object string (non-null values only)."""
    per_row: dict[int, dict[str, Any]] = {}
    for name in dropped:
        for part in columns[name].parts:
            rows = _rows_of(part).tolist()
            for row, value in zip(rows, part.values.to_list(), strict=True):
                if value is not None:
                    per_row.setdefault(row, {})[name] = value
    text: list[str | None] = [None] * n
    for row, entries in per_row.items():
        text[row] = orjson.dumps(entries, option=orjson.OPT_SORT_KEYS, default=str).decode()
    return pl.Series(OVERFLOW_COLUMN, text, dtype=pl.String)


def _safe_name(name: str) -> str:
    """Keep input fields from shadowing the columns loghunt adds (e.g. re-reading our output)."""
    return f"{name}_input" if name in RESERVED else name
