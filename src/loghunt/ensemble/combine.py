"""Combine detectors: per-detector flags, votes, a combined score and their agreement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loghunt.errors import ConfigError

Matrix = NDArray[np.float64]

#: How detectors' standardised scores become one: mean (default), max or median.
COMBINE_METHODS = ("mean", "max", "median")


@dataclass(frozen=True)
class Agreement:
    """How much detectors agree: rank correlation of scores and Jaccard overlap of flags."""

    detectors: list[str]
    spearman: Matrix
    jaccard: Matrix

    def to_dict(self) -> dict[str, object]:
        return {
            "detectors": self.detectors,
            "spearman": np.round(self.spearman, 4).tolist(),
            "jaccard": np.round(self.jaccard, 4).tolist(),
        }


def stack(per_detector: Mapping[str, NDArray[np.float64]]) -> Matrix:
    """Columns in the mapping's order, shape (n_events, n_detectors)."""
    if not per_detector:
        raise ConfigError("no detector scores to combine")
    return np.column_stack([np.asarray(v, dtype=np.float64) for v in per_detector.values()])


def combine_scores(normalized: Matrix, method: str = "mean") -> NDArray[np.float64]:
    """One score per event from the normalised scores of all detectors (one per column)."""
    if method == "mean":
        return np.asarray(normalized.mean(axis=1), dtype=np.float64)
    if method == "max":
        return np.asarray(normalized.max(axis=1), dtype=np.float64)
    if method == "median":
        return np.asarray(np.median(normalized, axis=1), dtype=np.float64)
    raise ConfigError(f"unknown combine method {method!r}; use one of {COMBINE_METHODS}")


def count_votes(normalized: Matrix, contamination: float) -> NDArray[np.int64]:
    """How many detectors flag each event (score in their own top ``contamination``)."""
    flags = normalized >= 1.0 - contamination
    return np.asarray(flags.sum(axis=1), dtype=np.int64)


def agreement(per_detector: Mapping[str, NDArray[np.float64]], contamination: float) -> Agreement:
    """Spearman correlation between detectors and Jaccard overlap of their flags."""
    names = list(per_detector)
    scores = stack(per_detector)
    ranks = np.argsort(np.argsort(scores, axis=0), axis=0).astype(np.float64)
    spearman = (
        np.atleast_2d(np.corrcoef(ranks, rowvar=False)) if len(names) > 1 else np.ones((1, 1))
    )
    spearman = np.nan_to_num(spearman, nan=0.0)
    cut = np.quantile(scores, 1.0 - contamination, axis=0)
    flags = scores >= cut
    inter = flags.T.astype(np.int64) @ flags.astype(np.int64)
    counts = flags.sum(axis=0)
    union = counts[:, None] + counts[None, :] - inter
    jaccard = np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)
    return Agreement(names, spearman, jaccard)
