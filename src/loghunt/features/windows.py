"""Per-entity behaviour windows over the transformed table itself (it must be time-sorted).

For the user and the source IP: events and failures in the hour up to each event; for users:
a success after at least 3 failures within 15 minutes (brute force that worked) and distinct
source IPs that day; for IPs: distinct users that day (password spraying). Counts are robust
scaled with the spread seen on the fit data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.features.base import FAILED, WTIME, Arrays, FeatureSpec, State
from loghunt.features.numeric import RobustScaler

#: Failures within this window before a success make a "success after failures".
BRUTE_FORCE_WINDOW = "15m"
BRUTE_FORCE_MIN_FAILURES = 3
#: Counts differ by whole events: a spread below one unit would blow up a difference of one.
MIN_SCALE = 1.0
_TS = "__lh_window_ts"
_DAY = "__lh_window_day"
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

    def _exprs(self) -> dict[str, pl.Expr]:
        """Unscaled window expressions by feature name, in output order."""
        out: dict[str, pl.Expr] = {}
        failed = pl.col(FAILED).cast(pl.Int32)
        one = pl.col(_TS).is_not_null().cast(pl.Int32)
        for entity, other, other_stat in (
            (self.user, self.src_ip, "distinct_ips_1d"),
            (self.src_ip, self.user, "distinct_users_1d"),
        ):
            if entity is None:
                continue
            prefix = f"window:{entity}:"
            out[prefix + "events_1h"] = one.rolling_sum_by(_TS, "1h").over(entity)
            if self.failures:
                out[prefix + "failures_1h"] = failed.rolling_sum_by(_TS, "1h").over(entity)
            if self.failures and entity == self.user:
                recent = failed.rolling_sum_by(_TS, BRUTE_FORCE_WINDOW).over(entity)
                out[prefix + "success_after_failures"] = ~pl.col(FAILED) & (
                    recent >= BRUTE_FORCE_MIN_FAILURES
                )
            if other is not None:
                out[prefix + other_stat] = pl.col(other).n_unique().over(entity, _DAY)
        return out

    @property
    def specs(self) -> list[FeatureSpec]:
        groups = {f"window:{e}:": e for e in (self.user, self.src_ip) if e is not None}
        return [
            FeatureSpec(name, next(e for p, e in groups.items() if name.startswith(p)))
            for name in self._exprs()
        ]

    def raw(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Unscaled counts and flags, one column per feature."""
        exprs = self._exprs()
        ts = pl.from_epoch(pl.col(WTIME), time_unit="ms")
        prepared = frame.with_columns(ts.alias(_TS), ts.dt.date().alias(_DAY))
        if not self.failures and FAILED not in prepared.columns:
            prepared = prepared.with_columns(pl.lit(False).alias(FAILED))
        return prepared.select(e.cast(pl.Float64).alias(n) for n, e in exprs.items())

    def transform(self, frame: pl.DataFrame) -> list[NDArray[np.float32]]:
        raw = self.raw(frame)
        out = []
        for name in raw.columns:
            column = pl.col(name)
            expr = self.scalers[name].expr(column) if name in self.scalers else column
            out.append(raw.select(expr.cast(pl.Float32)).to_series().to_numpy())
        return out

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
