"""Time features: cyclic hour of day, weekend, and how unusual the hour is for the user.

The off-hours feature compares the event's hour with the user's own habits rather than with
office hours: a night-shift operator at 03:00 is normal, an administrator who works 9 to 17 is
not. Each user's hour-of-day histogram from the fit data is smoothed over the neighbouring
hours and blended with the global histogram (users with few events lean on the global one).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.features.base import TIME, Arrays, Columns, FeatureSpec, State
from loghunt.features.lookup import KeyIndex
from loghunt.schema.normalize import EPOCH_MS_RANGE

UTC_MS = pl.Datetime("ms", "UTC")
#: Weight, in events, of the global histogram in each user's blended histogram.
PRIOR_EVENTS = 10.0
# Epoch numbers above these magnitudes are in ns, us, ms; below, in seconds.
_EPOCH_UNITS = ((1e17, 1e-6), (1e14, 1e-3), (1e11, 1.0))
_MIN_MS, _MAX_MS = EPOCH_MS_RANGE
_MINUTE_MS = 60_000
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_STRING_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%d/%b/%Y:%H:%M:%S %z",
    "%b %d %H:%M:%S",
)


def to_utc_datetime(series: pl.Series) -> pl.Series:
    """Parse a time column (Datetime, Date, string, epoch number) to Datetime(ms, UTC).

    Naive datetimes are taken as UTC; values that cannot be parsed become null.
    """
    dtype = series.dtype
    if dtype == UTC_MS:  # already parsed (the featurizer reads TIME again): no query
        return series
    if isinstance(dtype, pl.Datetime):
        out = series if dtype.time_zone else series.dt.replace_time_zone("UTC")
        return out.dt.convert_time_zone("UTC").cast(UTC_MS)
    if dtype == pl.Date:
        return series.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    if dtype.is_numeric():
        return _from_epoch(series.cast(pl.Float64))
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return _from_strings(series.cast(pl.String))
    return pl.Series(series.name, [None] * len(series), dtype=UTC_MS)


def _from_epoch(values: pl.Series) -> pl.Series:
    finite = values.filter(values.is_finite()).to_numpy()
    with np.errstate(over="ignore"):  # the median of two 1e308s is inf: no time either way
        magnitude = float(np.median(np.abs(finite))) if finite.size else 0.0
    to_ms = next((factor for bound, factor in _EPOCH_UNITS if magnitude > bound), 1000.0)
    scaled = values * to_ms
    # Past the years 1 to 9999 a number is no time (1e308 would overflow the cast): null.
    usable = values.is_finite() & (scaled >= _MIN_MS) & (scaled <= _MAX_MS)
    ms = pl.when(usable).then(scaled).otherwise(None)
    return pl.select(ms.cast(pl.Int64).cast(UTC_MS).alias(values.name)).to_series()


def _from_strings(text: pl.Series) -> pl.Series:
    # polars infers one format from the data; mixed or unusual formats get a second chance.
    parsed = text.str.to_datetime(strict=False, time_zone="UTC").cast(UTC_MS)
    for fmt in _STRING_FORMATS:
        if parsed.null_count() <= text.null_count():
            break
        parsed = parsed.fill_null(text.str.to_datetime(fmt, strict=False, time_zone="UTC"))
    if text.null_count() < len(text) and parsed.null_count() == len(parsed):
        numeric = text.cast(pl.Float64, strict=False)
        if numeric.null_count() < len(numeric):
            return _from_epoch(numeric)
    return parsed.cast(UTC_MS)


class HourProfile:
    """Per-user hour-of-day histograms of the fit data, and the global one.

    Examples
    --------
    >>> import datetime as dt
    >>> times = [dt.datetime(2024, 1, 1, h, tzinfo=dt.UTC) for h in (9, 10, 11)]
    >>> frame = pl.DataFrame({"u": ["a", "a", "a"], TIME: times})
    >>> p = HourProfile.fit(frame, "u")
    >>> bool(p.off_hours_of("a", 3) > p.off_hours_of("a", 10))
    True
    """

    def __init__(
        self, users: list[str | None], counts: NDArray[np.int64], total: NDArray[np.int64]
    ) -> None:
        self.users = users
        self.counts = counts
        self.total = total
        self.table = _off_table(counts, total)
        self._index = {u: i for i, u in enumerate(users)}
        self._keys = KeyIndex(pl.DataFrame({"user": pl.Series(users, dtype=pl.String)}))

    @classmethod
    def fit(cls, frame: pl.DataFrame, user: str | None) -> HourProfile:
        hours = pl.col(TIME).dt.hour().cast(pl.Int64).alias("hour")
        valid = frame.filter(pl.col(TIME).is_not_null())
        total = np.bincount(valid.select(hours).to_series().to_numpy(), minlength=24)
        if user is None or valid.height == 0:
            return cls([], np.zeros((0, 24), dtype=np.int64), total.astype(np.int64))
        grouped = valid.group_by(user, hours, maintain_order=True).agg(pl.len().alias("n"))
        users = grouped.get_column(user).unique(maintain_order=True)
        rows = grouped.get_column(user).replace_strict(
            users, range(len(users)), return_dtype=pl.Int64
        )
        counts = np.zeros((len(users), 24), dtype=np.int64)
        counts[rows.to_numpy(), grouped.get_column("hour").to_numpy()] = grouped["n"].to_numpy()
        return cls(users.to_list(), counts, total.astype(np.int64))

    def off_hours(
        self, frame: pl.DataFrame, user: str | None, ms: NDArray[np.int64], known: NDArray[np.bool_]
    ) -> NDArray[np.float32]:
        """Unusualness of each event's hour for its user (0 usual .. 1 never); ``ms`` and
        ``known``: the events' times as :func:`epoch_ms` reads them."""
        hour = (ms // _HOUR_MS) % 24  # the same floor division as dt.hour()
        glob = len(self.users)
        if user is None:
            rows = np.full(frame.height, glob, dtype=np.int64)
        else:
            rows = self._keys.positions(frame, on=(user,))
            rows[rows < 0] = glob
        values = self.table[rows, hour]
        return np.where(known, values, 0.0).astype(np.float32)

    def off_hours_of(self, user: str | None, hour: int) -> float:
        return float(self.table[self._index.get(user, len(self.users)), hour % 24])

    def share_of(self, user: str | None, hour: int, *, known: bool = True) -> tuple[float, int]:
        """Share of the user's fit events within one hour of ``hour``, and their count.

        Unknown users (or ``known=False``) get the global share.
        """
        row = self._index.get(user) if known else None
        counts = self.total if row is None else self.counts[row]
        window = sum(int(counts[(hour + d) % 24]) for d in (-1, 0, 1))
        n = int(counts.sum())
        return (window / n if n else 0.0), n

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        arrays[f"{prefix}.counts"] = self.counts
        arrays[f"{prefix}.total"] = self.total
        return {"users": self.users}

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> HourProfile:
        counts = np.asarray(arrays[f"{prefix}.counts"], dtype=np.int64).reshape(-1, 24)
        return cls(list(state["users"]), counts, np.asarray(arrays[f"{prefix}.total"], np.int64))


def calendar_exprs(time: pl.Expr) -> list[pl.Expr]:
    """Hour of day (sin, cos) and weekend flag of Datetime(ms, UTC) times; 0 for null."""
    angle = (time.dt.hour() + time.dt.minute() / 60.0) * (2.0 * math.pi / 24.0)
    exprs = [
        angle.sin().fill_null(0.0),
        angle.cos().fill_null(0.0),
        (time.dt.weekday() >= 6).fill_null(False),
    ]
    return [e.cast(pl.Float32) for e in exprs]


@cache
def _calendar() -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """:func:`calendar_exprs` of each minute of a day (hour sin, cos) and of each of the 7
    days from the epoch on (weekend): in UTC they repeat with the minute of the day and the
    day of the week, so a lookup gives every event's values without a query."""

    def at(ms: NDArray[np.int64]) -> pl.DataFrame:
        times = pl.Series(TIME, ms).cast(UTC_MS).to_frame()
        return times.select(e.alias(str(j)) for j, e in enumerate(calendar_exprs(pl.col(TIME))))

    clock = at(np.arange(24 * 60, dtype=np.int64) * _MINUTE_MS).to_numpy()[:, :2]
    weekend = at(np.arange(7, dtype=np.int64) * _DAY_MS).to_series(2).to_numpy()
    return np.ascontiguousarray(clock), weekend


def epoch_ms(times: pl.Series) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Epoch milliseconds of Datetime values (0 where null), and where they are known."""
    values = times.to_numpy().astype("datetime64[ms]")
    known = ~np.isnat(values)
    return np.where(known, values.astype(np.int64), 0), known


def _window(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Counts in the hour and its two neighbours (the day wraps around)."""
    return counts + np.roll(counts, 1, axis=-1) + np.roll(counts, -1, axis=-1)


def _off_table(counts: NDArray[np.int64], total: NDArray[np.int64]) -> NDArray[np.float64]:
    """Rows: users then the global profile; columns: hours; value: 1 - share / peak share."""
    n_all = float(total.sum())
    glob = _window(total.astype(np.float64)) / n_all if n_all else np.zeros(24)
    n_user = counts.sum(axis=1, keepdims=True).astype(np.float64)
    blended = (_window(counts.astype(np.float64)) + PRIOR_EVENTS * glob) / (n_user + PRIOR_EVENTS)
    shares = np.vstack([blended, glob[None, :]])
    peak = shares.max(axis=1, keepdims=True)
    safe_peak = np.where(peak > 0, peak, 1.0)
    return np.where(peak > 0, 1.0 - shares / safe_peak, 0.0)


class TimeFeatures:
    """Hour of day (sin, cos), weekend flag, off-hours for the user, missing flag."""

    def __init__(
        self, column: str, user: str | None, profile: HourProfile, missing_flag: bool
    ) -> None:
        self.column = column
        self.user = user
        self.profile = profile
        self.missing_flag = missing_flag

    @classmethod
    def fit(cls, frame: pl.DataFrame, column: str, user: str | None) -> TimeFeatures:
        missing = frame.get_column(TIME).null_count() > 0
        return cls(column, user, HourProfile.fit(frame, user), missing)

    @property
    def specs(self) -> list[FeatureSpec]:
        names = ["time:hour_sin", "time:hour_cos", "time:weekend", "time:off_hours"]
        if self.missing_flag:
            names.append(f"missing:{self.column}")
        return [FeatureSpec(n, self.column) for n in names]

    def parts(self, frame: pl.DataFrame) -> Columns:
        ms, known = epoch_ms(frame.get_column(TIME))
        clock, weekend = _calendar()
        zero = np.float32(0.0)
        minute = clock[(ms // _MINUTE_MS) % len(clock)]
        out = [
            np.where(known, minute[:, 0], zero),
            np.where(known, minute[:, 1], zero),
            np.where(known, weekend[(ms // _DAY_MS) % len(weekend)], zero),
            self.profile.off_hours(frame, self.user, ms, known),
        ]
        if self.missing_flag:
            out.append((~known).astype(np.float32))
        return out

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        parsed = to_utc_datetime(pl.Series(self.column, [row.get(self.column)]))[0]
        if parsed is None:
            return f"{self.column} is missing or unparseable"
        when = f"event at {parsed:%H:%M} UTC on {parsed:%A}"
        if name != "time:off_hours":
            return when
        user = row.get(self.user) if self.user else None
        known = self.user is not None and user in self.profile.users
        share, n = self.profile.share_of(user, parsed.hour, known=known)
        who = f'{self.user}="{user}"' if known else "all users"
        return f"{when}; {who} had {share:.0%} of {n:,} baseline events within 1h of this hour"

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        return {
            "column": self.column,
            "user": self.user,
            "missing_flag": self.missing_flag,
            "profile": self.profile.to_state(arrays, prefix),
        }

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> TimeFeatures:
        profile = HourProfile.from_state(state["profile"], arrays, prefix)
        user = state["user"]
        return cls(
            str(state["column"]),
            None if user is None else str(user),
            profile,
            bool(state["missing_flag"]),
        )
