"""What kNN and LOF share: getting a neighbour graph for training rows and for new rows."""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors.base import Detector, Scores
from loghunt.errors import ConfigError
from loghunt.index.build import build_graph
from loghunt.index.graph import METRICS, NeighborGraph
from loghunt.index.neighbors import NeighborIndex


class NeighborDetector(Detector):
    """Base of detectors that score rows from their ``n_neighbors`` nearest training rows.

    ``fit`` takes the training rows' own graph (self excluded) or builds one with
    :func:`~loghunt.index.build_graph`; ``score`` takes the new rows' graph among the training
    (reference) rows or searches it in ``index_``. Subclasses implement ``_fit_graph`` and
    ``_score_graph`` on graphs already cut to ``n_neighbors_`` columns.
    """

    uses_neighbors: ClassVar[bool] = True
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "n_neighbors_",
        "n_reference_",
    )

    n_neighbors: int
    metric: str
    #: Index over the reference rows, shared with the graph it came from; None after
    #: ``from_arrays`` without an index (then ``score`` needs a graph).
    index_: NeighborIndex | None
    n_neighbors_: int
    n_reference_: int

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        data = self._validate_fit(X)
        self._check_params()
        if graph is None:
            self.n_neighbors_ = self._clamp(data.shape[0])
            self.index_, graph = build_graph(data, self.n_neighbors_, metric=self.metric)
        else:
            graph = self._check_train_graph(graph, data)
        self.n_reference_ = graph.n_reference or data.shape[0]
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = self._fit_graph(graph.head(self.n_neighbors_))
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        data = self._validate_score(X)
        if graph is None:
            if self.index_ is None:
                raise ConfigError(
                    f"{type(self).__name__} has no neighbour index (loaded without one); "
                    "pass graph=index.search(X, k)"
                )
            graph = self.index_.search(data, self.n_neighbors_)
        else:
            self._check_graph(graph, data.shape[0], self.n_reference_)
        return self._score_graph(graph.head(self.n_neighbors_))

    def learn(self, X: ArrayLike, *, in_index: bool = False) -> Self:
        """Add rows ``X`` to the reference set, so that later scores compare with them too.

        Novelty mode: learn events judged normal without refitting. Only the reference set
        grows; ``train_scores_`` (what scores are calibrated against) stays that of ``fit``.
        ``in_index=True`` says the rows were already appended to ``index_`` (an ensemble adds
        them once to the index its detectors share).
        """
        data = self._validate_score(X)
        if self.index_ is None:
            raise ConfigError(f"{type(self).__name__} has no neighbour index to learn into")
        if data.shape[0] == 0:
            return self
        n_old = self.n_reference_
        if not in_index:
            self.index_.add(data)
        if self.index_.n_reference_ != n_old + data.shape[0]:
            raise ConfigError(
                f"the index holds {self.index_.n_reference_} rows, expected {n_old} reference "
                f"rows plus {data.shape[0]} learned ones"
            )
        self._learn_rows(n_old)
        self.n_reference_ = n_old + data.shape[0]
        return self

    def _learn_rows(self, n_old: int) -> None:
        """Update fitted state for the reference rows from ``n_old`` on, just appended.

        k-NN distance needs nothing more: new rows score by searching the grown index.
        """

    @abstractmethod
    def _fit_graph(self, graph: NeighborGraph) -> Scores:
        """Store what scoring new rows needs; return the training rows' scores."""

    @abstractmethod
    def _score_graph(self, graph: NeighborGraph) -> Scores:
        """Scores of query rows from their neighbours among the reference rows."""

    @classmethod
    def from_arrays(
        cls,
        config: Mapping[str, Any],
        arrays: Mapping[str, NDArray[Any]],
        index: NeighborIndex | None = None,
    ) -> Self:
        """Restore a fitted detector; ``index`` is the saved index new rows are searched in."""
        detector = super().from_arrays(config, arrays)
        if index is not None and index.n_reference_ != detector.n_reference_:
            raise ConfigError(
                f"the index holds {index.n_reference_} rows, the detector was fitted on "
                f"{detector.n_reference_} reference rows"
            )
        detector.index_ = index
        return detector

    # -- validation ----------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(f"unknown metric {self.metric!r}; choose one of {list(METRICS)}")
        if not isinstance(self.n_neighbors, int | np.integer) or self.n_neighbors < 1:
            raise ConfigError(f"n_neighbors must be a positive integer, got {self.n_neighbors!r}")

    def _clamp(self, n_reference: int) -> int:
        """Warn-and-clamp ``n_neighbors`` to the other reference rows, like scikit-learn."""
        if self.n_neighbors > n_reference - 1:
            warnings.warn(
                f"n_neighbors ({self.n_neighbors}) is more than the {n_reference - 1} other "
                f"reference rows; n_neighbors_ is set to {n_reference - 1}",
                UserWarning,
                stacklevel=3,
            )
        return max(1, min(int(self.n_neighbors), n_reference - 1))

    def _check_train_graph(self, graph: NeighborGraph, data: NDArray[np.float32]) -> NeighborGraph:
        n_reference = graph.n_reference or data.shape[0]
        if graph.reference_rows is None and n_reference != data.shape[0]:
            raise ConfigError(
                f"the graph's reference set has {n_reference} rows, the training matrix "
                f"{data.shape[0]}: fit needs the training rows' own graph (index.self_graph)"
            )
        self.n_neighbors_ = self._clamp(n_reference)
        self._check_graph(graph, data.shape[0], n_reference)
        if graph.index is not None:
            self.index_ = graph.index
        else:
            # A bare graph (built elsewhere): index the reference rows so score() can search.
            rows = data if graph.reference_rows is None else data[graph.reference_rows]
            self.index_ = NeighborIndex(metric=self.metric, tune_k=self.n_neighbors_).fit(rows)
        return graph

    def _check_graph(self, graph: NeighborGraph, n_queries: int, n_reference: int) -> None:
        if graph.metric != self.metric:
            raise ConfigError(
                f"the graph uses metric {graph.metric!r}, {type(self).__name__} {self.metric!r}"
            )
        if graph.n_queries != n_queries:
            raise ConfigError(f"the graph has {graph.n_queries} rows, the matrix {n_queries}")
        if graph.k < self.n_neighbors_:
            raise ConfigError(
                f"the graph holds {graph.k} neighbours per row, {type(self).__name__} needs "
                f"{self.n_neighbors_}; build it with k >= {self.n_neighbors_}"
            )
        used = graph.indices[:, : self.n_neighbors_]
        if used.size and (used.min() < 0 or used.max() >= n_reference):
            raise ConfigError(f"the graph points outside the {n_reference} reference rows")
