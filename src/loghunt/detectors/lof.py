"""Local outlier factor: how much sparser a row's neighbourhood is than its neighbours' ones."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from loghunt.detectors._neighbors import NeighborDetector
from loghunt.detectors.base import Scores
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

#: Added to the mean reachability distance, as scikit-learn does: with more than k duplicate
#: rows that mean is 0, and the density is then capped at 1e10 instead of becoming infinite.
_DENSITY_GUARD = 1e-10


@register
class LOFDetector(NeighborDetector):
    """Local outlier factor (Breunig et al. 2000) from the shared neighbour graph.

    For reference row ``o``, ``k_distance(o)`` is the distance to its k-th neighbour. The
    reachability distance of ``p`` from ``o`` is ``max(d(p, o), k_distance(o))``; the local
    reachability density ``lrd(p)`` is the inverse of its mean over ``p``'s k neighbours; and
    ``LOF(p) = mean(lrd(o) for o in neighbours(p)) / lrd(p)``. The score is LOF itself: about 1
    inside a cluster, higher for rows in sparser places than their neighbours (the opposite
    sign of scikit-learn's ``negative_outlier_factor_``).

    Parameters
    ----------
    n_neighbors : int, default=20
        Neighbours per row. Clamped (with a warning) to the reference rows minus one.
    metric : {"l2", "cosine"}, default="l2"
        Distance of the neighbour search. Not ``"ip"``: reachability distances and densities
        need distances that are never negative.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        LOF of the training rows (each row's own match excluded).
    k_distance_ : ndarray of shape (n_reference,)
        k-distance of each reference row.
    lrd_ : ndarray of shape (n_reference,)
        Local reachability density of each reference row (capped at 1e10 for duplicates).
    n_neighbors_ : int
        Neighbours actually used.
    n_reference_ : int
        Number of reference rows.
    index_ : NeighborIndex or None
        Index searched for new rows when ``score`` gets no graph.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> X[0] = [6.0, 6.0]
    >>> det = LOFDetector(n_neighbors=10).fit(X)
    >>> int(np.argmax(det.train_scores_))
    0
    >>> bool(det.score([[0.0, 0.0]])[0] < 1.5 < det.score([[6.0, -6.0]])[0])
    True
    """

    name: ClassVar[str] = "lof"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        *NeighborDetector._fitted_attrs,
        "k_distance_",
        "lrd_",
    )

    k_distance_: NDArray[np.float64]
    lrd_: NDArray[np.float64]

    def __init__(self, n_neighbors: int = 20, metric: str = "l2") -> None:
        self.n_neighbors = n_neighbors
        self.metric = metric

    def _check_params(self) -> None:
        super()._check_params()
        if self.metric == "ip":
            raise ConfigError(
                "LOFDetector needs a non-negative distance: use metric='l2' or 'cosine' "
                "(on unit-length rows, cosine ranks neighbours as inner product does)"
            )

    def _fit_graph(self, graph: NeighborGraph) -> Scores:
        ref = graph.reference_rows
        ref_distances = graph.distances if ref is None else graph.distances[ref]
        ref_indices = graph.indices if ref is None else graph.indices[ref]
        self.k_distance_ = ref_distances[:, -1].astype(np.float64)
        self.lrd_ = self._density(ref_distances, ref_indices)
        # With a sampled reference, the other rows' densities come from the same formula.
        lrd = self.lrd_ if ref is None else self._density(graph.distances, graph.indices)
        return self._factor(graph.indices, lrd)

    def _score_graph(self, graph: NeighborGraph) -> Scores:
        return self._factor(graph.indices, self._density(graph.distances, graph.indices))

    def _density(
        self, distances: NDArray[np.float32], indices: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        reach = np.maximum(distances, self.k_distance_[indices])
        density: NDArray[np.float64] = 1.0 / (reach.mean(axis=1) + _DENSITY_GUARD)
        return density

    def _factor(self, indices: NDArray[np.int64], lrd: NDArray[np.float64]) -> Scores:
        factor: Scores = self.lrd_[indices].mean(axis=1) / lrd
        return factor
