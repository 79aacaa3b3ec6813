"""Robust z-score: how many robust standard deviations each feature is from its median."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors.base import Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

_AGGREGATES = ("max", "sum")
#: Factors that make MAD, IQR and mean absolute deviation estimate a normal's standard
#: deviation.
_MAD_TO_SD = 1.4826
_IQR_TO_SD = 1.0 / 1.349
_MEAN_AD_TO_SD = float(np.sqrt(np.pi / 2.0))
#: Columns whose medians are computed at once (bounds the copy np.median makes).
_COLUMN_BLOCK = 16


@register
class RobustZDetector(Detector):
    """Per-feature robust z-scores ``|x - median| / (1.4826 * MAD)``, aggregated per row.

    Where a column's MAD is 0 (more than half its values equal, common in log features), the
    scale falls back to the interquartile range, then to the mean absolute deviation from the
    median, then to 1, so that a rare value in a mostly-constant column still stands out.

    Parameters
    ----------
    aggregate : {"max", "sum"}, default="max"
        How a row's feature scores become its score.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    median_ : ndarray of shape (n_features,)
        Column medians.
    scale_ : ndarray of shape (n_features,)
        Robust standard deviation of each column (never 0).
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> det = RobustZDetector().fit(X)
    >>> det.score([[0.0, 0.0], [0.0, 6.0]]).round(1)
    array([0.1, 6. ])
    """

    name: ClassVar[str] = "robust_z"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "median_",
        "scale_",
    )

    median_: NDArray[np.float64]
    scale_: NDArray[np.float64]

    def __init__(self, aggregate: str = "max") -> None:
        self.aggregate = aggregate

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        if self.aggregate not in _AGGREGATES:
            raise ConfigError(
                f"unknown aggregate {self.aggregate!r}; choose one of {list(_AGGREGATES)}"
            )
        data = self._validate_fit(X)
        d = data.shape[1]
        self.median_ = np.empty(d, dtype=np.float64)
        self.scale_ = np.empty(d, dtype=np.float64)
        for start in range(0, d, _COLUMN_BLOCK):
            block = data[:, start : start + _COLUMN_BLOCK].astype(np.float64)
            (
                self.median_[start : start + _COLUMN_BLOCK],
                self.scale_[start : start + _COLUMN_BLOCK],
            ) = _robust_location_scale(block)
        self.n_features_in_ = d
        self.train_scores_ = score_in_chunks(data, self._score_block)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block)

    def feature_scores(self, X: ArrayLike) -> NDArray[np.float64]:
        """Per-feature robust z-scores, shape (n_samples, n_features)."""
        return self._z(self._validate_score(X))

    def _z(self, data: NDArray[np.float32]) -> NDArray[np.float64]:
        z: NDArray[np.float64] = np.abs(data - self.median_) / self.scale_
        return z

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        z = self._z(block)
        scores: Scores = z.max(axis=1) if self.aggregate == "max" else z.sum(axis=1)
        return scores


def _robust_location_scale(
    block: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Median and robust scale of each column, falling back where the MAD is 0."""
    q1, median, q3 = np.quantile(block, [0.25, 0.5, 0.75], axis=0)
    deviation = np.abs(block - median)
    scale = _MAD_TO_SD * np.median(deviation, axis=0)
    fallbacks = (_IQR_TO_SD * (q3 - q1), _MEAN_AD_TO_SD * deviation.mean(axis=0))
    for fallback in fallbacks:
        scale = np.where(scale > 0, scale, fallback)
    return median, np.where(scale > 0, scale, 1.0)
