"""Cluster distance: far from the nearest k-means centroid (relative to its cluster) = anomalous."""

from __future__ import annotations

import warnings
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score

from loghunt.detectors.base import SCORE_CHUNK_ROWS, Detector, Scores
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

#: Candidate cluster counts for ``n_clusters="auto"`` and the rows silhouette is measured on.
_AUTO_CANDIDATES = (2, 4, 8, 16, 32)
_AUTO_SAMPLE_ROWS = 5_000
#: Clusters holding less than this share of an average cluster's rows are dropped.
_SMALL_CLUSTER_SHARE = 0.1


@register
class KMeansDetector(Detector):
    """Distance to the nearest k-means centroid, optionally in units of that cluster's spread.

    Up to 50,000 rows, scikit-learn's ``KMeans`` learns the centroids from all rows; above
    that, ``MiniBatchKMeans`` learns them from a random sample of 100,000 rows (centroids
    settle long before every row has been seen). Every row is then scored.

    Clusters with less than a tenth of an average cluster's rows are dropped (as CBLOF treats
    small clusters): a handful of outliers that k-means gives a centroid of their own would
    otherwise sit at distance 0 from it and look perfectly normal.

    Parameters
    ----------
    n_clusters : int or "auto", default=8
        Number of clusters. ``"auto"`` picks the best silhouette among 2, 4, 8, 16 and 32 on a
        sample of 5,000 rows. Clamped (with a warning) to the number of distinct rows.
    normalize : bool, default=True
        Divide each distance by the median distance of its cluster's training rows, so that
        a row at the edge of a wide cluster is not scored as far as one outside a tight one.
    random_state : int, default=0
        Seed of the sample and of k-means.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    cluster_centers_ : ndarray of shape (n_clusters_, n_features)
        Centroids of the clusters kept.
    cluster_scale_ : ndarray of shape (n_clusters_,)
        Median distance of each cluster's training rows to its centroid (1 when not
        normalising; never 0).
    n_clusters_ : int
        Clusters k-means was run with (before small clusters were dropped).
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(10, 1, (200, 2))])
    >>> det = KMeansDetector(n_clusters=2).fit(X)
    >>> bool(det.score([[5.0, 5.0]])[0] > det.score([[0.0, 0.0]])[0])
    True
    """

    name: ClassVar[str] = "kmeans"
    #: Most rows full ``KMeans`` learns from; ``MiniBatchKMeans`` above (the planner reads
    #: this to probe small subsamples with the solver of the full run).
    max_exact: ClassVar[int] = 50_000
    #: Rows the centroids are learnt from (a random sample above); every row is still scored.
    fit_sample_rows: ClassVar[int] = 100_000
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "cluster_centers_",
        "cluster_scale_",
        "n_clusters_",
    )

    cluster_centers_: NDArray[np.float64]
    cluster_scale_: NDArray[np.float64]
    n_clusters_: int

    def __init__(
        self, n_clusters: int | str = 8, normalize: bool = True, random_state: int = 0
    ) -> None:
        self.n_clusters = n_clusters
        self.normalize = normalize
        self.random_state = random_state

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        self._check_params()
        data = self._validate_fit(X)
        rng = np.random.default_rng(self.random_state)
        sample = _sample_rows(data, self.fit_sample_rows, rng)
        self.n_clusters_ = self._resolve_n_clusters(sample, rng)
        # float64 centroids: duplicate rows then sit at distance 0, not at float32 noise.
        model = self._kmeans(len(sample)).fit(sample.astype(np.float64))
        sizes = np.bincount(model.labels_, minlength=self.n_clusters_)
        large = sizes >= _SMALL_CLUSTER_SHARE * len(sample) / self.n_clusters_
        self.cluster_centers_ = model.cluster_centers_[large].astype(np.float64)
        self.cluster_scale_ = np.ones(len(self.cluster_centers_))
        distance, label = self._nearest(data)
        if self.normalize:
            # float32 input carries ~7 digits: spreads below that are rounding, not spread.
            noise = 1e-6 * max(1.0, float(np.abs(self.cluster_centers_).max()))
            self.cluster_scale_ = _cluster_scale(distance, label, len(self.cluster_centers_), noise)
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = distance / self.cluster_scale_[label]
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        distance, label = self._nearest(self._validate_score(X))
        scores: Scores = distance / self.cluster_scale_[label]
        return scores

    def _check_params(self) -> None:
        valid = self.n_clusters == "auto" or (
            isinstance(self.n_clusters, int | np.integer)
            and not isinstance(self.n_clusters, bool)
            and self.n_clusters >= 1
        )
        if not valid:
            raise ConfigError(
                f"n_clusters must be a positive integer or 'auto', got {self.n_clusters!r}"
            )

    def _kmeans(self, n_rows: int) -> KMeans | MiniBatchKMeans:
        if n_rows > self.max_exact:
            return MiniBatchKMeans(
                n_clusters=self.n_clusters_,
                batch_size=4_096,
                n_init=3,
                random_state=self.random_state,
            )
        return KMeans(n_clusters=self.n_clusters_, n_init=3, random_state=self.random_state)

    def _resolve_n_clusters(self, sample: NDArray[np.float32], rng: np.random.Generator) -> int:
        # k-means cannot find more clusters than distinct rows (scikit-learn then warns).
        distinct = _count_distinct_rows(sample)
        if self.n_clusters == "auto":
            return _best_silhouette(sample, distinct, rng, self.random_state)
        wanted = int(self.n_clusters)
        if wanted > distinct:
            warnings.warn(
                f"n_clusters ({wanted}) is more than the {distinct} distinct rows; "
                f"n_clusters_ is set to {distinct}",
                UserWarning,
                stacklevel=3,
            )
        return min(wanted, distinct)

    def _nearest(self, data: NDArray[np.float32]) -> tuple[Scores, NDArray[np.intp]]:
        """Euclidean distance to, and index of, each row's nearest centroid (row blocks)."""
        centers = self.cluster_centers_
        centers32 = centers.astype(np.float32)
        half_sq = 0.5 * np.einsum("ij,ij->i", centers32, centers32)
        distance = np.empty(data.shape[0], dtype=np.float64)
        label = np.empty(data.shape[0], dtype=np.intp)
        for start in range(0, data.shape[0], SCORE_CHUNK_ROWS):
            block = data[start : start + SCORE_CHUNK_ROWS]
            # argmin |x - c|^2 = argmin (|c|^2 / 2 - x.c): one float32 GEMM picks the centroid.
            nearest = np.argmin(half_sq - block @ centers32.T, axis=1)
            stop = start + len(block)
            label[start:stop] = nearest
            # That expansion cancels badly near a centroid; measure the winner directly.
            distance[start:stop] = np.linalg.norm(block - centers[nearest], axis=1)
        return distance, label


def _sample_rows(
    data: NDArray[np.float32], size: int, rng: np.random.Generator
) -> NDArray[np.float32]:
    if data.shape[0] <= size:
        return data
    return data[np.sort(rng.choice(data.shape[0], size, replace=False))]


def _count_distinct_rows(data: NDArray[np.float32]) -> int:
    rows = np.ascontiguousarray(data).view(np.dtype((np.void, data.dtype.itemsize * data.shape[1])))
    return len(np.unique(rows))


def _best_silhouette(
    sample: NDArray[np.float32], distinct: int, rng: np.random.Generator, seed: int
) -> int:
    small = _sample_rows(sample, _AUTO_SAMPLE_ROWS, rng)
    candidates = [k for k in _AUTO_CANDIDATES if k < min(distinct, len(small))]
    if not candidates:
        return max(1, min(distinct, len(small)))
    best_k, best = candidates[0], -np.inf
    for k in candidates:
        labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(small)
        if len(np.unique(labels)) < 2:
            continue
        value = float(silhouette_score(small, labels))
        if value > best:
            best_k, best = k, value
    return best_k


def _cluster_scale(
    distance: Scores, label: NDArray[np.intp], n_clusters: int, noise: float
) -> Scores:
    """Median member distance per cluster; empty clusters and clusters without spread (above
    ``noise``) borrow the overall median distance (or 1), so dividing by the scale is safe."""
    scale = np.zeros(n_clusters)
    for cluster in range(n_clusters):
        members = distance[label == cluster]
        if members.size:
            scale[cluster] = np.median(members)
    spread = distance[distance > noise]
    fallback = float(np.median(spread)) if spread.size else 1.0
    return np.where(scale > noise, scale, fallback)
