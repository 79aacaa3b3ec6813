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
from loghunt.index.neighbors import NeighborIndex

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

    def _learn_rows(self, n_old: int) -> None:
        """k-distances and densities after reference rows ``n_old:`` were appended.

        Exact incremental LOF (as in Pokrajac et al. 2007): a learned row can shorten the
        k-distance of the rows it lands near, and a changed k-distance changes the density of
        every row that has that row among its neighbours. Only those rows are searched again,
        and the result equals a fit on the grown reference set (up to the index's own
        approximation). A batch that touches most rows costs about a refit of the graph.
        """
        index = self.index_
        assert index is not None  # learn() checked it
        rows = index.reconstruct(0, index.n_reference_)
        moved, changed = self._grow_k_distance(index, rows, n_old)
        stale = np.union1d(moved, _within_reach(index, rows, self.k_distance_, rows[changed]))
        graph = _search_rows(index, rows, stale, self.n_neighbors_)
        lrd = np.concatenate([self.lrd_, np.zeros(len(rows) - n_old)])
        lrd[stale] = self._density(graph.distances, graph.indices)
        self.lrd_ = lrd

    def _grow_k_distance(
        self, index: NeighborIndex, rows: NDArray[np.float32], n_old: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Extend ``k_distance_`` to the appended rows; return the rows searched again and
        those whose k-distance changed (appended rows included)."""
        added = np.arange(n_old, len(rows), dtype=np.int64)
        near = _within_reach(index, rows[:n_old], self.k_distance_, rows[added])
        moved = np.union1d(near, added)
        before = np.concatenate([self.k_distance_, np.full(len(added), np.nan)])
        after = before.copy()
        after[moved] = _search_rows(index, rows, moved, self.n_neighbors_).distances[:, -1]
        self.k_distance_ = after
        return moved, moved[after[moved] != before[moved]]  # NaN != x: appended rows count

    def _density(
        self, distances: NDArray[np.float32], indices: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        reach = np.maximum(distances, self.k_distance_[indices])
        density: NDArray[np.float64] = 1.0 / (reach.mean(axis=1) + _DENSITY_GUARD)
        return density

    def _factor(self, indices: NDArray[np.int64], lrd: NDArray[np.float64]) -> Scores:
        factor: Scores = self.lrd_[indices].mean(axis=1) / lrd
        return factor


#: Above this share of the rows, a "who is near these targets" search costs about as much as
#: searching every row again, so every row is returned (a superset is always correct).
_FULL_SEARCH_SHARE = 0.05
#: Slack on "within k-distance": distances from differently batched searches differ in the
#: last bits, and taking a row too many only costs one search.
_REACH_SLACK = 1e-5


def _within_reach(
    index: NeighborIndex,
    rows: NDArray[np.float32],
    k_distance: NDArray[np.float64],
    targets: NDArray[np.float32],
) -> NDArray[np.int64]:
    """Numbers of ``rows`` that have one of ``targets`` within their k-distance."""
    if len(targets) == 0:
        return np.empty(0, dtype=np.int64)
    if len(targets) > _FULL_SEARCH_SHARE * len(rows):
        return np.arange(len(rows), dtype=np.int64)
    nearest = NeighborIndex(metric=index.metric, method="exact").fit(targets).search(rows, 1)
    reach = k_distance * (1.0 + _REACH_SLACK) + _REACH_SLACK
    return np.flatnonzero(nearest.distances[:, 0] <= reach).astype(np.int64)


def _search_rows(
    index: NeighborIndex, rows: NDArray[np.float32], which: NDArray[np.int64], k: int
) -> NeighborGraph:
    """Neighbours of reference rows ``which`` among all reference rows, themselves excluded."""
    return index.search_excluding(lambda start, stop: rows[which[start:stop]], which, k)
