"""Where each row's key sits in a fitted table of keys, fast for one event and for a million.

A join costs a hash build over the fitted table on every call (milliseconds for a large table,
whatever the batch size), while a Python dict built once answers a single event in
microseconds but pays per row. Frames up to :data:`DICT_MAX_ROWS` rows use the dict, larger
ones the join; both compare keys as strings and treat null as a key of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from itertools import repeat
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

#: Largest frame looked up through the dict; past it the join's fixed cost is the smaller one.
DICT_MAX_ROWS = 4096
_POS = "__lh_pos"


def is_small(rows: int) -> bool:
    """Whether a frame of ``rows`` rows takes the per-row (dict) path."""
    return rows <= DICT_MAX_ROWS


class KeyIndex:
    """Position of each row's key (one column or a tuple of columns) in a table of unique keys.

    Examples
    --------
    >>> index = KeyIndex(pl.DataFrame({"op": ["Get", "Put", None]}))
    >>> index.positions(pl.DataFrame({"op": ["Put", "Delete", None]})).tolist()
    [1, -1, 2]
    """

    def __init__(self, table: pl.DataFrame) -> None:
        self.keys = tuple(table.columns)
        self.table = table.select(pl.col(k).cast(pl.String) for k in self.keys)
        self._dict: dict[Any, int] | None = None

    def positions(
        self, frame: pl.DataFrame, on: tuple[str, ...] | None = None
    ) -> NDArray[np.int64]:
        """Row of the table holding each frame row's key, -1 where the key is unseen.

        ``on`` names the frame's key columns when they are not named like the table's.
        """
        columns = self.keys if on is None else on
        if is_small(frame.height):
            return self._by_dict(frame, columns)
        return self._by_join(frame, columns)

    def _by_dict(self, frame: pl.DataFrame, columns: tuple[str, ...]) -> NDArray[np.int64]:
        found = map(self._index().get, key_values(frame, columns), repeat(-1))
        return np.fromiter(found, dtype=np.int64, count=frame.height)

    def _by_join(self, frame: pl.DataFrame, columns: tuple[str, ...]) -> NDArray[np.int64]:
        keyed = frame.select(
            pl.col(c).cast(pl.String).alias(k) for c, k in zip(columns, self.keys, strict=True)
        )
        table = self.table.with_row_index(_POS)
        joined = keyed.join(
            table, on=list(self.keys), how="left", nulls_equal=True, maintain_order="left"
        )
        position = joined.get_column(_POS).cast(pl.Int64).fill_null(-1)
        return position.to_numpy().astype(np.int64)  # a writable copy

    def _index(self) -> dict[Any, int]:
        if self._dict is None:
            values = key_values(self.table, self.keys)
            self._dict = {v: i for i, v in enumerate(values)}
        return self._dict


def key_values(frame: pl.DataFrame, keys: tuple[str, ...]) -> list[Any]:
    """The rows' keys as Python values: strings (or None) for one column, tuples for several."""
    columns = [_as_strings(frame.get_column(k)).to_list() for k in keys]
    return columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))


def _as_strings(column: pl.Series) -> pl.Series:
    # The featurizer's columns are strings already; a no-op cast still costs microseconds.
    return column if isinstance(column.dtype, pl.String) else column.cast(pl.String)


def has_null(frame: pl.DataFrame, keys: tuple[str, ...]) -> NDArray[np.bool_]:
    """True where any of the key columns is null."""
    mask = np.zeros(frame.height, dtype=bool)
    for column in (frame.get_column(k) for k in keys):
        if not column.null_count():  # known without a query
            continue
        if is_small(frame.height):  # Series.is_null runs a query: ~0.3 ms even for one row
            mask |= np.fromiter((v is None for v in column.to_list()), bool, frame.height)
        else:
            mask |= column.is_null().to_numpy()
    return mask


def factorize(frame: pl.DataFrame, columns: tuple[str, ...]) -> NDArray[np.int64]:
    """Codes ``0 .. k-1`` of the rows' keys (compared as strings, null a key of its own):
    equal keys get equal codes, in order of first appearance."""
    if is_small(frame.height):
        values = key_values(frame, columns)
        codes = {v: i for i, v in enumerate(dict.fromkeys(values))}
        return np.fromiter(map(codes.__getitem__, values), dtype=np.int64, count=len(values))
    keyed = frame.select(pl.col(c).cast(pl.String) for c in columns)
    distinct = keyed.unique(maintain_order=True).with_row_index(_POS)
    joined = keyed.join(
        distinct, on=list(columns), how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.get_column(_POS).cast(pl.Int64).to_numpy().astype(np.int64)


class ValueMemo:
    """Results of a per-value function for the values seen in earlier calls.

    Logged values repeat (user agents, status words), so a service scoring a few events at a
    time finds them here instead of running a query. ``compute`` gets the distinct values not
    seen yet, as a Series of ``dtype``, and returns an array with one row of results per
    value, in order. At most ``limit`` values are kept, then the memo starts over.

    Examples
    --------
    >>> memo = ValueMemo(lambda s: s.str.len_chars().to_numpy(), pl.String)
    >>> memo.of(pl.Series(["ab", "c", "ab"])).tolist()
    [2, 1, 2]
    """

    def __init__(
        self, compute: Callable[[pl.Series], NDArray[Any]], dtype: Any, limit: int = 20_000
    ) -> None:
        self.compute = compute
        self.dtype = dtype
        self.limit = limit
        # Each value's slot: its row in a table of results filled in order, with room for
        # ``limit`` rows. A row is written before its value gets a slot, and a full table is
        # replaced with its slots as one pair, so a concurrent reader always finds its rows.
        self._state: tuple[dict[Any, int], NDArray[Any]] | None = None
        self._lock = threading.Lock()

    def of(self, values: pl.Series) -> NDArray[Any]:
        """The results of the values, one row per value, in order."""
        items = values.to_list()
        if self._state is not None:
            slots, rows = self._state
            found = np.fromiter(map(slots.get, items, repeat(-1)), np.int64, len(items))
            if found.size == 0 or found.min() >= 0:
                return rows[found]
        with self._lock:
            slots, rows = self._add(items)
        return rows[np.fromiter(map(slots.__getitem__, items), np.int64, len(items))]

    def _add(self, items: list[Any]) -> tuple[dict[Any, int], NDArray[Any]]:
        """Computes the values not seen yet; starts over when the table has no room."""
        distinct = dict.fromkeys(items)
        slots, rows = self._state if self._state is not None else ({}, None)
        missing = [v for v in distinct if v not in slots]
        if rows is None or len(slots) + len(missing) > len(rows):  # a fresh table
            slots, rows, missing = {}, None, list(distinct)
        new = np.asarray(self.compute(pl.Series(missing, dtype=self.dtype)))
        if rows is None:
            rows = np.empty((max(self.limit, len(new)), *new.shape[1:]), dtype=new.dtype)
        start = len(slots)
        rows[start : start + len(new)] = new
        slots.update(zip(missing, range(start, start + len(new)), strict=True))
        self._state = slots, rows
        return slots, rows
