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

from loghunt.features.base import Arrays, Columns, FeatureSpec, State
from loghunt.features.lookup import ValueMemo, is_small
from loghunt.features.numeric import RobustScaler, scale_columns

STATS = ("length", "entropy", "digit_ratio")
#: Floors of the spread of each statistic, so that a column whose values all look alike
#: (one user agent) does not turn a small difference into a huge one.
MIN_SCALE = {"length": 1.0, "entropy": 0.1, "digit_ratio": 0.02}
#: Entropy looks at the first bytes only; enough to tell random tokens from words.
ENTROPY_PREFIX = 256
_CHUNK_ROWS = 32_768
_VALUE = "__lh_value"
#: Most distinct values whose statistics a StringColumn remembers between calls.
MEMO_VALUES = 20_000


def byte_entropy(text: pl.Series) -> NDArray[np.float64]:
    """Shannon entropy (bits per byte) of each string's UTF-8 prefix; 0 for empty or null."""
    return _prefix_entropy(text.to_frame().select(_prefix(pl.col(text.name))).to_series())


def _prefix(text: pl.Expr) -> pl.Expr:
    """The part of each string entropy reads; "" for null."""
    return text.str.slice(0, ENTROPY_PREFIX).fill_null("")


def _prefix_entropy(prefixes: pl.Series) -> NDArray[np.float64]:
    """:func:`byte_entropy` of strings already cut by :func:`_prefix`."""
    arrow = pa.array(prefixes.to_arrow()).cast(pa.large_string())
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
    counts = np.bincount(rows * 256 + chunk, minlength=lengths.size * 256).astype(np.float64)
    # c log2 c of the bytes present (most of the 256 are absent: 0), summed per string.
    present = np.flatnonzero(counts)
    c_log_c = np.zeros_like(counts)
    c_log_c[present] = counts[present] * np.log2(counts[present])
    c_log_c = c_log_c.reshape(-1, 256)
    safe_len = np.maximum(lengths, 1).astype(np.float64)
    entropy = np.log2(safe_len) - c_log_c.sum(axis=1) / safe_len
    return np.where(lengths > 0, np.maximum(entropy, 0.0), 0.0)


def raw_stats(text: pl.Series, stats: tuple[str, ...] = STATS) -> pl.DataFrame:
    """Length, entropy and digit ratio of each string (or only ``stats``), in row order.

    A missing value has no statistics (null): it becomes the median after scaling, since a
    field that is absent (no request parameters) says nothing about its text.
    """
    text = text.cast(pl.String).alias(_VALUE)
    if is_small(len(text)):
        # A small batch: distinct values through a dict, no join.
        codes: dict[str | None, int] = {}
        rows = [codes.setdefault(v, len(codes)) for v in text.to_list()]
        uniques = pl.Series(_VALUE, list(codes), dtype=pl.String)
        return _stats_of(uniques, stats)[np.array(rows, dtype=np.int64)]
    uniques = text.unique()
    table = _stats_of(uniques, stats).hstack([uniques])
    joined = text.to_frame().join(
        table, on=_VALUE, how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.select(stats)


def _stats_of(text: pl.Series, stats: tuple[str, ...]) -> pl.DataFrame:
    """The statistics of each value, one row per value, in order."""
    col = pl.col(text.name)
    lengths = col.str.len_chars().cast(pl.Float64)
    digits = col.str.count_matches(r"\d").cast(pl.Float64)
    exprs = {
        "length": lengths,
        "digit_ratio": digits / pl.max_horizontal(lengths, pl.lit(1.0)),
        "entropy": _prefix(col),  # cut here, measured below: one query for all
    }
    out = text.to_frame().select(exprs[s].alias(s) for s in stats)
    if "entropy" not in stats:
        return out
    entropy = _prefix_entropy(out.get_column("entropy"))
    if text.null_count():
        entropy[text.is_null().to_numpy()] = np.nan
    return out.replace_column(
        stats.index("entropy"), pl.Series("entropy", entropy, nan_to_null=True)
    )


#: Deletes the ASCII digits, which are all that ``\d`` matches in ASCII text.
_NO_DIGITS = str.maketrans("", "", "0123456789")


def _stats_matrix(text: pl.Series, stats: tuple[str, ...]) -> NDArray[np.float64]:
    r""":func:`_stats_of` as a float64 matrix (values x stats, NaN for null).

    ASCII text (nearly all a log holds) is measured in Python: a query costs more than a few
    dozen values. In ASCII a character is one byte and ``\d`` matches 0-9 only, so the
    numbers are the same; anything else goes to polars.
    """
    values = text.to_list()
    if not all(v is None or v.isascii() for v in values):
        return _stats_of(text, stats).to_numpy()
    n = len(values)
    texts = ["" if v is None else v for v in values]
    lengths = np.fromiter(map(len, texts), np.float64, n)
    columns = {"length": lengths}
    if "digit_ratio" in stats:
        kept = np.fromiter((len(t.translate(_NO_DIGITS)) for t in texts), np.float64, n)
        columns["digit_ratio"] = (lengths - kept) / np.maximum(lengths, 1.0)
    if "entropy" in stats:
        prefixes = [t[:ENTROPY_PREFIX].encode() for t in texts]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, prefixes), np.int64, n), out=offsets[1:])
        columns["entropy"] = _entropy_chunk(offsets, np.frombuffer(b"".join(prefixes), np.uint8))
    out = np.column_stack([columns[s] for s in stats])
    out[np.fromiter((v is None for v in values), bool, n)] = np.nan
    return out


class StringColumn:
    """Scaled string statistics of one column."""

    def __init__(self, column: str, scalers: dict[str, RobustScaler]) -> None:
        self.column = column
        self.scalers = scalers
        # Scaled statistics of values seen before: most values of a new batch were.
        self.memo = ValueMemo(self._scaled_stats, pl.String, MEMO_VALUES)

    @classmethod
    def fit(cls, frame: pl.DataFrame, column: str, stats: tuple[str, ...] = STATS) -> StringColumn:
        """``stats`` picks the statistics; JSON blobs use only their length, since the
        entropy and digits of serialised structure are noise."""
        values = raw_stats(frame.get_column(column), stats)
        scalers = {
            s: RobustScaler.fit(values.get_column(s).to_numpy(), min_scale=MIN_SCALE[s])
            for s in stats
        }
        return cls(column, scalers)

    @property
    def specs(self) -> list[FeatureSpec]:
        return [FeatureSpec(f"str:{self.column}:{s}", self.column) for s in self.scalers]

    def parts(self, frame: pl.DataFrame) -> Columns:
        text = frame.get_column(self.column)
        if is_small(len(text)):
            scaled = self.memo.of(text)
        else:
            scaled = self._scale(raw_stats(text, tuple(self.scalers)).to_numpy())
        return list(scaled.T)

    def _scale(self, raw: NDArray[np.float64]) -> NDArray[np.float32]:
        """Scaled statistics (rows x statistics, NaN for null)."""
        return scale_columns(list(self.scalers.values()), raw)

    def _scaled_stats(self, values: pl.Series) -> NDArray[np.float32]:
        return self._scale(_stats_matrix(values.alias(_VALUE), tuple(self.scalers)))

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
