"""Run several detectors over one matrix, sharing one neighbour search among them."""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any, TypedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

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
#: Matrices with fewer cells (rows x features) fit one detector after another by default:
#: below ~50,000 rows of ~40 features, starting threads gains less than it costs.
PARALLEL_MIN_CELLS = 2_000_000
#: Most threads a default fit uses.
MAX_DEFAULT_JOBS = 4


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
    reference_size : most rows the shared neighbour index holds: every row up to it, a random
        sample of it above. Default: every row up to 200,000, a 100,000-row sample above
        (:func:`loghunt.index.build_graph`).
    n_jobs : threads that fit detectors side by side, each with one BLAS/OpenMP thread,
        once the shared graph is built (on every core). Default: one per core (at most
        :data:`MAX_DEFAULT_JOBS`) from :data:`PARALLEL_MIN_CELLS` matrix cells up, else 1.
        Scores do not depend on it (up to float rounding of multi-threaded BLAS), so it is
        not part of :meth:`get_config`. Scoring (:meth:`score`) is not threaded.

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
        n_jobs: int | None = None,
        reference_size: int | None = None,
    ) -> None:
        self.detectors = tuple(detectors)
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.random_state = random_state
        self.detector_params = dict(detector_params or {})
        self.n_jobs = n_jobs
        self.reference_size = reference_size

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
        self.index_: NeighborIndex | None = None
        #: Seconds spent per detector label, plus GRAPH_LABEL for the shared search: each
        #: step's own wall time (with ``n_jobs_ > 1``, detectors ran side by side).
        self.fit_seconds_: dict[str, float] = {}
        if self.k_:
            self.k_ = min(self.k_, data.shape[0] - 1)
        #: Threads the detectors were fitted on (1: one after another).
        self.n_jobs_ = self._resolve_jobs(data)
        graph: NeighborGraph | None = None
        #: Rows of the fit data that the shared index holds (None: all of them).
        self.reference_rows_: NDArray[np.int64] | None = None
        if self.k_:
            # The shared search comes first, on every core FAISS may use: its readers need
            # it, and it is the longest step (split among threads beside the detectors, a
            # one-thread search left the other cores idle once they were done).
            started = time.perf_counter()
            self.index_, graph = build_graph(
                data,
                self.k_,
                metric=self.metric,
                random_state=self.random_state,
                **_reference_rows(self.reference_size),
            )
            self.fit_seconds_[GRAPH_LABEL] = time.perf_counter() - started
            self.reference_rows_ = graph.reference_rows
        groups = self._groups()
        # BLAS on one thread: n_jobs_ workers then keep n_jobs_ cores busy without
        # oversubscribing them, and one after another the fits take what the planner's
        # probes measured (two BLAS threads on a busy 2-core host made PCA, OCSVM and
        # Mahalanobis fits 1.5-8x slower, at random).
        with threadpool_limits(limits=1, user_api="blas"):
            if self.n_jobs_ == 1:
                for group in groups:
                    self._fit_group(group, data, graph)
            else:
                # Each worker also runs its OpenMP calls on one thread (see _fit_group).
                with ThreadPoolExecutor(self.n_jobs_, thread_name_prefix="loghunt-fit") as pool:
                    jobs = [pool.submit(self._fit_group, g, data, graph, True) for g in groups]
                    for job in jobs:
                        job.result()
        # Reported in the detectors' order, whatever order they finished in.
        self.fit_seconds_ = {
            label: self.fit_seconds_[label]
            for label in (GRAPH_LABEL, *self.detectors_)
            if label in self.fit_seconds_
        }
        self.train_scores_ = {label: d.train_scores_ for label, d in self.detectors_.items()}
        self.n_features_in_ = data.shape[1]
        return self

    def _resolve_jobs(self, data: NDArray[np.float32]) -> int:
        """Threads for this fit: ``n_jobs``, or by default as many as cores for large data."""
        if self.n_jobs is not None:
            return max(1, int(self.n_jobs))
        if data.size < PARALLEL_MIN_CELLS or len(self.detectors_) < 2:
            return 1
        return max(1, min(_cores(), len(self.detectors_), MAX_DEFAULT_JOBS))

    def _groups(self) -> list[list[str]]:
        """Labels in groups fitted in order, each group by one worker.

        Detectors that must not run beside each other form the first group; every other
        detector is a group of its own, in the detectors' order except that those reading the
        shared graph come last: they take a fraction of a second, so ending on them keeps
        workers from idling while one finishes a long fit.
        """
        serial = [k for k, d in self.detectors_.items() if not d.fits_in_threads]
        rest = [k for k in self.detectors_ if k not in serial]
        readers = [k for k in rest if self._shares_graph(self.detectors_[k])]
        alone = [[k] for k in rest if k not in readers] + [[k] for k in readers]
        return [serial, *alone] if serial else alone

    def _fit_group(
        self,
        group: list[str],
        data: NDArray[np.float32],
        graph: NeighborGraph | None,
        worker: bool = False,
    ) -> None:
        """Fit one group of detectors, each timed on its own."""
        # A worker's OpenMP setting is its own (FAISS's included): one thread each.
        with threadpool_limits(limits=1, user_api="openmp") if worker else nullcontext():
            for label in group:
                started = time.perf_counter()
                det = self.detectors_[label]
                det.fit(data, graph=graph if self._shares_graph(det) else None)
                self.fit_seconds_[label] = time.perf_counter() - started

    def score(self, X: ArrayLike) -> dict[str, Scores]:
        """Raw scores of new rows per detector (their neighbours searched once)."""
        data = self._check_rows(X)
        graph = self.index_.search(data, self.k_) if self.index_ is not None else None
        return {
            name: det.score(data, graph=graph if self._shares_graph(det) else None)
            for name, det in self.detectors_.items()
        }

    def learn(self, X: ArrayLike, lists: NDArray[np.int64] | None = None) -> int:
        """Novelty update: add rows to the reference set of every neighbour detector.

        The shared index gets the rows once; a neighbour detector with its own index (another
        metric) adds them to it. Detectors without a reference set (Isolation Forest, ECOD,
        ...) keep their fitted state, as do all ``train_scores_``. Returns the rows added: 0
        when no detector has a reference set. ``lists``: the rows' IVF lists in the shared
        index, when known (:meth:`loghunt.index.NeighborIndex.lists_of`).
        """
        data = self._check_rows(X)
        learners = [d for d in self.detectors_.values() if isinstance(d, NeighborDetector)]
        if not learners or data.shape[0] == 0:
            return 0
        if self.index_ is not None:
            self.index_.add(data, lists)
        for det in learners:
            det.learn(data, in_index=det.index_ is not None and det.index_ is self.index_)
        return int(data.shape[0])

    def learned_rows(
        self, learned: int, skip: int = 0, count: int | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64] | None] | None:
        """The last ``learned`` rows of the shared index (what :meth:`learn` added) but their
        first ``skip``, at most ``count`` of them, and their IVF lists. None when there is no
        shared index, or when a member with its own index needs the rows as given and the
        shared one holds them otherwise (cosine: normalised; float16: rounded)."""
        index = self.index_
        if index is None or not 0 <= skip <= learned <= index.n_reference_:
            return None
        own_index = [
            label
            for label, det in self.detectors_.items()
            if isinstance(det, NeighborDetector) and not self.shares_index(label)
        ]
        if own_index and (index.metric == "cosine" or index.holds_float16):
            return None
        start = index.n_reference_ - learned + skip
        stop = index.n_reference_ if count is None else min(index.n_reference_, start + count)
        return index.reconstruct(start, stop), index.lists_of(start, stop)

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
            "reference_size": self.reference_size,
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
        # Which training rows a loaded index holds is not saved: None reads as all of them.
        ensemble.reference_rows_ = None
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


def _cores() -> int:
    """Cores this process may run on (containers restrict the affinity)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _n_neighbors(detector: Detector) -> int:
    return int(getattr(detector, "n_neighbors", 0))


class _ReferenceRows(TypedDict, total=False):
    reference_size: int
    reference_threshold: int


def _reference_rows(size: int | None) -> _ReferenceRows:
    """build_graph's arguments for a reference of at most ``size`` rows (None: its default)."""
    return {} if size is None else {"reference_size": size, "reference_threshold": size}
