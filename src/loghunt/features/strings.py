"""String statistics for free text (user agents, messages, JSON blobs): length, entropy, digits.

Statistics are computed once per distinct value and joined back, since free-text columns in
logs repeat a lot (user agents) and the per-value work is the expensive part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
from numpy.typing import NDArray

from loghunt.features.base import Arrays, FeatureSpec, State
from loghunt.features.numeric import RobustScaler

STATS = ("length", "entropy", "digit_ratio")
#: Floors of the spread of each statistic, so that a column whose values all look alike
#: (one user agent) does not turn a small difference into a huge one.
MIN_SCALE = {"length": 1.0, "entropy": 0.1, "digit_ratio": 0.02}
#: Entropy looks at the first bytes only; enough to tell random tokens from words.
ENTROPY_PREFIX = 256
_CHUNK_ROWS = 32_768


def byte_entropy(text: pl.Series) -> NDArray[np.float64]:
    """Shannon entropy (bits per byte) of each string's UTF-8 prefix; 0 for empty or null."""
    arrow = text.str.slice(0, ENTROPY_PREFIX).fill_null("").to_arrow()
    arrow = pa.array(arrow).cast(pa.large_string())
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    n = len(arrow)
    offsets = np.frombuffer(arrow.buffers()[1], dtype=np.int64)[arrow.offset : arrow.offset + n + 1]
    data_buffer = arrow.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer else np.zeros(0, np.uint8)
    out = np.zeros(n, dtype=np.float64)
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        out[start:stop] = _entropy_chunk(offsets[start : stop + 1], data)
    return out


def _entropy_chunk(offsets: NDArray[np.int64], data: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Entropy of the strings whose bytes lie between consecutive offsets (vectorised)."""
    lengths = np.diff(offsets)
    rows = np.repeat(np.arange(lengths.size), lengths)
    chunk = data[offsets[0] : offsets[-1]].astype(np.int64)
    counts = np.bincount(rows * 256 + chunk, minlength=lengths.size * 256).reshape(-1, 256)
    counts = counts.astype(np.float64)
    safe_len = np.maximum(lengths, 1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_log_c = np.where(counts > 0, counts * np.log2(np.where(counts > 0, counts, 1.0)), 0.0)
    entropy = np.log2(safe_len) - c_log_c.sum(axis=1) / safe_len
    return np.where(lengths > 0, np.maximum(entropy, 0.0), 0.0)


def raw_stats(text: pl.Series) -> pl.DataFrame:
    """Length, entropy and digit ratio of each string, in row order.

    A missing value has no statistics (null): it becomes the median after scaling, since a
    field that is absent (no request parameters) says nothing about its text.
    """
    name = text.name
    uniques = text.unique().to_frame()
    lengths = pl.col(name).str.len_chars().cast(pl.Float64)
    digits = pl.col(name).str.count_matches(r"\d").cast(pl.Float64)
    entropy = pl.Series("entropy", byte_entropy(uniques.get_column(name)))
    stats = uniques.with_columns(
        lengths.alias("length"),
        (digits / pl.max_horizontal(lengths, pl.lit(1.0))).alias("digit_ratio"),
        pl.when(pl.col(name).is_null()).then(None).otherwise(entropy).alias("entropy"),
    )
    joined = text.to_frame().join(
        stats, on=name, how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.select(STATS)


class StringColumn:
    """Scaled string statistics of one column."""

    def __init__(self, column: str, scalers: dict[str, RobustScaler]) -> None:
        self.column = column
        self.scalers = scalers

    @classmethod
    def fit(cls, frame: pl.DataFrame, column: str, stats: tuple[str, ...] = STATS) -> StringColumn:
        """``stats`` picks the statistics; JSON blobs use only their length, since the
        entropy and digits of serialised structure are noise."""
        values = raw_stats(frame.get_column(column))
        scalers = {
            s: RobustScaler.fit(values.get_column(s).to_numpy(), min_scale=MIN_SCALE[s])
            for s in stats
        }
        return cls(column, scalers)

    @property
    def specs(self) -> list[FeatureSpec]:
        return [FeatureSpec(f"str:{self.column}:{s}", self.column) for s in self.scalers]

    def transform(self, frame: pl.DataFrame) -> list[NDArray[np.float32]]:
        stats = raw_stats(frame.get_column(self.column))
        scaled = stats.select(v.expr(pl.col(s)).alias(s) for s, v in self.scalers.items())
        return [scaled.get_column(s).to_numpy() for s in self.scalers]

    def describe(self, name: str, row: Mapping[str, Any]) -> str:
        stat = name.rsplit(":", 1)[-1]
        value = describe_string(row.get(self.column))[stat]
        median = self.scalers[stat].raw_median
        return f"{self.column} {stat.replace('_', ' ')} {value:.3g} (baseline median {median:.3g})"

    def to_state(self, arrays: Arrays, prefix: str) -> State:
        return {
            "column": self.column,
            "scalers": {s: v.to_state() for s, v in self.scalers.items()},
        }

    @classmethod
    def from_state(cls, state: State, arrays: Arrays, prefix: str) -> StringColumn:
        scalers = {s: RobustScaler.from_state(v) for s, v in state["scalers"].items()}
        return cls(str(state["column"]), scalers)


def describe_string(value: object) -> dict[str, float]:
    """The raw statistics of one value, for explanations."""
    stats = raw_stats(pl.Series("v", [None if value is None else str(value)], dtype=pl.String))
    return {s: float(stats.get_column(s)[0] or 0.0) for s in STATS}
