"""Pieces every feature family shares: feature specs, transform columns, state (JSON + arrays)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
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


#: What a feature family gives for a frame: one float32 array per feature, in feature order.
Columns = list[NDArray[np.float32]]
