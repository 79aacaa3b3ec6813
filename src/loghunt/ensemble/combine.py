"""Combine detectors: per-detector flags, votes, a combined score and their agreement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loghunt.ensemble.normalize import self_percentiles
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


def agreement(
    per_detector: Mapping[str, NDArray[np.float64]],
    contamination: float,
    ranks: Matrix | None = None,
) -> Agreement:
    """Spearman correlation between detectors and Jaccard overlap of their flags.

    Tied scores share their average rank, as in ``scipy.stats.spearmanr``. ``ranks``: the
    columns' ranks, or any increasing affine map of them such as the percentiles of the
    training scores among themselves, when the caller has them already (one sort less each).

    >>> a = np.arange(6.0)
    >>> agreement({"a": a, "b": a**3, "c": -a}, 0.5).spearman[0]
    array([ 1.,  1., -1.])
    """
    names = list(per_detector)
    scores = stack(per_detector)
    if ranks is None:
        ranks = np.column_stack([self_percentiles(column)[0] for column in scores.T])
    elif ranks.shape != scores.shape:
        raise ConfigError(f"ranks of shape {ranks.shape} for scores of shape {scores.shape}")
    spearman = (
        np.atleast_2d(np.corrcoef(ranks, rowvar=False)) if len(names) > 1 else np.ones((1, 1))
    )
    spearman = np.nan_to_num(spearman, nan=0.0)
    np.fill_diagonal(spearman, 1.0)  # a constant detector still agrees with itself
    cut = np.quantile(scores, 1.0 - contamination, axis=0)
    flags = scores >= cut
    # Counts in float64 go through BLAS (~10x faster than an integer product) and stay
    # exact below 2**53 events.
    as_float = flags.astype(np.float64)
    inter = (as_float.T @ as_float).astype(np.int64)
    counts = flags.sum(axis=0)
    union = counts[:, None] + counts[None, :] - inter
    jaccard = np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)
    return Agreement(names, spearman, jaccard)
