"""Run several detectors over one matrix, sharing one neighbour search among them."""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors import detector_class, make_detector
from loghunt.detectors._neighbors import NeighborDetector
from loghunt.detectors.base import Detector, check_matrix
from loghunt.ensemble.presets import DEFAULT_N_NEIGHBORS, DetectorSpec, parse_detector_spec
from loghunt.errors import ConfigError, NotFittedError
from loghunt.index import NeighborIndex, build_graph
from loghunt.index.graph import NeighborGraph

Scores = NDArray[np.float64]
#: Key of the shared neighbour search in ``fit_seconds_``.
GRAPH_LABEL = "neighbour graph"


class DetectorEnsemble:
    """Fit and score a list of registered detectors on one feature matrix.

    Every neighbour-based detector (k-NN distance, LOF) reads the same k-nearest-neighbour
    graph, built once by FAISS for the largest ``n_neighbors`` any of them needs.

    Parameters
    ----------
    detectors : detector specs: registry keys such as ``("knn", "lof", "iforest")``, or
        labelled ones such as ``"lof35=lof(n_neighbors=35)"`` (see :mod:`.presets`).
    n_neighbors : neighbours for every neighbour-based detector unless overridden.
    metric : distance of the shared graph: ``"l2"``, ``"cosine"`` or ``"ip"``.
    detector_params : per-label keyword overrides, e.g. ``{"lof": {"n_neighbors": 35}}``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
    >>> ens = DetectorEnsemble(("knn", "iforest")).fit(X)
    >>> sorted(ens.train_scores_)
    ['iforest', 'knn']
    """

    def __init__(
        self,
        detectors: Sequence[str] = ("knn", "lof", "iforest"),
        n_neighbors: int = DEFAULT_N_NEIGHBORS,
        metric: str = "l2",
        random_state: int = 0,
        detector_params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.detectors = tuple(detectors)
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.random_state = random_state
        self.detector_params = dict(detector_params or {})

    def fit(self, X: ArrayLike) -> DetectorEnsemble:
        data = check_matrix(X)
        if not self.detectors:
            raise ConfigError("choose at least one detector")
        specs = [parse_detector_spec(text) for text in self.detectors]
        labels = [s.label for s in specs]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"detector labels must be unique, got {labels}")
        self.detectors_ = {spec.label: self._make(spec) for spec in specs}
        self.k_ = max(
            (_n_neighbors(d) for d in self.detectors_.values() if self._shares_graph(d)),
            default=0,
        )
        graph: NeighborGraph | None = None
        self.index_: NeighborIndex | None = None
        #: Seconds spent per detector label, plus GRAPH_LABEL for the shared search.
        self.fit_seconds_: dict[str, float] = {}
        if self.k_:
            self.k_ = min(self.k_, data.shape[0] - 1)
            started = time.perf_counter()
            self.index_, graph = build_graph(
                data, self.k_, metric=self.metric, random_state=self.random_state
            )
            self.fit_seconds_[GRAPH_LABEL] = time.perf_counter() - started
        self.train_scores_ = {}
        for label, det in self.detectors_.items():
            started = time.perf_counter()
            det.fit(data, graph=graph if self._shares_graph(det) else None)
            self.train_scores_[label] = det.train_scores_
            self.fit_seconds_[label] = time.perf_counter() - started
        self.n_features_in_ = data.shape[1]
        return self

    def score(self, X: ArrayLike) -> dict[str, Scores]:
        """Raw scores of new rows per detector (their neighbours searched once)."""
        data = self._check_rows(X)
        graph = self.index_.search(data, self.k_) if self.index_ is not None else None
        return {
            name: det.score(data, graph=graph if self._shares_graph(det) else None)
            for name, det in self.detectors_.items()
        }

    def learn(self, X: ArrayLike) -> int:
        """Novelty update: add rows to the reference set of every neighbour detector.

        The shared index gets the rows once; a neighbour detector with its own index (another
        metric) adds them to it. Detectors without a reference set (Isolation Forest, ECOD,
        ...) keep their fitted state, as do all ``train_scores_``. Returns the rows added: 0
        when no detector has a reference set.
        """
        data = self._check_rows(X)
        learners = [d for d in self.detectors_.values() if isinstance(d, NeighborDetector)]
        if not learners or data.shape[0] == 0:
            return 0
        if self.index_ is not None:
            self.index_.add(data)
        for det in learners:
            det.learn(data, in_index=det.index_ is not None and det.index_ is self.index_)
        return int(data.shape[0])

    def shares_index(self, label: str) -> bool:
        """Whether detector ``label`` searches the ensemble's shared ``index_``."""
        detector = self.detectors_[label]
        return self.index_ is not None and getattr(detector, "index_", None) is self.index_

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-serialisable."""
        return {
            "detectors": list(self.detectors),
            "n_neighbors": self.n_neighbors,
            "metric": self.metric,
            "random_state": self.random_state,
            "detector_params": {k: dict(v) for k, v in self.detector_params.items()},
        }

    @classmethod
    def from_fitted(
        cls,
        config: Mapping[str, Any],
        detectors: Mapping[str, Detector],
        index: NeighborIndex | None,
        k: int,
        fit_seconds: Mapping[str, float] | None = None,
    ) -> DetectorEnsemble:
        """An ensemble from already fitted members (a saved model), ready to score.

        ``index`` is the shared index that the members whose ``index_`` is it search.
        """
        ensemble = cls(**config)
        if not detectors:
            raise ConfigError("a fitted ensemble needs at least one detector")
        widths = {d.n_features_in_ for d in detectors.values()}
        if len(widths) != 1:
            raise ConfigError(f"the detectors were fitted on different widths: {sorted(widths)}")
        ensemble.detectors_ = dict(detectors)
        ensemble.index_ = index
        ensemble.k_ = k
        ensemble.fit_seconds_ = dict(fit_seconds or {})
        ensemble.train_scores_ = {n: d.train_scores_ for n, d in detectors.items()}
        ensemble.n_features_in_ = widths.pop()
        return ensemble

    def _check_rows(self, X: ArrayLike) -> NDArray[np.float32]:
        if not hasattr(self, "detectors_"):
            raise NotFittedError("DetectorEnsemble is not fitted; call fit first")
        data = check_matrix(X)
        if data.shape[1] != self.n_features_in_:
            raise ConfigError(
                f"the ensemble was fitted on {self.n_features_in_} features, got {data.shape[1]}"
            )
        return data

    def _make(self, spec: DetectorSpec) -> Detector:
        """The detector with the ensemble's shared settings unless overridden for it."""
        cls = detector_class(spec.name)
        params: dict[str, Any] = {**spec.params, **self.detector_params.get(spec.label, {})}
        accepted = set(inspect.signature(cls.__init__).parameters)
        if cls.uses_neighbors:
            params.setdefault("n_neighbors", self.n_neighbors)
            params.setdefault("metric", self.metric)
        if "random_state" in accepted:
            params.setdefault("random_state", self.random_state)
        return make_detector(spec.name, **params)

    def _shares_graph(self, detector: Detector) -> bool:
        """Neighbour detectors on the ensemble's metric read the shared graph."""
        return detector.uses_neighbors and getattr(detector, "metric", None) == self.metric


def _n_neighbors(detector: Detector) -> int:
    return int(getattr(detector, "n_neighbors", 0))
