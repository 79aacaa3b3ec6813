"""Pieces every feature family shares: feature specs, transform parts, state (JSON + arrays)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

#: JSON-serialisable part of a fitted state.
State = dict[str, Any]
#: Array part of a fitted state (saved as .npy next to the JSON, never pickled).
Arrays = dict[str, NDArray[Any]]

#: Column names the featurizer adds to its working frame; input names never start with "__lh".
TIME = "__lh_time"  # parsed event time (Datetime ms UTC), null where unparseable
WTIME = "__lh_wtime"  # the same as epoch ms with nulls filled, for windows and ordering
FAILED = "__lh_failed"
ROW = "__lh_row"
ORDER = "__lh_order"  # position of the row in time order (time, then row; no time last)


@dataclass(frozen=True)
class FeatureSpec:
    """One output column: its name and the source field or pair it explains."""

    name: str
    group: str


def pair_key(left: str, right: str) -> str:
    """The display name of a pair of fields, as used in feature names and groups."""
    return f"{left}×{right}"


#: One output column of a transform: an expression over the working frame, or its values.
Output = pl.Expr | NDArray[np.float32]


@dataclass
class Parts:
    """What one feature family adds to a transform, so that all families run as one query.

    ``outputs`` holds one :data:`Output` per feature of the family, in feature order;
    expressions run on the frame the family was given, with ``columns`` added: values computed
    outside polars (window counts, string statistics) that an expression scales.
    """

    outputs: list[Output]
    columns: dict[str, pl.Series] = field(default_factory=dict)
