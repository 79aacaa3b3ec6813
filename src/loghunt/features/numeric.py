"""Numeric and boolean columns: robust scaling, log for heavy tails, missing flags."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.features.base import Arrays, Columns, FeatureSpec, State

#: Scaled values are clipped here only to keep float32 distances finite.
CLIP = 1e6
#: Most values :func:`log1p` hands to Python's math module rather than to a query.
_MATH_MAX_VALUES = 1024
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


def scale_columns(scalers: Sequence[RobustScaler], raw: NDArray[np.float64]) -> NDArray[np.float32]:
    """Column ``j`` of ``raw`` (rows x scalers, NaN for missing) scaled by ``scalers[j]``.

    Bit for bit what the polars expression ``when(x.is_finite()).then(((sign(x) *
    log1p(|x|) if log else x) - center) / scale).clip(-CLIP, CLIP)).otherwise(0)`` gives
    (the tests keep it as the reference), without a query: the same IEEE operations in the
    same order, and the logarithms are polars' (:func:`log1p`).

    >>> s = RobustScaler(center=1.0, scale=2.0, log=False)
    >>> scale_columns([s], np.array([[3.0], [np.nan]])).ravel().tolist()
    [1.0, 0.0]
    """
    x = np.array(raw, dtype=np.float64).reshape(len(raw), len(scalers))
    logged = [j for j, s in enumerate(scalers) if s.log]
    if logged and x.size:
        block = x[:, logged]
        magnitude = log1p(np.abs(block).ravel()).reshape(block.shape)
        # polars' sign: -1 or 1, and zeros and NaN as they are.
        sign = np.where(block > 0, 1.0, np.where(block < 0, -1.0, block))
        x[:, logged] = sign * magnitude
    center = np.array([s.center for s in scalers], dtype=np.float64)
    scale = np.array([s.scale for s in scalers], dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.clip((x - center) / scale, -CLIP, CLIP)
    return np.where(np.isfinite(x), scaled, 0.0).astype(np.float32)


def log1p(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log1p`` of each value as polars computes it: the C library's, value by value.

    Up to a thousand values go through Python's ``math.log1p`` (the same C function, without
    a query); numpy's vectorised log1p may differ from it in the last bit.
    """
    if len(values) > _MATH_MAX_VALUES:
        return pl.Series(values, dtype=pl.Float64).log1p().to_numpy()
    return np.fromiter(map(math.log1p, values.tolist()), np.float64, len(values))


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
    return frame.get_column(column).cast(pl.Float64).to_numpy()


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

    def parts(self, frame: pl.DataFrame) -> Columns:
        values = numeric_values(frame, self.column)
        out = [scale_columns([self.scaler], values[:, None])[:, 0]]
        if self.missing_flag:
            out.append((~np.isfinite(values)).astype(np.float32))
        return out

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

    def parts(self, frame: pl.DataFrame) -> Columns:
        column = frame.get_column(self.column).cast(pl.Boolean, strict=False)
        values = column.cast(pl.Float32).to_numpy()  # 1, 0, NaN for null
        missing = np.isnan(values)
        out = [np.where(missing, np.float32(0.5), values)]
        if self.missing_flag:
            out.append(missing.astype(np.float32))
        return out

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
