"""HBOS: rows that fall in sparse bins of the per-feature histograms are anomalous."""

from __future__ import annotations

import numbers
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors.base import Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

#: Rows per scoring block: its (rows x features) scratch arrays stay in the CPU caches.
_BLOCK_ROWS = 8192
#: Up to this many inner edges per feature, bins are found by one pass per edge.
_PASS_EDGES = 24


@register
class HBOSDetector(Detector):
    """Histogram-based outlier score (Goldstein & Dengel 2012), as PyOD's ``HBOS`` (static bins).

    Each feature gets a histogram of ``n_bins`` equal-width bins over its training range
    (as densities). A row's per-feature score is ``-log2(density + alpha)`` of the bin its
    value falls in; the row score is the sum over features. A value outside the training
    range within ``tol`` bin widths takes the edge bin's density; further out it takes the
    feature's worst score. Training and new-row scores equal PyOD's.

    Parameters
    ----------
    n_bins : int, default=10
        Bins per feature (at least 2).
    alpha : float, default=0.1
        Added to every density so that empty bins score finitely; in (0, 1).
    tol : float, default=0.5
        How far outside the training range (in bin widths) a value still takes the edge
        bin's density; in [0, 1].

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    bin_edges_ : ndarray of shape (n_features, n_bins + 1)
        Edges of each feature's bins.
    bin_scores_ : ndarray of shape (n_features, n_bins)
        ``-log2(density + alpha)`` of each bin.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> det = HBOSDetector(n_bins=5).fit(X)
    >>> s = det.score([[0.0, 0.0], [0.0, 2.5]])
    >>> bool(s[1] > s[0])
    True
    """

    name: ClassVar[str] = "hbos"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "bin_edges_",
        "bin_scores_",
    )

    bin_edges_: NDArray[np.float64]
    bin_scores_: NDArray[np.float64]

    def __init__(self, n_bins: int = 10, alpha: float = 0.1, tol: float = 0.5) -> None:
        self.n_bins = n_bins
        self.alpha = alpha
        self.tol = tol

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        self._check_params()
        data = self._validate_fit(X)
        d = data.shape[1]
        self.bin_edges_ = np.empty((d, self.n_bins + 1), dtype=np.float64)
        self.bin_scores_ = np.empty((d, self.n_bins), dtype=np.float64)
        # Contiguous columns (one transposed copy): ~2x faster to read than strided ones.
        for j, column in enumerate(np.ascontiguousarray(data.T)):
            density, self.bin_edges_[j] = np.histogram(
                column.astype(np.float64), bins=self.n_bins, density=True
            )
            self.bin_scores_[j] = -np.log2(density + self.alpha)
        self.n_features_in_ = d
        self.train_scores_ = score_in_chunks(data, self._train_block, _BLOCK_ROWS)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block, _BLOCK_ROWS)

    def feature_scores(self, X: ArrayLike) -> NDArray[np.float64]:
        """Per-feature bin scores, shape (n_samples, n_features); rows sum to ``score``."""
        return self._bin_scores(self._validate_score(X))

    def _check_params(self) -> None:
        if isinstance(self.n_bins, bool) or not isinstance(self.n_bins, numbers.Integral):
            raise ConfigError(f"n_bins must be an integer >= 2, got {self.n_bins!r}")
        if self.n_bins < 2:
            raise ConfigError(f"n_bins must be an integer >= 2, got {self.n_bins!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if not 0.0 <= self.tol <= 1.0:
            raise ConfigError(f"tol must be in [0, 1], got {self.tol!r}")

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        scores: Scores = self._bin_scores(block).sum(axis=1)
        return scores

    def _train_block(self, block: NDArray[np.float32]) -> Scores:
        # Training values lie within the training range: no value is outside the bins.
        scores: Scores = self._inner_scores(block.astype(np.float64)).sum(axis=1)
        return scores

    def _bin_scores(self, data: NDArray[np.float32]) -> NDArray[np.float64]:
        """PyOD's lookup: the bin ``digitize(right=True)`` finds, edge bins for values within
        ``tol`` bin widths outside the training range, the column's worst score further out."""
        values = data.astype(np.float64)
        edges = self.bin_edges_
        out = self._inner_scores(values)
        below, above = values < edges[:, 0], values > edges[:, -1]
        rows, cols = np.nonzero(below | above)
        if len(rows):
            v, e = values[rows, cols], edges[cols]
            far = np.where(
                below[rows, cols],
                e[:, 0] - v > (e[:, 1] - e[:, 0]) * self.tol,
                v - e[:, -1] > (e[:, -1] - e[:, -2]) * self.tol,
            )
            out[rows[far], cols[far]] = self.bin_scores_.max(axis=1)[cols[far]]
        return out

    def _inner_scores(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Score of the bin each value falls in, the edge bins taking values beyond them."""
        offsets = np.arange(0, self.bin_scores_.size, self.bin_scores_.shape[1])
        bins = _bins(values, self.bin_edges_) + offsets
        out: NDArray[np.float64] = self.bin_scores_.ravel()[bins]
        return out


def _bins(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.intp]:
    """Bin of each value (0 below the range, the last one above): how many of its column's
    inner edges lie strictly below it, as ``digitize(right=True) - 1`` clipped to the bins.

    >>> _bins(np.array([[0.0], [0.5], [0.6], [2.0]]), np.array([[0.0, 0.5, 1.0]])).ravel()
    array([0, 0, 1, 1])
    """
    inner = edges[:, 1:-1]
    if inner.shape[1] > _PASS_EDGES:
        # side="left" counts the edges strictly below each value.
        searched = [np.searchsorted(e, v) for e, v in zip(inner, values.T, strict=True)]
        return np.column_stack(searched)
    # A comparison pass per edge (all columns at once) beats a binary search per value,
    # whose every step waits on the last, for the few edges of a histogram.
    bins = np.zeros(values.shape, dtype=np.uint8)
    for k in range(inner.shape[1]):
        bins += values > inner[:, k]
    return bins.astype(np.intp)
