"""k-nearest-neighbour distance: far from its nearest neighbours = anomalous."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from loghunt.detectors._neighbors import NeighborDetector
from loghunt.detectors.base import Scores
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

_METHODS = ("largest", "mean", "median")


@register
class KNNDetector(NeighborDetector):
    """Distance to the k nearest training rows (Ramaswamy et al. 2000; PyOD's ``KNN``).

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours to consider. Clamped (with a warning) to the number of reference rows
        minus one.
    method : {"largest", "mean", "median"}, default="largest"
        ``"largest"``: distance to the k-th neighbour; ``"mean"`` / ``"median"``: of the
        distances to all k.
    metric : {"l2", "cosine", "ip"}, default="l2"
        Distance of the neighbour search (see :class:`~loghunt.index.NeighborIndex`).

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows, each row's own match excluded.
    n_neighbors_ : int
        Neighbours actually used.
    n_reference_ : int
        Number of reference rows (all training rows, or the sample :func:`build_graph` drew).
    index_ : NeighborIndex or None
        Index searched for new rows when ``score`` gets no graph.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> X[0] = 8.0  # one far outlier
    >>> det = KNNDetector(n_neighbors=5).fit(X)
    >>> int(np.argmax(det.train_scores_))
    0
    >>> det.score(np.zeros((1, 3))) < det.score(np.full((1, 3), 8.0))
    array([ True])
    """

    name: ClassVar[str] = "knn"

    def __init__(self, n_neighbors: int = 10, method: str = "largest", metric: str = "l2") -> None:
        self.n_neighbors = n_neighbors
        self.method = method
        self.metric = metric

    def _check_params(self) -> None:
        super()._check_params()
        if self.method not in _METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose one of {list(_METHODS)}")

    def _fit_graph(self, graph: NeighborGraph) -> Scores:
        return self._score_graph(graph)

    def _score_graph(self, graph: NeighborGraph) -> Scores:
        distances = graph.distances.astype(np.float64)
        if self.method == "largest":
            return distances[:, -1]
        aggregate = np.mean if self.method == "mean" else np.median
        scores: Scores = aggregate(distances, axis=1)
        return scores
