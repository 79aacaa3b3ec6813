"""Per-entity behaviour windows over the transformed table itself, in time order.

For the user and the source IP: events and failures in the hour up to each event; for users:
a success after at least 3 failures within 15 minutes (brute force that worked) and distinct
source IPs that day; for IPs: distinct users that day (password spraying). Counts are robust
scaled with the spread seen on the fit data.

Windows are ``(t - width, t]`` by event time (:data:`WTIME`, epoch ms), per entity value (null
is an entity value of its own), events at the same time all counted. They are computed with
numpy on integer codes and sorted positions, a fixed cost of microseconds per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.features.base import FAILED, WTIME, Arrays, Columns, FeatureSpec, State
from loghunt.features.lookup import factorize
from loghunt.features.numeric import RobustScaler, scale_columns

#: Failures within this window before a success make a "success after failures".
BRUTE_FORCE_WINDOW = "15m"
BRUTE_FORCE_MIN_FAILURES = 3
#: Counts differ by whole events: a spread below one unit would blow up a difference of one.
MIN_SCALE = 1.0
_HOUR_MS = 3_600_000
_BRUTE_FORCE_MS = 15 * 60_000
_DAY_MS = 86_400_000
# Largest (group, time) key built directly; past it times are ranked first.
_KEY_LIMIT = 2**62
_FLAGS = ("success_after_failures",)
_MEANING = {
    "events_1h": "events in the hour up to this one",
    "failures_1h": "failed events in the hour up to this one",
    "success_after_failures": (
        f"success after {BRUTE_FORCE_MIN_FAILURES}+ failures within {BRUTE_FORCE_WINDOW}"
    ),
    "distinct_ips_1d": "distinct source IPs that day",
    "distinct_users_1d": "distinct users that day",
}
Ints = NDArray[np.int64]


class WindowFeatures:
    """Rolling per-entity counts and flags; see the module docstring.

    Examples
    --------
    >>> frame = pl.DataFrame({"u": ["a", "a"], WTIME: [0, 60_000]})
    >>> wf = WindowFeatures.fit(frame, user="u", src_ip=None, failures=False)
    >>> [s.name for s in wf.specs]
    ['window:u:events_1h']
    """

    def __init__(
        self,
        user: str | None,
        src_ip: str | None,
        failures: bool,
        scalers: dict[str, RobustScaler],
    ) -> None:
        self.user = user
        self.src_ip = src_ip
        self.failures = failures
        self.scalers = scalers

    @classmethod
    def fit(
        cls, frame: pl.DataFrame, *, user: str | None, src_ip: str | None, failures: bool
    ) -> WindowFeatures:
        unfitted = cls(user, src_ip, failures, {})
        raw = unfitted.raw(frame)
        scalers = {
            name: RobustScaler.fit(raw.get_column(name).to_numpy(), min_scale=MIN_SCALE)
            for name in raw.columns
            if not name.endswith(_FLAGS)
        }
        return cls(user, src_ip, failures, scalers)

    def _stats(self) -> list[tuple[str, str, str, str | None]]:
        """(feature name, statistic, entity column, other column) in output order."""
        out: list[tuple[str, str, str, str | None]] = []
        for entity, other, other_stat in (
            (self.user, self.src_ip, "distinct_ips_1d"),
            (self.src_ip, self.user, "distinct_users_1d"),
        ):
            if entity is None:
                continue
            prefix = f"window:{entity}:"
            out.append((prefix + "events_1h", "events_1h", entity, None))
            if self.failures:
                out.append((prefix + "failures_1h", "failures_1h", entity, None))
            if self.failures and entity == self.user:
                stat = "success_after_failures"
                out.append((prefix + stat, stat, entity, None))
            if other is not None:
                out.append((prefix + other_stat, other_stat, entity, other))
        return out

    @property
    def specs(self) -> list[FeatureSpec]:
        groups = {f"window:{e}:": e for e in (self.user, self.src_ip) if e is not None}
        return [
            FeatureSpec(name, next(e for p, e in groups.items() if name.startswith(p)))
            for name, *_ in self._stats()
        ]

    def raw(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Unscaled counts and flags, one Float64 column per feature, row for row with ``frame``.

        ``frame`` needs :data:`WTIME`, the entity columns and, with failures, :data:`FAILED`;
        its rows may come in any order.
        """
        return pl.DataFrame(self._raw(frame))

    def _raw(self, frame: pl.DataFrame) -> dict[str, NDArray[np.float64]]:
        times = frame.get_column(WTIME).cast(pl.Int64).to_numpy()
        failed = (
            frame.get_column(FAILED).to_numpy().astype(bool)
            if self.failures
            else np.zeros(frame.height, dtype=bool)
        )
        codes: dict[str, Ints] = {}
        windows: dict[tuple[str, int], _Windows] = {}

        def code(column: str) -> Ints:
            if column not in codes:
                codes[column] = factorize(frame, (column,))
            return codes[column]

        def window(entity: str, width: int) -> _Windows:
            if (entity, width) not in windows:
                windows[entity, width] = _Windows(code(entity), times, width)
            return windows[entity, width]

        columns: dict[str, NDArray[np.float64]] = {}
        for name, stat, entity, other in self._stats():
            value: NDArray[Any]
            if other is not None:
                value = _distinct_per_group(code(entity), times // _DAY_MS, code(other))
            elif stat == "events_1h":
                value = window(entity, _HOUR_MS).count()
            elif stat == "failures_1h":
                value = window(entity, _HOUR_MS).total(failed)
            else:
                recent = window(entity, _BRUTE_FORCE_MS).total(failed)
                value = ~failed & (recent >= BRUTE_FORCE_MIN_FAILURES)
            columns[name] = value.astype(np.float64)
        return columns

    def parts(self, frame: pl.DataFrame) -> Columns:
        raw = self._raw(frame)
        out = {name: value.astype(np.float32) for name, value in raw.items()}
        counts = [name for name in raw if name in self.scalers]  # the rest are 0/1 flags
        if counts:  # all in one call: one polars log1p for all the logged counts
            block = np.column_stack([raw[name] for name in counts])
            scaled = scale_columns([self.scalers[n] for n in counts], block)
            out.update(zip(counts, scaled.T, strict=True))
        return list(out.values())

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        _, entity, stat = name.rsplit(":", 2)
        value = row.get(entity)
        return f'{_MEANING[stat]} for {entity}="{value}"'

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        return {
            "user": self.user,
            "src_ip": self.src_ip,
            "failures": self.failures,
            "scalers": {n: s.to_state() for n, s in self.scalers.items()},
        }

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> WindowFeatures:
        scalers = {n: RobustScaler.from_state(s) for n, s in state["scalers"].items()}
        user, src_ip = state["user"], state["src_ip"]
        return cls(
            None if user is None else str(user),
            None if src_ip is None else str(src_ip),
            bool(state["failures"]),
            scalers,
        )


class _Windows:
    """For each row, the rows of its group whose time lies in ``(t - width, t]``.

    Rows are sorted by (group, time); every row's window is then a contiguous range
    ``[lo, hi)`` of the sorted rows, found by binary search on one integer key per row that
    orders rows by group, then time.
    """

    def __init__(self, group: Ints, times: Ints, width: int) -> None:
        self.order = np.lexsort((times, group))
        key, start = _group_time_keys(group[self.order], times[self.order], width)
        self.hi = np.searchsorted(key, key, side="right")
        self.lo = np.searchsorted(key, start, side="right")

    def count(self) -> Ints:
        """Events in each row's window (itself included), in the rows' own order."""
        out = np.empty(len(self.order), dtype=np.int64)
        out[self.order] = self.hi - self.lo
        return out

    def total(self, values: NDArray[Any]) -> Ints:
        """Sum of ``values`` (0/1 or counts) over each row's window, in the rows' own order."""
        sums = np.concatenate([[0], np.cumsum(values[self.order].astype(np.int64))])
        out = np.empty(len(self.order), dtype=np.int64)
        out[self.order] = sums[self.hi] - sums[self.lo]
        return out


def _group_time_keys(group: Ints, times: Ints, width: int) -> tuple[Ints, Ints]:
    """Keys of (group, time) and of (group, time - width), ordered like the pairs.

    ``group * span + time`` when it fits in int64 (it does for any real log); otherwise the
    times and window starts are ranked together first, which always fits.
    """
    if len(times) == 0:
        return times, times
    low = int(times.min()) - width
    span = int(times.max()) - low + 1
    if (int(group.max()) + 1) * span < _KEY_LIMIT:
        return group * span + (times - low), group * span + (times - width - low)
    ranks = np.unique(np.concatenate([times, times - width]), return_inverse=True)[1]
    ranks = ranks.reshape(-1)
    n = len(times)
    return group * (2 * n) + ranks[:n], group * (2 * n) + ranks[n:]


def _distinct_per_group(entity: Ints, day: Ints, other: Ints) -> Ints:
    """Distinct ``other`` codes among the rows of each row's (entity, day)."""
    n = len(entity)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    day_code = np.unique(day, return_inverse=True)[1].reshape(-1)
    group = np.unique(entity * (int(day_code.max()) + 1) + day_code, return_inverse=True)[1]
    group = group.reshape(-1)
    pairs = np.unique(group * (int(other.max()) + 1) + other)
    per_group = np.bincount(pairs // (int(other.max()) + 1), minlength=int(group.max()) + 1)
    return per_group[group].astype(np.int64)
