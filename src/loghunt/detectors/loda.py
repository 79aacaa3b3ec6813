"""LODA: rows in sparse bins of many random one-dimensional projections are anomalous."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

from loghunt.detectors.base import SCORE_CHUNK_ROWS, Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

#: Added to every bin count so that empty bins score finitely (as PyOD does).
_EMPTY_BIN = 1e-12
#: Most interior edges counted by comparisons (a binary search beyond, where it is faster).
_COUNTED_EDGES = 64
#: Projected values per counting block (rows x n_random_cuts): 256 KiB of float64, in cache.
_COUNT_VALUES = 32_768


@register
class LODADetector(Detector):
    """Lightweight on-line detector of anomalies (Pevný 2016), as PyOD's ``LODA`` (static bins).

    ``n_random_cuts`` sparse random projections (Gaussian weights on ``int(sqrt(d))`` random
    features, drawn exactly as PyOD draws them for the same seed) each get a histogram of
    ``n_bins`` equal-width bins over the projected training rows. A row's score is the mean
    over projections of ``-log`` of its bin's share of the training rows; values beyond the
    training range fall in the edge bins.

    PyOD looks a value up in the bin to the right of the one it lies in (its search runs over
    ``limits[:n_bins - 1]``); here it is looked up in its own bin. PyOD also divides the sum
    by ``n_random_cuts`` twice. Neither changes which rows are odd much, but scores differ.

    Parameters
    ----------
    n_bins : int, default=10
        Bins per projection (at least 2).
    n_random_cuts : int, default=100
        Number of random projections.
    random_state : int, default=0
        Seed of the projections.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    projections_ : ndarray of shape (n_random_cuts, n_features)
        The sparse projection vectors.
    bin_edges_ : ndarray of shape (n_random_cuts, n_bins + 1)
        Edges of each projection's bins.
    bin_scores_ : ndarray of shape (n_random_cuts, n_bins)
        ``-log`` of each bin's share of the training rows.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 4))
    >>> X[0] = 6.0
    >>> det = LODADetector().fit(X)
    >>> int(np.argmax(det.train_scores_))
    0
    """

    name: ClassVar[str] = "loda"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "projections_",
        "bin_edges_",
        "bin_scores_",
    )

    projections_: NDArray[np.float64]
    bin_edges_: NDArray[np.float64]
    bin_scores_: NDArray[np.float64]

    def __init__(self, n_bins: int = 10, n_random_cuts: int = 100, random_state: int = 0) -> None:
        self.n_bins = n_bins
        self.n_random_cuts = n_random_cuts
        self.random_state = random_state

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        self._check_params()
        data = self._validate_fit(X)
        self.projections_ = _sparse_projections(
            self.n_random_cuts, data.shape[1], self.random_state
        )
        projected = self._project(data)
        lows, highs = projected.min(axis=0), projected.max(axis=0)
        # np.histogram's own edges: equal widths over [min, max] (widened by 0.5 if constant).
        self.bin_edges_ = np.stack(
            [
                np.histogram_bin_edges([lo, hi], bins=self.n_bins)
                for lo, hi in zip(lows, highs, strict=True)
            ]
        )
        # Each training row's bin in every projection, found once: it gives the histograms
        # (the same counts as np.histogram) and then the training scores.
        self.bin_scores_ = np.empty((self.n_random_cuts, self.n_bins))
        total = np.zeros(data.shape[0], dtype=np.float64)
        for i, row_bins in enumerate(self._bins(projected)):
            index = row_bins.astype(np.intp)  # take and bincount would each convert
            counts = np.bincount(index, minlength=self.n_bins)
            share = (counts + _EMPTY_BIN) / (counts.sum() + self.n_bins * _EMPTY_BIN)
            self.bin_scores_[i] = -np.log(share)
            total += self.bin_scores_[i].take(index)
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = total / self.n_random_cuts
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block)

    def _check_params(self) -> None:
        for key in ("n_bins", "n_random_cuts"):
            value = getattr(self, key)
            low = 2 if key == "n_bins" else 1
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")

    def _project(self, data: NDArray[np.float32]) -> NDArray[np.float64]:
        # A thin product (d inner columns): a second BLAS thread only waits on busy cores.
        # Not P @ X.T, although its transposed layout would suit the binning: BLAS rounds
        # that product differently in the last bits for some shapes.
        with threadpool_limits(limits=1, user_api="blas"):
            projected: NDArray[np.float64] = data.astype(np.float64) @ self.projections_.T
        return projected

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        total = np.zeros(block.shape[0], dtype=np.float64)
        for i, row_bins in enumerate(self._bins(self._project(block))):
            total += self.bin_scores_[i].take(row_bins.astype(np.intp))
        scores: Scores = total / self.n_random_cuts
        return scores

    def _bins(self, projected: NDArray[np.float64]) -> NDArray[np.unsignedinteger[Any]]:
        """Bin of every row in every projection, shape (n_random_cuts, rows).

        A value's bin is the number of interior edges at or below it (``searchsorted`` of
        ``edges[1:-1]``, side right): values beyond the training range land in the edge bins.
        """
        inner = self.bin_edges_[:, 1:-1]
        # The smallest integer type that holds a bin number (uint8 below 256 bins): the
        # training rows' bins stay a fraction of the projections' size.
        bins = np.empty(projected.shape[::-1], dtype=np.min_scalar_type(self.n_bins))
        if inner.shape[1] > _COUNTED_EDGES:
            for start in range(0, projected.shape[0], SCORE_CHUNK_ROWS):
                # One projection per contiguous row: searching strided columns is ~2x slower.
                by_cut = np.ascontiguousarray(projected[start : start + SCORE_CHUNK_ROWS].T)
                for i, values in enumerate(by_cut):
                    bins[i, start : start + len(values)] = np.searchsorted(
                        inner[i], values, side="right"
                    )
            return bins
        # Few edges: count them, one comparison per edge (~10x faster than a binary search per
        # value), over cache-sized blocks of rows taken flat, against each edge repeated for
        # every row of a block (one long comparison, not one per row), then transpose the
        # small counts.
        n_rows, n_cuts = projected.shape
        block_rows = max(1, _COUNT_VALUES // n_cuts)
        edges = np.tile(inner.T, (1, block_rows))
        flat = np.ascontiguousarray(projected).reshape(-1)
        count = np.empty(edges.shape[1], dtype=np.uint8)
        above = np.empty(edges.shape[1], dtype=bool)
        for start in range(0, n_rows, block_rows):
            stop = min(n_rows, start + block_rows)
            size = (stop - start) * n_cuts
            values = flat[start * n_cuts : stop * n_cuts]
            np.greater_equal(values, edges[0, :size], out=count[:size].view(bool))
            for edge in edges[1:]:
                np.greater_equal(values, edge[:size], out=above[:size])
                count[:size] += above[:size].view(np.uint8)
            bins[:, start:stop] = count[:size].reshape(-1, n_cuts).T
        return bins


def _sparse_projections(n_cuts: int, n_features: int, seed: int) -> NDArray[np.float64]:
    """PyOD's draw: Gaussian vectors with all but ``int(sqrt(d))`` entries zeroed at random."""
    # The legacy RandomState, consumed in PyOD's order, gives PyOD's projections for a seed.
    rng = np.random.RandomState(seed)
    projections = rng.randn(n_cuts, n_features)
    n_zero = n_features - int(np.sqrt(n_features))
    for i in range(n_cuts):
        projections[i, rng.permutation(n_features)[:n_zero]] = 0.0
    return projections
