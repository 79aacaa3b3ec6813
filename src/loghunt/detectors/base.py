"""The detector contract (see DESIGN.md): fit -> self, score -> float64, higher = more anomalous."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.errors import ConfigError, NotFittedError
from loghunt.index.graph import NeighborGraph

Scores = NDArray[np.float64]


class Detector(ABC):
    """Base class of every detector.

    Subclasses store their keyword arguments in ``__init__`` and nothing else, validate in
    ``fit``, keep fitted state in attributes ending in ``_``, and never mutate themselves while
    scoring. ``train_scores_`` holds the scores of the training rows (for neighbour-based
    detectors: each row scored without itself).
    """

    name: ClassVar[str] = ""
    #: True when the detector can reuse a precomputed :class:`NeighborGraph`.
    uses_neighbors: ClassVar[bool] = False

    train_scores_: Scores
    n_features_in_: int

    def fit_score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        """Fit on ``X`` and return the scores of its rows (``train_scores_``)."""
        return self.fit(X, graph=graph).train_scores_

    @abstractmethod
    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Detector:
        """Learn what normal looks like from ``X`` (unlabelled; may contain anomalies).

        ``graph`` is the training rows' own neighbour graph (self excluded); detectors that do
        not use neighbours ignore it.
        """

    @abstractmethod
    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        """Score new rows; ``graph`` holds their neighbours among the training rows."""

    # -- helpers shared by subclasses -------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "train_scores_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first")

    def _validate_fit(self, X: ArrayLike) -> NDArray[np.float32]:
        data = check_matrix(X)
        if data.shape[0] < 2:
            raise ConfigError(f"{type(self).__name__} needs at least 2 rows, got {data.shape[0]}")
        return data

    def _validate_score(self, X: ArrayLike) -> NDArray[np.float32]:
        self._check_fitted()
        data = check_matrix(X)
        if data.shape[1] != self.n_features_in_:
            raise ConfigError(
                f"{type(self).__name__} was fitted on {self.n_features_in_} features, "
                f"got {data.shape[1]}"
            )
        return data


def check_matrix(X: ArrayLike) -> NDArray[np.float32]:
    """A finite, 2-D, C-contiguous float32 matrix, or a ConfigError saying what is wrong."""
    data = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    if data.ndim != 2:
        raise ConfigError(f"expected a 2-D matrix, got {data.ndim} dimension(s)")
    if data.shape[1] == 0:
        raise ConfigError("expected at least one feature column")
    if not np.isfinite(data).all():
        raise ConfigError("the matrix holds NaN or infinite values; impute them first")
    return data
