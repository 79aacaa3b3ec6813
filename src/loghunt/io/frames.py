"""Flatten and type whole frames (Parquet, CSV) with polars, under the same limits as JSON."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from loghunt.io.limits import ReadLimits

_INT = r"-?(?:0|[1-9][0-9]{0,17})"  # at most 18 digits: always fits Int64
_INT_TEXT = rf"^{_INT}$"
# Ints mixed with decimals; a longer run of bare digits is an id, not a float to round.
_FLOAT_TEXT = rf"^(?:{_INT}|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][+-]?[0-9]+)?|[eE][+-]?[0-9]+))$"
_BOOL_TEXT = r"^(?i:true|false)$"


def flatten_frame(
    frame: pl.DataFrame, limits: ReadLimits
) -> tuple[pl.DataFrame, npt.NDArray[np.bool_] | None]:
    """Unnest structs to dotted columns, encode lists as JSON, cut long strings.

    Returns the flat frame and a per-row mask of rows whose strings were cut (None if none).
    Struct columns below ``limits.max_depth``, and those named in ``limits.json_subtrees``,
    become compact JSON strings, as they would in a JSON event.
    """
    frame = _unnest(frame, limits)
    frame = frame.with_columns(
        _json_column(frame[name])
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.List | pl.Array | pl.Struct)
    )
    frame = frame.with_columns(
        pl.col(name).bin.encode("hex") for name, dtype in frame.schema.items() if dtype == pl.Binary
    )
    return _cut_strings(frame, limits.max_string_len)


def _unnest(frame: pl.DataFrame, limits: ReadLimits) -> pl.DataFrame:
    """Expand struct columns level by level (a loop, not recursion), tracking each depth."""
    depth = dict.fromkeys(frame.columns, 1)
    subtrees = set(limits.json_subtrees)
    while True:
        expand = [
            name
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Struct)
            and depth[name] < limits.max_depth
            and name.rsplit(".", 1)[-1] not in subtrees
        ]
        if not expand:
            return frame
        exprs: list[pl.Expr] = []
        for name, dtype in frame.schema.items():
            if name not in expand:
                exprs.append(pl.col(name))
                continue
            assert isinstance(dtype, pl.Struct)
            for struct_field in dtype.fields:
                child = f"{name}.{struct_field.name}"
                depth[child] = depth[name] + 1
                exprs.append(pl.col(name).struct.field(struct_field.name).alias(child))
        frame = frame.select(exprs)


def _json_column(series: pl.Series) -> pl.Series:
    """Encode a list or struct column as compact JSON with sorted keys (nulls stay null)."""
    return pl.Series(
        series.name,
        [None if v is None else _dumps(v) for v in series.to_list()],
        dtype=pl.String,
    )


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def _cut_strings(
    frame: pl.DataFrame, max_len: int
) -> tuple[pl.DataFrame, npt.NDArray[np.bool_] | None]:
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text or frame.height == 0:
        return frame, None
    too_long = frame.select(
        pl.any_horizontal(pl.col(text).str.len_chars() > max_len).fill_null(False)
    ).to_series()
    if not too_long.any():
        return frame, None
    frame = frame.with_columns(pl.col(text).str.slice(0, max_len))
    return frame, too_long.to_numpy()


def infer_text_types(frame: pl.DataFrame) -> pl.DataFrame:
    """Type all-text columns (as CSV is read) whose every non-null value is an int, float or bool.

    Numbers with a leading zero (account ids, ``"007"``) or longer than 18 digits stay text,
    since reading them as numbers would lose digits.
    """
    checks = []
    for name in frame.columns:
        column = pl.col(name)
        checks += [
            column.str.contains(_INT_TEXT).all().alias(f"int:{name}"),
            column.str.contains(_FLOAT_TEXT).all().alias(f"float:{name}"),
            column.str.contains(_BOOL_TEXT).all().alias(f"bool:{name}"),
            column.is_not_null().any().alias(f"any:{name}"),
        ]
    if not checks or frame.height == 0:
        return frame
    verdict = frame.select(checks).row(0, named=True)
    casts: list[pl.Expr] = []
    for name in frame.columns:
        if not verdict[f"any:{name}"]:
            continue
        if verdict[f"int:{name}"]:
            casts.append(pl.col(name).cast(pl.Int64))
        elif verdict[f"float:{name}"]:
            casts.append(pl.col(name).cast(pl.Float64))
        elif verdict[f"bool:{name}"]:
            casts.append(pl.col(name).str.to_lowercase() == "true")
    return frame.with_columns(casts) if casts else frame
