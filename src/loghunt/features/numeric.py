"""Numeric and boolean columns: robust scaling, log for heavy tails, missing flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.features.base import Arrays, FeatureSpec, Parts, State

#: Scaled values are clipped here only to keep float32 distances finite.
CLIP = 1e6
# Ratios of (q95 - q05) and (q99 - q01) to the IQR for a normal distribution: fallbacks when
# the IQR is zero keep a comparable unit.
_Q90_PER_IQR = 2.44
_Q98_PER_IQR = 3.45


@dataclass(frozen=True)
class RobustScaler:
    """``(f(x) - median) / spread`` where ``f`` is a signed log1p for heavy-tailed data.

    ``raw_median`` and ``raw_iqr`` are in the column's own units, for explanations.

    Examples
    --------
    >>> s = RobustScaler.fit(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    >>> float(s.center), float(s.scale), s.log
    (3.0, 2.0, False)
    """

    center: float
    scale: float
    log: bool
    raw_median: float = 0.0
    raw_iqr: float = 0.0

    @classmethod
    def fit(
        cls, values: NDArray[np.float64], *, allow_log: bool = True, min_scale: float = 0.0
    ) -> RobustScaler:
        """Learn centre and spread from the finite values (NaN, inf are ignored).

        ``min_scale`` floors the spread (in the possibly logged space) for quantities whose
        smallest meaningful step is known, such as counts.
        """
        finite = values[np.isfinite(values)].astype(np.float64)
        if finite.size == 0:
            return cls(center=0.0, scale=1.0, log=False)
        log = allow_log and is_heavy_tailed(finite)
        data = signed_log1p(finite) if log else finite
        q = np.quantile(data, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
        raw = np.quantile(finite, [0.25, 0.5, 0.75])
        return cls(
            center=float(q[3]),
            scale=max(_spread(q), min_scale),
            log=log,
            raw_median=float(raw[1]),
            raw_iqr=float(raw[2] - raw[0]),
        )

    def expr(self, column: pl.Expr) -> pl.Expr:
        """Scaled Float32 expression; null, NaN and inf become 0 (the median)."""
        x = column.cast(pl.Float64)
        if self.log:
            x = x.sign() * x.abs().log1p()
        scaled = ((x - self.center) / self.scale).clip(-CLIP, CLIP)
        return pl.when(x.is_finite()).then(scaled).otherwise(0.0).cast(pl.Float32)

    def to_state(self) -> State:
        return {
            "center": self.center,
            "scale": self.scale,
            "log": self.log,
            "raw_median": self.raw_median,
            "raw_iqr": self.raw_iqr,
        }

    @classmethod
    def from_state(cls, state: State) -> RobustScaler:
        return cls(
            center=float(state["center"]),
            scale=float(state["scale"]),
            log=bool(state["log"]),
            raw_median=float(state["raw_median"]),
            raw_iqr=float(state["raw_iqr"]),
        )


def is_heavy_tailed(finite: NDArray[np.float64]) -> bool:
    """Non-negative with a long right tail (skewed, or a max far above the 99th percentile)."""
    if finite.min() < 0 or finite.max() <= 0:
        return False
    std = float(finite.std())
    skew = float(np.mean(((finite - finite.mean()) / std) ** 3)) if std > 0 else 0.0
    return skew > 1.5 or float(finite.max()) > 10.0 * float(np.quantile(finite, 0.99))


def signed_log1p(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """log1p that keeps the sign, so unexpected negatives at transform time stay finite."""
    return np.sign(x) * np.log1p(np.abs(x))


def _spread(q: NDArray[np.float64]) -> float:
    q01, q05, q25, _, q75, q95, q99 = (float(v) for v in q)
    for spread in (q75 - q25, (q95 - q05) / _Q90_PER_IQR, (q99 - q01) / _Q98_PER_IQR):
        if spread > 1e-12:
            return spread
    return 1.0


def numeric_values(frame: pl.DataFrame, column: str) -> NDArray[np.float64]:
    """A column as float64 numpy (nulls as NaN)."""
    return frame.get_column(column).cast(pl.Float64).fill_null(np.nan).to_numpy()


@dataclass(frozen=True)
class NumericColumn:
    """Features of one numeric column: the scaled value, plus a missing flag when needed."""

    column: str
    scaler: RobustScaler
    missing_flag: bool

    @classmethod
    def fit(cls, frame: pl.DataFrame, column: str) -> NumericColumn:
        values = numeric_values(frame, column)
        return cls(column, RobustScaler.fit(values), bool((~np.isfinite(values)).any()))

    @property
    def specs(self) -> list[FeatureSpec]:
        suffix = "_log" if self.scaler.log else ""
        out = [FeatureSpec(f"num:{self.column}{suffix}", self.column)]
        if self.missing_flag:
            out.append(FeatureSpec(f"missing:{self.column}", self.column))
        return out

    def exprs(self) -> list[pl.Expr]:
        col = pl.col(self.column).cast(pl.Float64)
        out = [self.scaler.expr(col)]
        if self.missing_flag:
            out.append((~col.is_finite()).fill_null(True).cast(pl.Float32))
        return out

    def parts(self, frame: pl.DataFrame, tag: str) -> Parts:
        return Parts(list(self._exprs))

    @cached_property
    def _exprs(self) -> list[pl.Expr]:
        return self.exprs()

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        value = row.get(self.column)
        if name.startswith("missing:"):
            return f"{self.column} is {'missing' if _is_missing(value) else 'present'}"
        s = self.scaler
        return f"{self.column}={value} (baseline median {s.raw_median:g}, IQR {s.raw_iqr:g})"

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        return {
            "column": self.column,
            "scaler": self.scaler.to_state(),
            "missing_flag": self.missing_flag,
        }

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> NumericColumn:
        return cls(
            str(state["column"]),
            RobustScaler.from_state(state["scaler"]),
            bool(state["missing_flag"]),
        )


#: Text read as true or false in a boolean column; any other text is unknown (null).
BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def boolean_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    """Column ``name`` as Boolean whatever type it arrived as; unreadable values become null.

    A boolean field that arrives as text in one batch (one event wrote ``"maybe"``) must not
    stop the batch: known words are read, the rest count as missing.

    >>> df = pl.DataFrame({"ok": ["true", " FALSE", "maybe", None]})
    >>> df.select(boolean_expr("ok", df.schema["ok"]))["ok"].to_list()
    [True, False, None, None]
    """
    col = pl.col(name)
    if dtype == pl.Boolean:
        return col
    if dtype == pl.Null or dtype.is_numeric():
        return col.cast(pl.Boolean, strict=False)
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
        return text.replace_strict(BOOLEAN_TEXT, default=None, return_dtype=pl.Boolean).alias(name)
    return pl.repeat(None, pl.len(), dtype=pl.Boolean).alias(name)


@dataclass(frozen=True)
class BooleanColumn:
    """A boolean column as 0/1 (null as 0.5, halfway), plus a missing flag when needed."""

    column: str
    missing_flag: bool

    @classmethod
    def fit(cls, frame: pl.DataFrame, column: str) -> BooleanColumn:
        return cls(column, frame.get_column(column).null_count() > 0)

    @property
    def specs(self) -> list[FeatureSpec]:
        out = [FeatureSpec(f"bool:{self.column}", self.column)]
        if self.missing_flag:
            out.append(FeatureSpec(f"missing:{self.column}", self.column))
        return out

    def exprs(self) -> list[pl.Expr]:
        col = pl.col(self.column).cast(pl.Boolean, strict=False)
        out = [col.cast(pl.Float32).fill_null(0.5)]
        if self.missing_flag:
            out.append(col.is_null().cast(pl.Float32))
        return out

    def parts(self, frame: pl.DataFrame, tag: str) -> Parts:
        return Parts(list(self._exprs))

    @cached_property
    def _exprs(self) -> list[pl.Expr]:
        return self.exprs()

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        value = row.get(self.column)
        if name.startswith("missing:"):
            return f"{self.column} is {'missing' if value is None else 'present'}"
        return f"{self.column}={value}"

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        return {"column": self.column, "missing_flag": self.missing_flag}

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> BooleanColumn:
        return cls(str(state["column"]), bool(state["missing_flag"]))


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return not np.isfinite(float(value))
    except (TypeError, ValueError):
        return True
