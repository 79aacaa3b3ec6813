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
        for j in range(d):
            density, self.bin_edges_[j] = np.histogram(
                data[:, j].astype(np.float64), bins=self.n_bins, density=True
            )
            self.bin_scores_[j] = -np.log2(density + self.alpha)
        self.n_features_in_ = d
        self.train_scores_ = score_in_chunks(data, self._score_block)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block)

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

    def _bin_scores(self, data: NDArray[np.float32]) -> NDArray[np.float64]:
        out = np.empty(data.shape, dtype=np.float64)
        for j, (edges, scores) in enumerate(zip(self.bin_edges_, self.bin_scores_, strict=True)):
            out[:, j] = _column_scores(data[:, j].astype(np.float64), edges, scores, self.tol)
        return out


def _column_scores(
    values: NDArray[np.float64],
    edges: NDArray[np.float64],
    scores: NDArray[np.float64],
    tol: float,
) -> NDArray[np.float64]:
    """PyOD's lookup: ``digitize(right=True)``, edge bins within ``tol`` widths, else worst."""
    n_bins = scores.shape[0]
    index = np.digitize(values, edges, right=True)
    below, above = index == 0, index == n_bins + 1
    out = scores[np.clip(index - 1, 0, n_bins - 1)]
    worst = scores.max()
    near_low = edges[0] - values <= (edges[1] - edges[0]) * tol
    near_high = values - edges[-1] <= (edges[-1] - edges[-2]) * tol
    out[below] = np.where(near_low[below], scores[0], worst)
    out[above] = np.where(near_high[above], scores[-1], worst)
    return out
