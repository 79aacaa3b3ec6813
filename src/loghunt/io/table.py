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
from functools import partial
from itertools import chain, repeat
from operator import is_not
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
# Rows added are moved into the pending columns this many at a time (see TableBuilder._drain).
_DRAIN_ROWS = 128
_is_value = partial(is_not, None)
# Chunks up to this many cells build one Series per type (see _typed_columns).
_MAX_GROUPED_CELLS = 1 << 17
_GROUP_DTYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "bool": pl.Boolean(),
    "int": pl.Int64(),
    "float": pl.Float64(),
}

RowIndex = npt.NDArray[np.int64]
_NO_ROWS: RowIndex = np.empty(0, dtype=np.int64)


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
        # The chunk being filled: one list per column, each padded with None up to its last
        # value; the rows added since they were last drained into those lists, and the keys
        # of these rows in first-seen order (with whatever value each held last).
        self._pending: dict[str, list[Any]] = {}
        self._rows: list[dict[str, Any]] = []
        self._keys: dict[str, Any] = {}
        self._pending_rows = 0  # rows drained into self._pending
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
        rows = self._rows
        rows.append(flat)
        keys = self._keys
        keys.update(flat)
        self._files.append(file)
        self._lines.append(line)
        self._flags.append(flags)
        row = self._pending_rows + len(rows) - 1
        # Padding costs a pointer per cell, so many sparse columns end a chunk early. The
        # keys are counted exactly only once a cheap bound on their number is past the limit.
        if row + 1 >= self._chunk_rows or (
            (len(self._pending) + len(keys)) * row > _MAX_PENDING_CELLS
            and self._n_keys() * row > _MAX_PENDING_CELLS
        ):
            self._flush_rows()
        elif len(rows) == _DRAIN_ROWS:
            self._drain()

    def _n_keys(self) -> int:
        """The number of distinct keys in the chunk."""
        return len(self._pending) + len(self._keys.keys() - self._pending.keys())

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
        series = self._one_chunk(max_columns)
        if series is None:
            series = self._assembled(max_columns)
        flags = np.frombuffer(bytes(self._flags), dtype=np.uint8)
        for bit, name in ((TRUNCATED, TRUNCATED_COLUMN), (NONFINITE, NONFINITE_COLUMN)):
            mask = (flags & bit) != 0
            if mask.any():
                series.append(pl.Series(name, mask, dtype=pl.Boolean))
        series.append(pl.Series(SOURCE_FILE, self._files, dtype=pl.String))
        lines = np.frombuffer(bytes(self._lines), dtype=np.int64)
        series.append(pl.Series(SOURCE_LINE, lines, dtype=pl.Int64))
        # hstack checks the same (lengths, unique names) as pl.DataFrame(series), in ~1/5 the time.
        return series[0].to_frame().hstack(series[1:])

    def _one_chunk(self, max_columns: int) -> list[pl.Series] | None:
        """The data columns when all rows fit one chunk (a request body); else None.

        One chunk's typed Series already hold each column's final type at full length, so
        they skip the sparse storage and reassembly that many chunks and frames need.
        """
        self._drain()
        n, pending = self._pending_rows, self._pending
        # Rows before this chunk (even rows without keys) or frames need the general path.
        if self._chunk_start or self._columns or len(pending) > max_columns:
            return None
        series = []
        for name, (typed, _) in zip(pending, _typed_columns(pending, n), strict=True):
            safe = _safe_name(name)
            series.append(typed if safe == name else typed.alias(safe))
        self._pending = {}
        return series

    def _assembled(self, max_columns: int) -> list[pl.Series]:
        """The data columns of all chunks and frames, then ``_overflow`` when there is one."""
        self._flush_rows()
        n = self.n_rows
        keep = _most_frequent(self._columns, max_columns)
        series = []
        for name, column in self._columns.items():
            if name in keep:
                values = _assemble(column, n)
                safe = _safe_name(name)
                series.append(values if values.name == safe else values.alias(safe))
                column.parts.clear()  # free each column's chunks once copied: halves the peak
        dropped = [name for name in self._columns if name not in keep]
        if dropped:
            series.append(_overflow(self._columns, dropped, n))
        return series

    def _drain(self) -> None:
        """Move the rows added since the last drain into the pending columns.

        Each row is completed to all the keys of these rows (None where it has none), in one
        order, so that ``zip`` turns the rows into columns: all in C, while those rows are
        still in the CPU cache.
        """
        rows, pending, start = self._rows, self._pending, self._pending_rows
        template = dict.fromkeys(self._keys)
        columns = zip(*[{**template, **row}.values() for row in rows], strict=True)
        # New keys are added in first-seen order, so the columns keep the order of the input.
        for name, column in zip(template, columns, strict=True):
            values = pending.get(name)
            if values is None:
                pending[name] = values = [None] * start
            elif len(values) != start:
                values.extend(repeat(None, start - len(values)))
            values.extend(column)
        self._pending_rows = start + len(rows)
        self._rows = []
        self._keys = {}

    def _flush_rows(self) -> None:
        self._drain()
        n, start = self._pending_rows, self._chunk_start
        if not n:
            return
        typed = _typed_columns(self._pending, n)
        for (name, values), (series, kinds) in zip(self._pending.items(), typed, strict=True):
            index = None
            # null_count() is known without a query (is_not_null() runs one: ~0.2 ms a column).
            filled = n - series.null_count()
            if not filled:
                index, series = _NO_ROWS, series.clear()
            elif filled * _DENSE_FRACTION < n:
                present = np.fromiter(map(is_not, values, repeat(None)), bool, n)
                index = np.flatnonzero(present) + start
                series = series.filter(pl.Series(present))
            self._columns.setdefault(name, _Column()).add(_Part(start, index, series), kinds)
        self._pending = {}
        self._pending_rows = 0
        self._chunk_start = start + n


def _typed_columns(columns: dict[str, list[Any]], n: int) -> list[tuple[pl.Series, set[str]]]:
    """Type each column of one chunk (``n`` rows) as :func:`_typed_series` does, in order,
    after padding each with None to the chunk's ``n`` rows.

    Building a polars Series costs ~10 µs however short it is, so in a small chunk the
    columns of one type are built as one Series and sliced (slices share its buffers, so a
    large chunk is built column by column instead).
    """
    for values in columns.values():
        values.extend(repeat(None, n - len(values)))
    if n * len(columns) > _MAX_GROUPED_CELLS:
        return [_typed_series(values, name) for name, values in columns.items()]
    planned = {name: _plan_type(values) for name, values in columns.items()}
    groups: dict[str, list[str]] = {}
    for name, (group, _, _) in planned.items():
        groups.setdefault(group, []).append(name)
    built: dict[str, tuple[pl.Series, set[str]]] = {}
    for group, names in groups.items():
        cells = planned[names[0]][2]
        if len(names) > 1:
            cells = list(chain.from_iterable(planned[name][2] for name in names))
        try:
            whole = pl.Series(names[0], cells, dtype=_GROUP_DTYPES[group], strict=True)
        except Exception:
            # A text column with a number in it, an integer past Int64, ...: one by one.
            for name in names:
                built[name] = _typed_series(columns[name], name)
            continue
        if len(names) == 1:
            built[names[0]] = whole, planned[names[0]][1]
            continue
        for i, name in enumerate(names):
            built[name] = whole.slice(i * n, n).alias(name), planned[name][1]
    return [built[name] for name in columns]


def _plan_type(values: list[Any]) -> tuple[str, set[str], list[Any]]:
    """The type a column's Series will have, its kinds and the values to build it from.

    Columns whose first value is a string are presumed all text: building checks it.
    """
    first = next(filter(_is_value, values), None)
    if first is None:
        return "str", set(), values
    if type(first) is str:
        return "str", {"str"}, values
    group, kinds = _type_rule(values)
    return group, kinds, _text(values) if group == "str" else values


def _type_rule(values: list[Any]) -> tuple[str, set[str]]:
    """The rule in :class:`TableBuilder` for a column that holds a value other than text:
    its Series type (a key of ``_GROUP_DTYPES``) and its kinds."""
    types = set(map(type, values))
    types.discard(type(None))
    if types == {bool}:
        return "bool", {"bool"}
    if types == {int}:
        return "int", {"int"}
    if types <= {int, float}:
        return "float", {_PY_KINDS[t] for t in types}
    return "str", {_PY_KINDS.get(t, "other") for t in types}


def _typed_series(values: list[Any], name: str = "") -> tuple[pl.Series, set[str]]:
    """Type one chunk of a column by the rule in :class:`TableBuilder`."""
    first = next(filter(_is_value, values), None)
    if first is None:
        # All null: typed as text, the column's type comes from its other chunks.
        return pl.Series(name, values, dtype=pl.String), set()
    if type(first) is str:
        try:
            # Most columns hold only strings; polars checks that while copying.
            return pl.Series(name, values, dtype=pl.String, strict=True), {"str"}
        except TypeError:
            pass
    group, kinds = _type_rule(values)
    if group == "int":
        try:
            return pl.Series(name, values, dtype=pl.Int64), kinds
        except (TypeError, OverflowError):
            # Past Int64 (orjson yields up to 2**64 - 1): text keeps every digit exact.
            return _as_text(values, name), {"bigint"}
    if group == "str":
        return _as_text(values, name), kinds
    return pl.Series(name, values, dtype=_GROUP_DTYPES[group]), kinds


def _as_text(values: list[Any], name: str = "") -> pl.Series:
    return pl.Series(name, _text(values), dtype=pl.String)


def _text(values: list[Any]) -> list[str | None]:
    return [None if v is None else scalar_text(v) for v in values]


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
    parts = column.parts
    if len(parts) == 1 and parts[0].index is None and len(parts[0].values) == n:
        return _cast(parts[0].values, dtype)  # one chunk, and the column in all its rows
    values = [_cast(part.values, dtype) for part in parts]
    contiguous = all(part.index is None for part in parts)
    if contiguous and sum(len(v) for v in values) == n:
        return pl.concat(values, rechunk=True) if values else pl.Series([], dtype=dtype)
    index = np.concatenate([_rows_of(part) for part in parts])
    full = _nulls(n, dtype)
    return full.scatter(index, pl.concat(values)) if len(index) else full


def _nulls(n: int, dtype: pl.DataType) -> pl.Series:
    if dtype in _GROUP_DTYPES.values():
        return pl.Series([None] * n, dtype=dtype)  # pl.repeat would run a query
    return pl.repeat(None, n, dtype=dtype, eager=True)


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
