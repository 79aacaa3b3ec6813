"""Categorical rarity: how often a value, or a (user, value) pair, appeared in the fit data.

Rarity is ``log10((n + 1) / (count + 1))``: the number of decades by which the value is rarer
than one seen in every event. 0 for a ubiquitous value, 1 for a value in 10% of events, 2 for
1%, and ``log10(n + 1)`` for a value never seen (count 0), so unseen values at transform time
are the rarest. Decades give rarity the spread robust scaling gives numbers (a typical spread
near 1, an outlier several units away); dividing by ``log(n + 1)`` instead squeezes every
column into [0, 1] where the usual values differ by a few hundredths. Pair counts also remember
when each pair was first seen, for the first-seen flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.features.base import (
    ORDER,
    WTIME,
    Arrays,
    Columns,
    FeatureSpec,
    State,
    pair_key,
)
from loghunt.features.lookup import KeyIndex, factorize, has_null

COUNT = "__lh_count"
FIRST = "__lh_first"
#: Stands for "no first time" (pair unseen in the fit data): later than any event.
_NEVER = np.iinfo(np.int64).max


def rarity(counts: NDArray[np.int64], n: int) -> NDArray[np.float32]:
    """Rarity, in decades, of values seen ``counts`` times in ``n`` events."""
    return np.log10((n + 1.0) / (counts.astype(np.float64) + 1.0)).astype(np.float32)


class ValueCounts:
    """Counts of the values of one column, or of a tuple of columns, in the fit data.

    Keys are compared as strings; null is counted as a key of its own. With ``with_first=True`` the
    earliest event time (epoch ms) of each key is kept too.

    Examples
    --------
    >>> df = pl.DataFrame({"op": ["Get", "Get", "Put"]})
    >>> vc = ValueCounts.fit(df, ("op",))
    >>> vc.count_of(("Get",)), vc.count_of(("Delete",))
    (2, 0)
    """

    def __init__(self, keys: tuple[str, ...], table: pl.DataFrame, n: int) -> None:
        self.keys = keys
        self.table = table
        self.n = n
        self._dict: dict[tuple[Any, ...], int] | None = None
        # Constant per fitted table: derived once, not per transform.
        self.index = KeyIndex(table.select(keys))
        self._counts = table.get_column(COUNT).cast(pl.Int64).to_numpy()
        self.commonest_count = _commonest(table, keys)
        # Rarity by position, the last for an unseen key (position -1): a lookup per
        # transform. In the null-safe table keys with a null count as the commonest key does
        # when they are rarer (see rarity).
        self._rarities = rarity(np.append(self._counts, 0), n)
        raised = np.maximum(self._counts, self.commonest_count)
        nulls = has_null(table, keys)
        self._null_safe = rarity(np.append(np.where(nulls, raised, self._counts), 0), n)
        self._commonest_rarity = rarity(np.array([self.commonest_count]), n)[0]
        self._first: NDArray[np.int64] | None = None
        if FIRST in table.columns:
            first = table.get_column(FIRST).cast(pl.Int64).fill_null(_NEVER)
            self._first = first.to_numpy()

    @property
    def with_first(self) -> bool:
        return FIRST in self.table.columns

    @classmethod
    def fit(
        cls, frame: pl.DataFrame, keys: tuple[str, ...], *, with_first: bool = False
    ) -> ValueCounts:
        aggs = [pl.len().cast(pl.Int64).alias(COUNT)]
        if with_first:
            aggs.append(pl.col(WTIME).min().alias(FIRST))
        table = (
            frame.select(
                [pl.col(k).cast(pl.String) for k in keys] + ([WTIME] if with_first else [])
            )
            .group_by(list(keys), maintain_order=True)
            .agg(aggs)
        )
        return cls(keys, table, frame.height)

    def first_times(self, positions: NDArray[np.int64]) -> NDArray[np.int64]:
        """Earliest fit time (epoch ms) of the keys at ``positions``; int64 max where unknown."""
        if self._first is None:
            raise ValueError("these counts were fitted without first times")
        found = positions >= 0
        return np.where(found, self._first[np.where(found, positions, 0)], _NEVER)

    def rarities(self, positions: NDArray[np.int64]) -> NDArray[np.float32]:
        """:func:`rarity` of the fit counts of the keys at ``positions`` (-1: unseen)."""
        return self._rarities[positions]

    def rarity(self, frame: pl.DataFrame) -> NDArray[np.float32]:
        """Scaled rarity of each row's key; a null is never rarer than the commonest value.

        A null is "not applicable", not a rare value: in a table mixing event classes, an
        authentication event has no API operation, and that must not make it look anomalous.
        Where nulls are the norm (no error code), their own count already says so.
        """
        positions = self.index.positions(frame)
        out = self._null_safe[positions]
        unseen = positions < 0
        if unseen.any():  # the one case the lookup cannot tell: a null key unseen in the fit
            out[unseen & has_null(frame, self.keys)] = self._commonest_rarity
        return out

    def count_of(self, values: tuple[Any, ...]) -> int:
        """How many fit events had these key values (compared as strings)."""
        if self._dict is None:
            rows = self.table.select([*self.keys, COUNT]).iter_rows()
            self._dict = {tuple(r[:-1]): int(r[-1]) for r in rows}
        key = tuple(None if v is None else str(v) for v in values)
        return self._dict.get(key, 0)

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        arrays[f"{prefix}.count"] = self.table.get_column(COUNT).to_numpy().astype(np.int64)
        if self.with_first:
            first = self.table.get_column(FIRST).fill_null(np.iinfo(np.int64).min)
            arrays[f"{prefix}.first"] = first.to_numpy().astype(np.int64)
        return {
            "keys": list(self.keys),
            "n": self.n,
            "values": [self.table.get_column(k).to_list() for k in self.keys],
            "with_first": self.with_first,
        }

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> ValueCounts:
        keys = tuple(str(k) for k in state["keys"])
        columns = {
            k: pl.Series(k, v, dtype=pl.String) for k, v in zip(keys, state["values"], strict=True)
        }
        columns[COUNT] = pl.Series(COUNT, arrays[f"{prefix}.count"], dtype=pl.Int64)
        if state["with_first"]:
            first = pl.Series(FIRST, arrays[f"{prefix}.first"], dtype=pl.Int64)
            columns[FIRST] = first.set(first == np.iinfo(np.int64).min, None)
        return cls(keys, pl.DataFrame(columns), int(state["n"]))


class CategoricalColumn:
    """Rarity of one column's value in the fit data."""

    def __init__(self, column: str, counts: ValueCounts) -> None:
        self.column = column
        self.counts = counts

    @classmethod
    def fit(cls, frame: pl.DataFrame, column: str) -> CategoricalColumn:
        return cls(column, ValueCounts.fit(frame, (column,)))

    @property
    def specs(self) -> list[FeatureSpec]:
        return [FeatureSpec(f"rarity:{self.column}", self.column)]

    def parts(self, frame: pl.DataFrame) -> Columns:
        return [self.counts.rarity(frame)]

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        value = row.get(self.column)
        count = self.counts.count_of((value,))
        return (
            f"{_show(self.column, value)} seen {count:,} times in {self.counts.n:,} baseline events"
        )

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        return {"column": self.column, "counts": self.counts.to_state(arrays, prefix)}

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> CategoricalColumn:
        return cls(str(state["column"]), ValueCounts.from_state(state["counts"], arrays, prefix))


class PairColumns:
    """Rarity of a (user, value) pair, and optionally a flag for its first sighting.

    The first-seen flag is 1 on the earliest event of a pair in the transformed table when the
    fit data never had the pair before that event's time.
    """

    def __init__(self, left: str, right: str, counts: ValueCounts, first_seen: bool) -> None:
        self.left = left
        self.right = right
        self.counts = counts
        self.first_seen = first_seen

    @classmethod
    def fit(cls, frame: pl.DataFrame, left: str, right: str, *, first_seen: bool) -> PairColumns:
        counts = ValueCounts.fit(frame, (left, right), with_first=first_seen)
        return cls(left, right, counts, first_seen)

    @property
    def key(self) -> str:
        return pair_key(self.left, self.right)

    @property
    def specs(self) -> list[FeatureSpec]:
        out = [FeatureSpec(f"pair_rarity:{self.key}", self.key)]
        if self.first_seen:
            out.append(FeatureSpec(f"first_seen:{self.key}", self.key))
        return out

    def parts(self, frame: pl.DataFrame) -> Columns:
        positions = self.counts.index.positions(frame)
        out = [self.counts.rarities(positions)]
        if self.first_seen:
            out.append(self.new_here(frame, positions).astype(np.float32))
        return out

    def new_here(self, frame: pl.DataFrame, positions: NDArray[np.int64]) -> NDArray[np.bool_]:
        """True on the earliest row of each pair in ``frame`` (by :data:`ORDER`) unless the fit
        data had the pair before that row's time (:data:`WTIME`)."""
        # A code per distinct pair: its fit table row, else a new code after those.
        pair = positions.copy()
        unseen = positions < 0
        if unseen.any():
            keys = (self.left, self.right)
            # Series.filter runs no query, unlike DataFrame.filter (~0.1 ms a call).
            rows = pl.DataFrame([frame.get_column(k).filter(unseen) for k in keys])
            pair[unseen] = len(self.counts.table) + factorize(rows, keys)
        order = frame.get_column(ORDER).to_numpy()
        earliest = np.full(int(pair.max(initial=-1)) + 1, len(order), dtype=order.dtype)
        np.minimum.at(earliest, pair, order)
        first_here = order == earliest[pair]
        times = frame.get_column(WTIME).cast(pl.Int64).to_numpy()
        new: NDArray[np.bool_] = first_here & (self.counts.first_times(positions) >= times)
        return new

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        left, right = row.get(self.left), row.get(self.right)
        count = self.counts.count_of((left, right))
        pair = f"{_show(self.left, left)} with {_show(self.right, right)}"
        if name.startswith("first_seen:") and count == 0:
            return f"first time {pair}: never in {self.counts.n:,} baseline events"
        return f"{pair} seen {count:,} times in {self.counts.n:,} baseline events"

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        return {
            "left": self.left,
            "right": self.right,
            "first_seen": self.first_seen,
            "counts": self.counts.to_state(arrays, prefix),
        }

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> PairColumns:
        counts = ValueCounts.from_state(state["counts"], arrays, prefix)
        return cls(str(state["left"]), str(state["right"]), counts, bool(state["first_seen"]))


def _show(column: str, value: Any) -> str:
    return f"{column}=null" if value is None else f'{column}="{value}"'


def _commonest(table: pl.DataFrame, keys: tuple[str, ...]) -> int:
    """Count of the most frequent key without nulls (0 if none)."""
    present = table.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
    return int(present.get_column(COUNT).cast(pl.Int64).max() or 0)  # type: ignore[arg-type]
