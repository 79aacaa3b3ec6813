"""FAISS nearest-neighbour index: exact below a size threshold, tuned IVF or HNSW above it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

# FAISS's OpenMP threads otherwise spin at every barrier of its BLAS and k-means: on a busy
# 2-core host a spinning thread kept its sibling off the CPU, and the 300,000-row graph took
# 10-14 s (CPU time as high) instead of 5-7 s; idle, both policies take ~3.8 s. libgomp reads
# this once, when FAISS loads it (here, in every loghunt path); an explicit setting is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss
import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.errors import ConfigError, NotFittedError
from loghunt.index._validation import check_matrix
from loghunt.index.graph import METRICS, NeighborGraph
from loghunt.index.threads import blas_distances, search_threads

Int64s = NDArray[np.int64]
Float32s = NDArray[np.float32]

METHODS = ("auto", "exact", "ivf", "hnsw")
#: Queries per FAISS call: bounds the (chunk, k) result buffers and the exact-search scratch.
CHUNK_ROWS = 65_536
_HNSW_M = 32
_MAX_EF_SEARCH = 4_096
#: IVF searches of fewer rows are live batches: their rows' nearest lists are remembered.
_LIVE_MAX_QUERIES = 2_048
#: Rows of the latest live searches whose nearest IVF list is kept for learning them next:
#: a few batches, since a service scores several side by side before each learns.
_RECENT_ROWS = 8_192
#: FAISS's default mode parallelises search() above search_preassigned(), so a direct call
#: ran on one thread; mode 3 splits the queries among threads inside it (same results;
#: 65,536 queries: 0.44 s instead of 0.80 s on 2 cores). FAISS does not save the mode.
_IVF_PARALLEL_MODE = 3
#: IVF lists hold rows as float16 (distances are computed in float32 from them): the scan of
#: 1,000 live events against 1,000,000 rows of 81 columns took 54 -> 43 ms; k-NN scores
#: moved by at most 9e-4 (of 0.1-6.7) and the same 2,146 of 30,000 events were flagged.
#: FAISS's SIMD path for such codes needs a multiple of 8 columns: rows are padded with
#: zeros, which change no distance. Indexes saved with float32 lists still load.
_IVF_CODES = faiss.ScalarQuantizer.QT_fp16
_SIMD_COLUMNS = 8
#: float16 reaches 65,504 and the codes hold each row minus its list's centre: rows up to
#: this bound (so centres too) always fit. An index fitted on larger values keeps float32
#: lists; rows added later to a float16 one are clipped to it.
_FP16_SAFE = 32_000.0
_INDEX_FILE = "index.faiss"
_PARAMS_FILE = "index.json"
_ORDER_FILE = "order.npy"
_threads_set = False


def _use_all_cores() -> None:
    """Let FAISS use every core this process may run on (once; containers limit affinity)."""
    global _threads_set
    if not _threads_set:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        faiss.omp_set_num_threads(max(1, cores or os.cpu_count() or 1))
        _threads_set = True


class NeighborIndex:
    """Nearest-neighbour search over a set of reference rows, backed by FAISS.

    Parameters
    ----------
    metric : {"l2", "cosine", "ip"}, default="l2"
        ``"cosine"`` normalises rows (zero rows stay zero, at distance 1 from everything) and
        searches by inner product. Graph distances: l2 is Euclidean, cosine is ``1 - cos``,
        ip is ``-<q, r>`` (so that smaller is always nearer).
    method : {"auto", "exact", "ivf", "hnsw"}, default="auto"
        ``"auto"`` is exact search (``IndexFlat``) up to ``exact_threshold`` reference rows and
        IVF above it. IVF uses ``nlist ~ 4 * sqrt(n)`` lists; HNSW uses ``M = 32``.
    exact_threshold : int, default=50_000
        Largest reference set that ``"auto"`` searches exactly.
    target_recall : float, default=0.95
        For IVF and HNSW, ``nprobe`` / ``efSearch`` is raised until the recall measured against
        exact search on a sample of reference rows reaches this value.
    tune_k : int, default=20
        Number of neighbours the recall is tuned for (use the ``k`` you will search with).
    n_tune_queries : int, default=500
        Reference rows used as queries while tuning. IVF is tuned on them with each row's own
        match excluded; HNSW on rows held out of the graph until tuning is done, because a
        row that is in the graph is found (with its linked neighbours) far more easily than
        a new row.
    random_state : int, default=0
        Seed of the tuning sample, the IVF training sample and its k-means.

    Attributes
    ----------
    method_ : str
        The method actually used: ``"exact"``, ``"ivf"`` or ``"hnsw"``.
    recall_ : float
        Recall at ``tune_k`` measured after tuning (1.0 for exact search).
    nprobe_ : int or None
        IVF lists probed per query.
    ef_search_ : int or None
        HNSW ``efSearch``.
    n_reference_ : int
        Number of reference rows.
    n_features_in_ : int
        Number of columns.
    index_ : faiss.Index
        The FAISS index. IVF fitted on values within +-32,000 holds rows as float16 (see
        :attr:`holds_float16`), padded with zero columns to a multiple of 8.
    id_rows_ : ndarray of shape (n_reference_,) or None
        Reference row of each FAISS id when they differ (HNSW adds held-out rows last).

    Examples
    --------
    >>> import numpy as np
    >>> R = np.random.default_rng(0).normal(size=(100, 4)).astype("float32")
    >>> idx = NeighborIndex().fit(R)
    >>> g = idx.search(R[:3], k=2)
    >>> g.indices[:, 0].tolist()  # each row is its own nearest neighbour
    [0, 1, 2]
    >>> idx.self_graph(k=2).indices.shape
    (100, 2)
    """

    #: The FAISS index; Any because the method decides its class (flat, IVF or HNSW) and
    #: FAISS's stubs do not cover every attribute used here.
    index_: Any
    #: Columns of the rows FAISS holds: ``n_features_in_``, float16 IVF's padded to 8s.
    _width: int

    _fitted_scalars: ClassVar[tuple[str, ...]] = (
        "method_",
        "recall_",
        "nprobe_",
        "ef_search_",
        "n_reference_",
        "n_features_in_",
    )

    def __init__(
        self,
        metric: str = "l2",
        method: str = "auto",
        exact_threshold: int = 50_000,
        target_recall: float = 0.95,
        tune_k: int = 20,
        n_tune_queries: int = 500,
        random_state: int = 0,
    ) -> None:
        self.metric = metric
        self.method = method
        self.exact_threshold = exact_threshold
        self.target_recall = target_recall
        self.tune_k = tune_k
        self.n_tune_queries = n_tune_queries
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------
    def fit(self, R: ArrayLike) -> NeighborIndex:
        """Index the reference rows ``R`` (float32 matrix) and tune the search."""
        self._check_params()
        _use_all_cores()
        data = self._normalised(check_matrix(R))
        n, d = data.shape
        self.method_ = self._choose_method(n)
        float16 = self.method_ == "ivf" and _fits_float16(data)
        self._width = _float16_width(d) if float16 else d
        data = self._padded(data)
        self.nprobe_: int | None = None
        self.ef_search_: int | None = None
        self.recall_ = 1.0
        self.id_rows_: Int64s | None = None
        self.n_reference_ = n
        self.n_features_in_ = d
        self._recent_lists: dict[bytes, int] = {}
        if self.method_ == "exact":
            self.index_ = faiss.IndexFlat(d, self._faiss_metric())
            self.index_.add(data)
        elif self.method_ == "ivf":
            self._build_ivf(data, float16)
        else:
            self._build_hnsw(data)
        return self

    def _check_params(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(f"unknown metric {self.metric!r}; choose one of {list(METRICS)}")
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; choose one of {list(METHODS)}")
        if not 0.0 < self.target_recall <= 1.0:
            raise ConfigError(f"target_recall must be in (0, 1], got {self.target_recall}")
        if self.tune_k < 1 or self.n_tune_queries < 1:
            raise ConfigError("tune_k and n_tune_queries must be at least 1")

    def _choose_method(self, n: int) -> str:
        if self.method != "auto":
            return self.method
        return "exact" if n <= self.exact_threshold else "ivf"

    def _faiss_metric(self) -> int:
        return int(faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT)

    @staticmethod
    def _nlist(n: int) -> int:
        # ~4 sqrt(n) lists, but k-means wants ~39 training points per centroid.
        return max(1, min(int(4 * np.sqrt(n)), n // 39))

    def _build_ivf(self, data: Float32s, float16: bool) -> None:
        n, d = data.shape
        nlist = self._nlist(n)
        quantizer = faiss.IndexFlat(d, self._faiss_metric())
        if float16:
            self.index_ = faiss.IndexIVFScalarQuantizer(
                quantizer, d, nlist, _IVF_CODES, self._faiss_metric()
            )
        else:
            self.index_ = faiss.IndexIVFFlat(quantizer, d, nlist, self._faiss_metric())
        self.index_.cp.seed = self.random_state
        self.index_.parallel_mode = _IVF_PARALLEL_MODE
        # Coarse lists need not be optimal (nprobe is tuned to the recall afterwards): 10
        # k-means rounds on 40 rows per list (FAISS asks for >= 39) cost ~1/6 of the defaults.
        self.index_.cp.niter = 10
        rng = np.random.default_rng(self.random_state)
        n_train = min(n, 40 * nlist)
        train = data if n_train == n else data[np.sort(rng.choice(n, n_train, replace=False))]
        with blas_distances():  # k-means and list assignment: nearest centres only
            self.index_.train(train)
            self.index_.add(data)
        # The direct map lets reconstruct() return rows by number (self graph, exact repair).
        self.index_.make_direct_map()
        rows = self._tuning_rows(n)
        self.nprobe_, self.recall_ = self._tune(data[rows], rows, data, self._ivf_params, nlist)
        self.index_.nprobe = self.nprobe_

    def _build_hnsw(self, data: Float32s) -> None:
        n, d = data.shape
        self.index_ = faiss.IndexHNSWFlat(d, _HNSW_M, self._faiss_metric())
        rows = self._tuning_rows(n)
        if n < 10 * len(rows):
            # Too few rows to spare a held-out set: tune on indexed rows, self excluded.
            self.index_.add(data)
            self.ef_search_, self.recall_ = self._tune(
                data[rows], rows, data, self._hnsw_params, _MAX_EF_SEARCH
            )
        else:
            kept = np.setdiff1d(np.arange(n), rows)
            self.index_.add(data[kept])
            # Tune on rows the graph does not hold yet; then add them (FAISS ids kept, rows).
            no_self = np.full(len(rows), -1, dtype=np.int64)
            self.ef_search_, self.recall_ = self._tune(
                data[rows], no_self, data[kept], self._hnsw_params, _MAX_EF_SEARCH
            )
            self.index_.add(data[rows])
            self.id_rows_ = np.concatenate([kept, rows]).astype(np.int64)
        self.index_.hnsw.efSearch = self.ef_search_

    def _tuning_rows(self, n: int) -> Int64s:
        rng = np.random.default_rng(self.random_state)
        return np.sort(rng.choice(n, min(n, self.n_tune_queries), replace=False)).astype(np.int64)

    @staticmethod
    def _ivf_params(nprobe: int) -> Any:
        params = faiss.SearchParametersIVF()
        params.nprobe = int(nprobe)
        return params

    @staticmethod
    def _hnsw_params(ef: int) -> Any:
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = int(ef)
        return params

    def _tune(
        self,
        queries: Float32s,
        own: Int64s,
        indexed: Float32s,
        params: Callable[[int], Any],
        upper: int,
    ) -> tuple[int, float]:
        """Smallest search effort in [1, upper] whose recall meets the target.

        ``indexed`` are the rows in the index so far (FAISS id = position) and ``own[i]`` the
        id of query ``i`` itself, excluded from both result lists, or -1.
        """
        k = min(self.tune_k, indexed.shape[0] - 1)
        if k < 1 or len(queries) == 0:
            return upper, 1.0
        exact_d, exact_i = faiss.knn(queries, indexed, k + 1, metric=self._faiss_metric())
        exact_i, exact_d = _drop_self(exact_i, self._to_distance(exact_d), own)

        def recall_at(effort: int) -> float:
            d, i = self.index_.search(queries, k + 1, params=params(effort))
            i, d = _drop_self(i.astype(np.int64), self._to_distance(d), own)
            return _recall(i, d, exact_i, exact_d)

        lo, hi = 0, 1
        while True:  # double until the target is met, then bisect between the last two
            rec = recall_at(hi)
            if rec >= self.target_recall or hi >= upper:
                break
            lo, hi = hi, min(2 * hi, upper)
        best, best_rec = hi, rec
        while hi - lo > 1:
            mid = (lo + hi) // 2
            rec = recall_at(mid)
            if rec >= self.target_recall:
                hi, best, best_rec = mid, mid, rec
            else:
                lo = mid
        return best, best_rec

    def retune(self, Q: ArrayLike) -> float:
        """Re-tune the search effort (IVF ``nprobe``, HNSW ``efSearch``) on queries such as
        recent live events, for ``target_recall`` against exact search; returns that recall.

        ``fit`` tunes on indexed rows (each excluding itself), which lie inside the lists built
        from them; later events can need more effort: on 1,000,000 CloudTrail-like rows,
        ``nprobe`` 5 reached 0.956 on indexed rows but 0.887 on the next day's events.
        Costs an exact search of ``Q`` against every indexed row.
        """
        self._check_fitted()
        if self.method_ == "exact":
            return 1.0
        queries = self._prepare(self._check_queries(Q))
        indexed = self.index_.reconstruct_n(0, self.index_.ntotal)  # in FAISS id order
        own = np.full(len(queries), -1, dtype=np.int64)
        if self.method_ == "ivf":
            self.nprobe_, self.recall_ = self._tune(
                queries, own, indexed, self._ivf_params, self.index_.nlist
            )
            self.index_.nprobe = self.nprobe_
        else:
            self.ef_search_, self.recall_ = self._tune(
                queries, own, indexed, self._hnsw_params, _MAX_EF_SEARCH
            )
            self.index_.hnsw.efSearch = self.ef_search_
        return self.recall_

    def add(self, R: ArrayLike, lists: Int64s | None = None) -> int:
        """Append reference rows, numbered after the existing ones; returns how many.

        The search settings tuned in ``fit`` are kept (IVF lists and ``nprobe``, HNSW
        ``efSearch``): appended rows join the existing IVF lists without retraining them.
        ``lists``: each row's IVF list, when known (from :meth:`lists_of` of an index with
        the same coarse quantizer); otherwise the quantizer is searched for it.
        """
        self._check_fitted()
        data = self._prepare(self._check_queries(R))
        n_new = int(data.shape[0])
        if lists is not None:
            lists = self._check_lists(lists, n_new)
        else:
            lists = self._searched_lists(data)
        if self.id_rows_ is not None:
            # HNSW ids are not row numbers; new FAISS ids map to the new rows, in order.
            new_rows = np.arange(self.n_reference_, self.n_reference_ + n_new, dtype=np.int64)
            self.id_rows_ = np.concatenate([self.id_rows_, new_rows])
        if self.holds_float16 and not _fits_float16(data):
            data = np.clip(data, -_FP16_SAFE, _FP16_SAFE)
        with search_threads(self._pairs(n_new)):  # IVF assigns rows to lists by a search
            if lists is None:
                with blas_distances():
                    self.index_.add(data)
            else:  # rows just searched: their nearest lists are known
                rows = np.ascontiguousarray(data)  # held: swig_ptr keeps no reference
                ptr = faiss.swig_ptr
                self.index_.add_core(n_new, ptr(rows), None, ptr(lists))
        self.n_reference_ += n_new
        return n_new

    def lists_of(self, start: int, stop: int) -> Int64s | None:
        """The IVF list holding each reference row ``start:stop`` (None unless IVF).

        With :meth:`add` they re-add rows to an index with the same coarse quantizer (the
        same fitted model) without searching it (1,000,000 rows: 6 s of search on 2 cores).
        """
        self._check_fitted()
        if self.method_ != "ivf":
            return None
        # The direct map (made at fit and load) holds list << 32 | offset per row number.
        located = self.index_.direct_map.array
        found = faiss.rev_swig_ptr(located.data(), located.size())[start:stop] >> 32
        return found.astype(np.int64)

    def _check_lists(self, lists: Any, n_rows: int) -> Int64s:
        checked = np.asarray(lists)
        if self.method_ != "ivf" or checked.shape != (n_rows,) or checked.dtype.kind not in "iu":
            raise ConfigError(f"lists must give an IVF list number for each of the {n_rows} rows")
        if n_rows and not 0 <= checked.min() <= checked.max() < self.index_.nlist:
            raise ConfigError(f"IVF list numbers must lie in [0, {self.index_.nlist})")
        return np.ascontiguousarray(checked, dtype=np.int64)

    def _searched_lists(self, data: Float32s) -> Int64s | None:
        """Each row's nearest IVF list, when every row was among the last small search's."""
        recent = self._recent_lists
        if self.method_ != "ivf" or not recent or len(data) > len(recent):
            return None
        lists = [recent.get(bytes(row), -1) for row in data]
        if -1 in lists:
            return None
        return np.asarray(lists, dtype=np.int64)

    # -- searching -----------------------------------------------------------------------
    def search(self, Q: ArrayLike, k: int) -> NeighborGraph:
        """The ``k`` nearest reference rows of each query row."""
        self._check_fitted()
        data = self._prepare(self._check_queries(Q))
        self._check_k(k, self.n_reference_)
        n = data.shape[0]
        indices = np.empty((n, k), dtype=np.int64)
        distances = np.empty((n, k), dtype=np.float32)
        with search_threads(self._pairs(n)):
            for start in range(0, n, CHUNK_ROWS):
                stop = min(n, start + CHUNK_ROWS)
                indices[start:stop], distances[start:stop] = self._knn(data[start:stop], k)
        return NeighborGraph(indices, distances, self.metric, index=self)

    def _pairs(self, n_queries: int) -> int:
        """About how many (query, reference row) distances a search of ``n_queries`` rows
        computes: what decides whether FAISS's threads are worth starting."""
        per_query = int(self.n_reference_)
        if self.method_ == "ivf":
            per_query = per_query * int(self.index_.nprobe) // max(int(self.index_.nlist), 1)
        elif self.method_ == "hnsw":
            per_query = 32 * (self.ef_search_ or 64)  # ~M distances per visited node
        return n_queries * per_query

    def self_graph(self, k: int) -> NeighborGraph:
        """The reference rows' own graph, each row's own match removed.

        Each row is searched for ``k + 1`` neighbours and its own row number dropped (not merely
        the first zero-distance hit, which may be a duplicate row); when the row is not among
        the ``k + 1`` (many duplicates, or approximate search) the farthest one is dropped.
        """
        self._check_fitted()
        n = self.n_reference_
        self._check_k(k, n - 1)
        return self.search_excluding(self.reconstruct, np.arange(n, dtype=np.int64), k)

    def search_excluding(
        self, rows: Callable[[int, int], Float32s], own: Int64s, k: int
    ) -> NeighborGraph:
        """Search ``k`` neighbours of many rows, excluding each row's own reference entry.

        ``rows(start, stop)`` returns query rows ``start:stop`` (not yet normalised) and
        ``own[i]`` is query ``i``'s row number in the reference set, or -1 when it has none.
        """
        self._check_fitted()
        n = len(own)
        indices = np.empty((n, k), dtype=np.int64)
        distances = np.empty((n, k), dtype=np.float32)
        for start in range(0, n, CHUNK_ROWS):
            stop = min(n, start + CHUNK_ROWS)
            queries = self._prepare(rows(start, stop))
            i, d = self._knn(queries, k + 1)
            indices[start:stop], distances[start:stop] = _drop_self(i, d, own[start:stop])
        return NeighborGraph(indices, distances, self.metric, index=self)

    def reconstruct(self, start: int, stop: int) -> Float32s:
        """Reference rows ``start:stop`` as stored (cosine: normalised; float16 IVF: rounded)."""
        stored = self._stored_rows(start, stop)
        if stored.shape[1] == self.n_features_in_:
            return stored
        return np.ascontiguousarray(stored[:, : self.n_features_in_])

    def _stored_rows(self, start: int, stop: int) -> Float32s:
        """Reference rows ``start:stop`` as FAISS holds them (float16 IVF: padded)."""
        self._check_fitted()
        if self.id_rows_ is None:
            out: Float32s = self.index_.reconstruct_n(start, stop - start)
            return out
        ids_of_rows = np.empty_like(self.id_rows_)
        ids_of_rows[self.id_rows_] = np.arange(len(self.id_rows_))
        batch: Float32s = self.index_.reconstruct_batch(ids_of_rows[start:stop])
        return batch

    def _knn(self, queries: Float32s, k: int) -> tuple[Int64s, Float32s]:
        raw_d, raw_i = self._faiss_search(queries, k)
        indices = raw_i.astype(np.int64, copy=False)
        if self.id_rows_ is not None:
            indices = np.where(indices >= 0, self.id_rows_[indices], -1)
        missing = (indices < 0).any(axis=1)
        if missing.any():
            # Approximate search can come back short (IVF lists that hold fewer than k rows);
            # those few rows are searched exactly instead.
            exact_d, exact_i = faiss.knn(
                queries[missing], self._stored_rows(0, self.n_reference_), k, self._faiss_metric()
            )
            raw_d[missing], indices[missing] = exact_d, exact_i
        return indices, self._to_distance(raw_d)

    def _faiss_search(self, queries: Float32s, k: int) -> tuple[Float32s, NDArray[np.int64]]:
        if self.method_ != "ivf":
            found: tuple[Float32s, NDArray[np.int64]] = self.index_.search(queries, k)
            return found
        with blas_distances():
            coarse_d, coarse_i = self.index_.quantizer.search(queries, self.index_.nprobe)
        if len(queries) < _LIVE_MAX_QUERIES:
            # A live batch: its normal rows are often added next (novelty mode), and finding
            # their lists again is the quantizer's search: 40 ms per 1,000 rows at 4,000 lists.
            nearest = coarse_i[:, 0].tolist()
            latest = dict(zip(map(bytes, queries), nearest, strict=True))
            kept = self._recent_lists | latest  # a new dict: other threads may be reading
            if len(kept) > _RECENT_ROWS:
                kept = dict(list(kept.items())[-_RECENT_ROWS:])
            self._recent_lists = kept
        # Queries that probe the same lists are searched one after another, so those lists
        # stay in cache instead of being read from memory once per query. Same lists probed,
        # same results; CPU time of the scan: 1M clustered queries -40%, a live batch of
        # 1,000 against 1M rows 75.5 -> 62.5 ms.
        order = np.argsort(coarse_i[:, 0], kind="stable")
        sorted_d, sorted_i = self.index_.search_preassigned(
            queries[order], k, coarse_i[order], coarse_d[order]
        )
        distances, indices = np.empty_like(sorted_d), np.empty_like(sorted_i)
        distances[order], indices[order] = sorted_d, sorted_i
        return distances, indices

    def _to_distance(self, raw: Float32s) -> Float32s:
        """FAISS scores to graph distances: ascending, smaller = nearer."""
        if self.metric == "l2":
            return np.sqrt(np.maximum(raw, 0.0, out=raw), out=raw)
        if self.metric == "cosine":
            return np.clip(np.subtract(1.0, raw, out=raw), 0.0, 2.0, out=raw)
        return np.negative(raw, out=raw)

    def _prepare(self, data: Float32s) -> Float32s:
        """Rows as FAISS takes them: normalised for cosine, padded to the index's width."""
        return self._padded(self._normalised(data))

    def _normalised(self, data: Float32s) -> Float32s:
        if self.metric != "cosine":
            return data
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        out: Float32s = np.divide(data, norms, out=np.zeros_like(data), where=norms > 0)
        return out

    def _padded(self, data: Float32s) -> Float32s:
        pad = self._width - data.shape[1]
        return np.pad(data, ((0, 0), (0, pad))) if pad else data

    @property
    def holds_float16(self) -> bool:
        """Whether the rows are stored as float16 (IVF fitted on values within +-32,000):
        read back, they are rounded (and clipped when added beyond that bound)."""
        return isinstance(self.index_, faiss.IndexIVFScalarQuantizer)

    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise NotFittedError("NeighborIndex is not fitted; call fit first")

    def _check_queries(self, Q: ArrayLike) -> Float32s:
        data = check_matrix(Q)
        if data.shape[1] != self.n_features_in_:
            raise ConfigError(
                f"the index holds {self.n_features_in_}-column rows, got {data.shape[1]} columns"
            )
        return data

    @staticmethod
    def _check_k(k: int, available: int) -> None:
        if not 1 <= k <= available:
            raise ConfigError(f"k must be between 1 and {available} here, got {k}")

    # -- persistence ---------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ``index.faiss`` (FAISS's own format) and ``index.json`` into ``directory``."""
        self._check_fitted()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index_, str(path / _INDEX_FILE))
        if self.id_rows_ is not None:
            np.save(path / _ORDER_FILE, self.id_rows_, allow_pickle=False)
        state = {
            "params": self.get_params(),
            "fitted": {name: getattr(self, name) for name in self._fitted_scalars},
        }
        (path / _PARAMS_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> NeighborIndex:
        """Read an index written by :meth:`save` (no pickle: JSON and FAISS's format)."""
        path = Path(directory)
        try:
            state = json.loads((path / _PARAMS_FILE).read_text(encoding="utf-8"))
            idx = cls(**state["params"])
            for name in cls._fitted_scalars:
                setattr(idx, name, state["fitted"][name])
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path} does not hold a saved NeighborIndex: {exc}") from exc
        _use_all_cores()
        idx.index_ = faiss.read_index(str(path / _INDEX_FILE))
        order = path / _ORDER_FILE
        idx.id_rows_ = np.load(order, allow_pickle=False) if order.exists() else None
        idx._recent_lists = {}
        idx._width = idx.index_.d
        if idx.method_ == "ivf":
            idx.index_.make_direct_map()
            idx.index_.nprobe = idx.nprobe_
            idx.index_.parallel_mode = _IVF_PARALLEL_MODE
        elif idx.method_ == "hnsw":
            idx.index_.hnsw.efSearch = idx.ef_search_
        d = idx.n_features_in_
        expected = _float16_width(d) if idx.holds_float16 else d
        if idx.index_.ntotal != idx.n_reference_ or idx._width != expected:
            raise ConfigError(f"{path}: {_INDEX_FILE} does not match {_PARAMS_FILE}")
        return idx

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable."""
        return {
            "metric": self.metric,
            "method": self.method,
            "exact_threshold": self.exact_threshold,
            "target_recall": self.target_recall,
            "tune_k": self.tune_k,
            "n_tune_queries": self.n_tune_queries,
            "random_state": self.random_state,
        }


def measure_recall(index: NeighborIndex, Q: ArrayLike, k: int) -> float:
    """Recall at ``k`` of ``index.search`` on queries ``Q`` against exact search.

    A returned neighbour counts as found when it is one of the exact ``k`` nearest or lies no
    farther than the exact ``k``-th one (ties between equidistant rows are not misses).
    """
    graph = index.search(Q, k)
    queries = index._prepare(index._check_queries(Q))
    reference = index._stored_rows(0, index.n_reference_)
    exact_d, exact_i = faiss.knn(queries, reference, k, metric=index._faiss_metric())
    return _recall(graph.indices, graph.distances, exact_i, index._to_distance(exact_d))


def _float16_width(columns: int) -> int:
    """Columns of float16 IVF rows: padded to FAISS's SIMD width."""
    return -(-columns // _SIMD_COLUMNS) * _SIMD_COLUMNS


def _fits_float16(rows: Float32s) -> bool:
    # max and min, not abs: no copy of a million rows.
    return rows.size == 0 or max(float(rows.max()), -float(rows.min())) <= _FP16_SAFE


def _drop_self(indices: Int64s, distances: Float32s, own: Int64s) -> tuple[Int64s, Float32s]:
    """Remove one column per row: the row's own entry if present, else the last (farthest)."""
    # own = -1 means "no own entry"; it must not match FAISS's -1 padding of short results.
    drop = (indices == own[:, None]) & (own[:, None] >= 0)
    drop[~drop.any(axis=1), -1] = True
    # FAISS returns distinct ids, so exactly one entry per row is dropped.
    n, k1 = indices.shape
    keep = ~drop
    return indices[keep].reshape(n, k1 - 1), distances[keep].reshape(n, k1 - 1)


def _recall(approx_i: Int64s, approx_d: Float32s, exact_i: Int64s, exact_d: Float32s) -> float:
    kth = exact_d[:, -1:].astype(np.float64)
    tolerance = 1e-4 * np.maximum(np.abs(kth), 1e-3)
    same_id = (approx_i[:, :, None] == exact_i[:, None, :]).any(axis=2)
    close = approx_d <= kth + tolerance
    found = (same_id | close) & (approx_i >= 0)
    return float(found.mean())
