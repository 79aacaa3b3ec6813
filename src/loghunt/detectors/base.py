"""The detector contract (see DESIGN.md): fit -> self, score -> float64, higher = more anomalous."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.errors import ConfigError, NotFittedError
from loghunt.index._validation import check_matrix
from loghunt.index.graph import NeighborGraph

Scores = NDArray[np.float64]
#: Rows scored per block by detectors whose scoring needs (rows x something) scratch memory.
SCORE_CHUNK_ROWS = 65_536

__all__ = ["SCORE_CHUNK_ROWS", "Detector", "Scores", "check_matrix", "score_in_chunks"]


class Detector(ABC):
    """Base class of every detector.

    Subclasses store their keyword arguments in ``__init__`` and nothing else, validate in
    ``fit``, keep fitted state in attributes ending in ``_``, and never mutate themselves while
    scoring. ``train_scores_`` holds the scores of the training rows (for neighbour-based
    detectors: each row scored without itself).

    Fitted state listed in ``_fitted_attrs`` round-trips through :meth:`to_arrays` and
    :meth:`from_arrays` (plain arrays, saved as ``.npy`` by the caller, never pickled).
    """

    name: ClassVar[str] = ""
    #: True when the detector can reuse a precomputed :class:`NeighborGraph`.
    uses_neighbors: ClassVar[bool] = False
    #: Fitted attributes that :meth:`to_arrays` writes and :meth:`from_arrays` restores.
    _fitted_attrs: ClassVar[tuple[str, ...]] = ("train_scores_", "n_features_in_")
    #: False when fitting draws from process-wide state (the global NumPy or torch random
    #: generator): such detectors are fitted one after another, never beside each other.
    fits_in_threads: ClassVar[bool] = True

    train_scores_: Scores
    n_features_in_: int

    def fit_score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        """Fit on ``X`` and return the scores of its rows (``train_scores_``)."""
        return self.fit(X, graph=graph).train_scores_

    @abstractmethod
    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        """Learn what normal looks like from ``X`` (unlabelled; may contain anomalies).

        ``graph`` is the training rows' own neighbour graph (self excluded); detectors that do
        not use neighbours ignore it.
        """

    @abstractmethod
    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        """Score new rows; ``graph`` holds their neighbours among the training rows."""

    # -- configuration and arrays (for saving without pickle) -------------------------------
    def get_config(self) -> dict[str, Any]:
        """The constructor's keyword arguments and their values (JSON-serialisable)."""
        return {name: getattr(self, name) for name in _init_params(type(self))}

    def to_arrays(self) -> dict[str, NDArray[Any]]:
        """Fitted state as named arrays (names without the trailing ``_``)."""
        self._check_fitted()
        return {attr.rstrip("_"): np.asarray(getattr(self, attr)) for attr in self._fitted_attrs}

    @classmethod
    def from_arrays(cls, config: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> Self:
        """A fitted detector from :meth:`get_config` and :meth:`to_arrays` output."""
        try:
            detector = cls(**config)
        except TypeError as exc:
            raise ConfigError(f"{cls.__name__} cannot take this configuration: {exc}") from exc
        for attr in cls._fitted_attrs:
            key = attr.rstrip("_")
            if key not in arrays:
                raise ConfigError(f"{cls.__name__}: saved arrays lack {key!r}")
            value = np.asarray(arrays[key])
            # 0-d arrays hold scalars (n_features_in_, n_neighbors_): restore plain Python values.
            setattr(detector, attr, value.item() if value.ndim == 0 else value)
        return detector

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

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def score_in_chunks(
    data: NDArray[np.float32],
    scorer: Callable[[NDArray[np.float32]], Scores],
    chunk_rows: int = SCORE_CHUNK_ROWS,
) -> Scores:
    """Apply ``scorer`` to blocks of rows so that its scratch memory stays bounded."""
    out = np.empty(data.shape[0], dtype=np.float64)
    for start in range(0, data.shape[0], chunk_rows):
        stop = min(data.shape[0], start + chunk_rows)
        out[start:stop] = scorer(data[start:stop])
    return out


def _init_params(cls: type) -> list[str]:
    params = inspect.signature(cls.__init__).parameters.values()  # type: ignore[misc]
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.name != "self" and p.kind in kinds]
