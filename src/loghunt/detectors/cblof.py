"""CBLOF: rows far from the large k-means clusters are anomalous."""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from loghunt.detectors.base import SCORE_CHUNK_ROWS, Detector, Scores
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph


@register
class CBLOFDetector(Detector):
    """Cluster-based local outlier factor (He et al. 2003), as PyOD's ``CBLOF`` computes it.

    scikit-learn's ``KMeans`` (PyOD's default clustering, same seed, same settings) splits the
    rows into ``n_clusters`` clusters. Sorted by size, the clusters are cut into large and
    small where the large ones first hold ``alpha`` of the rows and, if possible, where a
    cluster is at least ``beta`` times the size of the next one (PyOD's rule). A row's score
    is its distance to its own cluster's centre when that cluster is large, and to the nearest
    large centre when it is small: both are the distance to the nearest *large* centre, which
    is how it is computed here. With ``use_weights`` the distance is multiplied by the size
    of the row's cluster (the original paper's weighting).

    Up to ``max_samples`` rows the clustering sees every row and the scores equal PyOD's for
    the same ``random_state``; above that k-means learns the centres from a seeded sample
    (k-means at 300,000 rows takes ~10x longer for centres that barely move) and every row is
    then assigned and scored. When no cut satisfies either rule (PyOD raises), or there is a
    single cluster, every cluster counts as large.

    Parameters
    ----------
    n_clusters : int, default=8
        Clusters. Clamped (with a warning) to the number of distinct rows.
    alpha : float, default=0.9
        Share of the rows the large clusters must hold, in (0, 1).
    beta : float, default=5
        Size ratio between the last large and the first small cluster, above 1.
    use_weights : bool, default=False
        Multiply each distance by the size of the row's cluster.
    max_samples : int, default=20000
        Rows k-means learns the centres from (all rows when fewer).
    random_state : int, default=0
        Seed of k-means and of the sample.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
        Centres of all clusters.
    cluster_sizes_ : ndarray of shape (n_clusters_,)
        Training rows nearest to each centre.
    large_clusters_ : ndarray of shape (n_clusters_,)
        True for the large clusters.
    n_clusters_ : int
        Clusters k-means was run with.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(8, 1, (300, 2))])
    >>> det = CBLOFDetector(n_clusters=4).fit(X)
    >>> bool(det.score([[4.0, 4.0]])[0] > det.score([[0.0, 0.0]])[0])
    True
    """

    name: ClassVar[str] = "cblof"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "cluster_centers_",
        "cluster_sizes_",
        "large_clusters_",
        "n_clusters_",
    )

    cluster_centers_: NDArray[np.float64]
    cluster_sizes_: NDArray[np.int64]
    large_clusters_: NDArray[np.bool_]
    n_clusters_: int

    def __init__(
        self,
        n_clusters: int = 8,
        alpha: float = 0.9,
        beta: float = 5.0,
        use_weights: bool = False,
        max_samples: int = 20_000,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.alpha = alpha
        self.beta = beta
        self.use_weights = use_weights
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        self._check_params()
        data = self._validate_fit(X)
        sample = data
        if data.shape[0] > self.max_samples:
            rng = np.random.default_rng(self.random_state)
            sample = data[np.sort(rng.choice(data.shape[0], self.max_samples, replace=False))]
        self.n_clusters_ = self._clamp(sample)
        # float64 as PyOD feeds KMeans, so that the same seed gives the same clusters.
        model = KMeans(n_clusters=self.n_clusters_, random_state=self.random_state)
        self.cluster_centers_ = model.fit(sample.astype(np.float64)).cluster_centers_
        # One pass ranks every row's centres; the sizes (hence the large clusters) follow from
        # the nearest ones, and the train scores from the same ranking.
        closeness = self._closeness(data)
        label = np.argmin(closeness, axis=1)
        self.cluster_sizes_ = np.bincount(label, minlength=self.n_clusters_).astype(np.int64)
        self.large_clusters_ = _large_clusters(self.cluster_sizes_, self.alpha, self.beta)
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = self._weighted(self._nearest_large(data, closeness, label), label)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return self._weighted(*self._nearest(self._validate_score(X)))

    def _check_params(self) -> None:
        for key, low in (("n_clusters", 1), ("max_samples", 2)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"alpha must lie in (0, 1), got {self.alpha!r}")
        if not self.beta > 1.0:
            raise ConfigError(f"beta must be above 1, got {self.beta!r}")

    def _clamp(self, sample: NDArray[np.float32]) -> int:
        # k-means cannot find more clusters than distinct rows (scikit-learn then warns).
        # Counting them sorts every row; the first few rows usually hold enough distinct ones.
        distinct = len(np.unique(sample[: 16 * self.n_clusters], axis=0))
        if distinct < self.n_clusters:
            distinct = len(np.unique(sample, axis=0))
        if self.n_clusters > distinct:
            warnings.warn(
                f"n_clusters ({self.n_clusters}) is more than the {distinct} distinct rows; "
                f"n_clusters_ is set to {distinct}",
                UserWarning,
                stacklevel=3,
            )
        return min(int(self.n_clusters), distinct)

    def _weighted(self, distance: Scores, label: NDArray[np.intp]) -> Scores:
        if self.use_weights:
            distance *= self.cluster_sizes_[label]
        return distance

    def _nearest(self, data: NDArray[np.float32]) -> tuple[Scores, NDArray[np.intp]]:
        """Distance to the nearest large centre, and the nearest centre of all."""
        closeness = self._closeness(data)
        label = np.argmin(closeness, axis=1)
        return self._nearest_large(data, closeness, label), label

    def _closeness(self, data: NDArray[np.float32]) -> NDArray[np.float64]:
        """``|c|^2 / 2 - x.c`` for every row and centre: its argmin is the nearest centre."""
        centers = self.cluster_centers_
        half_sq = 0.5 * np.einsum("ij,ij->i", centers, centers)
        out = np.empty((data.shape[0], len(centers)), dtype=np.float64)
        # A thin product (few centres): a second BLAS thread only waits on busy cores.
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, data.shape[0], SCORE_CHUNK_ROWS):
                block = data[start : start + SCORE_CHUNK_ROWS].astype(np.float64)
                out[start : start + len(block)] = half_sq - block @ centers.T
        return out

    def _nearest_large(
        self, data: NDArray[np.float32], closeness: NDArray[np.float64], label: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """Distance of each row to its nearest large centre, given its nearest centre."""
        large = np.flatnonzero(self.large_clusters_)
        winner = label.copy()
        # A row whose nearest centre is large has found it; the others search the large ones.
        small = np.flatnonzero(~self.large_clusters_[label])
        winner[small] = large[np.argmin(closeness[np.ix_(small, large)], axis=1)]
        distance = np.empty(data.shape[0], dtype=np.float64)
        for start in range(0, data.shape[0], SCORE_CHUNK_ROWS):
            stop = min(data.shape[0], start + SCORE_CHUNK_ROWS)
            # The expansion cancels badly near a centre; measure the winner directly.
            offset = data[start:stop] - self.cluster_centers_[winner[start:stop]]
            distance[start:stop] = np.sqrt(np.square(offset, out=offset).sum(axis=1))
        return distance


def _large_clusters(sizes: NDArray[np.int64], alpha: float, beta: float) -> NDArray[np.bool_]:
    """PyOD's cut: the first size-sorted position meeting both rules, else alpha's, else beta's."""
    order = np.argsort(sizes * -1)  # PyOD's call: ties fall the same way
    ordered = sizes[order].astype(np.float64)
    cuts = np.arange(1, len(sizes))
    by_alpha = np.cumsum(ordered)[:-1] >= sizes.sum() * alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        by_beta = ordered[:-1] / ordered[1:] >= beta  # an empty next cluster: ratio inf
    for rule in (by_alpha & by_beta, by_alpha, by_beta):
        if rule.any():
            large = np.zeros(len(sizes), dtype=bool)
            large[order[: cuts[rule][0]]] = True
            return large
    return np.ones(len(sizes), dtype=bool)
