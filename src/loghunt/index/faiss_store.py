"""The embedded vector store: vectors in memory, searched by :class:`NeighborIndex` (FAISS)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Self

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

from loghunt.errors import ConfigError
from loghunt.index._validation import check_matrix
from loghunt.index.neighbors import NeighborIndex
from loghunt.index.store import (
    Float32s,
    Int64s,
    SearchResult,
    StoreFilter,
    VectorStore,
    check_ids,
    check_metadata,
    check_metric,
    exact_search,
    prepare,
    read_state,
    write_state,
)

_BACKEND = "faiss"
_VECTORS_FILE = "vectors.npy"
_IDS_FILE = "ids.npy"
_META_FILE = "metadata.parquet"
_INDEX_DIR = "index"
#: Placeholder column of rows added without metadata (dropped after stacking).
_BLANK = "__loghunt_no_metadata__"


class FaissStore(VectorStore):
    """Vectors with ids and metadata in memory, searched by a FAISS :class:`NeighborIndex`.

    The index is exact up to ``exact_threshold`` rows and IVF above (or as ``method`` says),
    tuned to ``target_recall``; it is built on the first search and grown by later adds.
    Deleted vectors are dropped from results at once and from the index when more than
    ``rebuild_fraction`` of its rows are deleted; an IVF or HNSW index is also rebuilt when
    the store has doubled since it was built, so that its lists fit the data. Filtered
    searches are exact over the vectors that pass the filter.

    Parameters
    ----------
    metric : {"l2", "cosine", "ip"}, default="l2"
    method, exact_threshold, target_recall, tune_k, random_state
        Passed to :class:`~loghunt.index.NeighborIndex`.
    rebuild_fraction : float, default=0.1
        Share of deleted rows above which the index is rebuilt without them.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 4)).astype("float32")
    >>> store = FaissStore(metric="cosine")
    >>> store.add(X, ids=np.arange(1000, 1100))
    >>> store.search(X[:2], k=1).ids.tolist()
    [[1000], [1001]]
    >>> store.delete([1000]), len(store)
    (1, 99)
    """

    def __init__(
        self,
        metric: str = "l2",
        method: str = "auto",
        exact_threshold: int = 50_000,
        target_recall: float = 0.95,
        tune_k: int = 20,
        random_state: int = 0,
        rebuild_fraction: float = 0.1,
    ) -> None:
        self.metric = check_metric(metric)
        self.method = method
        self.exact_threshold = exact_threshold
        self.target_recall = target_recall
        self.tune_k = tune_k
        self.random_state = random_state
        self.rebuild_fraction = rebuild_fraction
        self._vectors: Float32s | None = None
        self._ids: Int64s = np.empty(0, dtype=np.int64)
        self._alive = np.empty(0, dtype=bool)
        self._meta: pl.DataFrame | None = None
        self._index: NeighborIndex | None = None
        self._n_built = 0

    # -- mutation --------------------------------------------------------------------------
    def add(self, vectors: ArrayLike, ids: ArrayLike, metadata: Any = None) -> None:
        data = check_matrix(vectors)
        n = data.shape[0]
        new_ids = check_ids(ids, n)
        meta = check_metadata(metadata, n)
        if self._vectors is not None and data.shape[1] != self._vectors.shape[1]:
            raise ConfigError(
                f"the store holds {self._vectors.shape[1]}-dimensional vectors, got {data.shape[1]}"
            )
        clash = np.isin(new_ids, self._ids[self._alive])
        if clash.any():
            raise ConfigError(f"ids already stored: {new_ids[clash][:5].tolist()}")
        n_old = len(self._ids)
        self._meta = _stack_metadata(self._meta, n_old, meta, n)
        self._vectors = data.copy() if self._vectors is None else np.vstack([self._vectors, data])
        self._ids = np.concatenate([self._ids, new_ids])
        self._alive = np.concatenate([self._alive, np.ones(n, dtype=bool)])
        if self._index is not None:
            grown = self._index.method_ != "exact" and n_old + n > 2 * self._n_built
            if grown:
                self._index = None
            else:
                self._index.add(data)

    def delete(self, ids: ArrayLike) -> int:
        gone = np.isin(self._ids, np.asarray(ids, dtype=np.int64).reshape(-1)) & self._alive
        self._alive[gone] = False
        n_dead = int((~self._alive).sum())
        if n_dead > self.rebuild_fraction * max(1, len(self._alive)):
            self._compact()
        return int(gone.sum())

    def __len__(self) -> int:
        return int(self._alive.sum())

    # -- search ----------------------------------------------------------------------------
    def search(self, Q: ArrayLike, k: int, filter: StoreFilter | None = None) -> SearchResult:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        queries = check_matrix(Q)
        if self._vectors is None or not len(self):
            return _empty(queries.shape[0], k)
        if queries.shape[1] != self._vectors.shape[1]:
            raise ConfigError(
                f"the store holds {self._vectors.shape[1]}-dimensional vectors, "
                f"got {queries.shape[1]} columns"
            )
        if filter is not None:
            return self._filtered(queries, k, filter)
        index = self._ensure_index()
        n_dead = len(self._alive) - len(self)
        # Deleted rows are still in the index: ask for enough to drop them and keep k.
        k_asked = min(k + n_dead, index.n_reference_)
        graph = index.search(queries, k_asked)
        alive = self._alive[graph.indices]
        ids = np.where(alive, self._ids[graph.indices], -1)
        dist = np.where(alive, graph.distances, np.inf).astype(np.float32)
        if n_dead:
            order = np.argsort(~alive, axis=1, kind="stable")  # alive first, order kept
            ids = np.take_along_axis(ids, order, axis=1)
            dist = np.take_along_axis(dist, order, axis=1)
        return _fit_width(ids, dist, k)

    def _filtered(self, queries: Float32s, k: int, flt: StoreFilter) -> SearchResult:
        missing = [c for c in flt.columns() if self._meta is None or c not in self._meta.columns]
        if missing:
            raise ConfigError(f"the store has no metadata column(s) {missing} to filter on")
        assert self._meta is not None and self._vectors is not None
        passed = self._meta.select(flt.expr().fill_null(False)).to_series().to_numpy()
        rows = np.flatnonzero(passed & self._alive)
        reference = prepare(np.ascontiguousarray(self._vectors[rows]), self.metric)
        found, dist = exact_search(prepare(queries, self.metric), reference, k, self.metric)
        ids = np.where(found >= 0, self._ids[rows][np.maximum(found, 0)], -1)
        return SearchResult(ids, dist)

    def _ensure_index(self) -> NeighborIndex:
        if self._index is None:
            if len(self._alive) != len(self):
                self._compact()
            assert self._vectors is not None
            self._index = NeighborIndex(
                metric=self.metric,
                method=self.method,
                exact_threshold=self.exact_threshold,
                target_recall=self.target_recall,
                tune_k=min(self.tune_k, max(1, len(self) - 1)),
                random_state=self.random_state,
            ).fit(self._vectors)
            self._n_built = len(self._ids)
        return self._index

    def _compact(self) -> None:
        """Drop deleted rows for good; the index is rebuilt on the next search."""
        keep = self._alive
        if self._vectors is not None:
            self._vectors = np.ascontiguousarray(self._vectors[keep])
        self._ids = self._ids[keep]
        if self._meta is not None:
            self._meta = self._meta.filter(pl.Series(keep))
        self._alive = np.ones(len(self._ids), dtype=bool)
        self._index = None

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> None:
        """``store.json``, ``vectors.npy``, ``ids.npy``, ``metadata.parquet``, ``index/``."""
        path = Path(directory)
        if len(self._alive) != len(self):
            self._compact()
        write_state(path, _BACKEND, {"params": self.get_params(), "n_built": self._n_built})
        if self._vectors is not None:
            np.save(path / _VECTORS_FILE, self._vectors, allow_pickle=False)
            np.save(path / _IDS_FILE, self._ids, allow_pickle=False)
        if self._meta is not None:
            self._meta.write_parquet(path / _META_FILE)
        if self._index is not None:
            self._index.save(path / _INDEX_DIR)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Self:
        path = Path(directory)
        state = read_state(path, _BACKEND)
        store = cls(**state["params"])
        if (path / _VECTORS_FILE).exists():
            store._vectors = np.load(path / _VECTORS_FILE, allow_pickle=False)
            store._ids = np.load(path / _IDS_FILE, allow_pickle=False)
            store._alive = np.ones(len(store._ids), dtype=bool)
            if store._vectors.shape[0] != len(store._ids):
                raise ConfigError(f"{path}: {_VECTORS_FILE} and {_IDS_FILE} disagree in length")
        if (path / _META_FILE).exists():
            store._meta = pl.read_parquet(path / _META_FILE)
        if (path / _INDEX_DIR).exists():
            store._index = NeighborIndex.load(path / _INDEX_DIR)
            if store._index.n_reference_ != len(store._ids):
                raise ConfigError(f"{path}: the saved index does not match the vectors")
            store._n_built = int(state.get("n_built", len(store._ids)))
        return store

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, JSON-serialisable."""
        return {
            "metric": self.metric,
            "method": self.method,
            "exact_threshold": self.exact_threshold,
            "target_recall": self.target_recall,
            "tune_k": self.tune_k,
            "random_state": self.random_state,
            "rebuild_fraction": self.rebuild_fraction,
        }


def _stack_metadata(
    old: pl.DataFrame | None, n_old: int, new: pl.DataFrame | None, n_new: int
) -> pl.DataFrame | None:
    """Old and new metadata stacked; rows without metadata get nulls."""
    if old is None and new is None:
        return None
    stacked = pl.concat(
        [old if old is not None else _blank(n_old), new if new is not None else _blank(n_new)],
        how="diagonal_relaxed",
    )
    return stacked.drop(_BLANK, strict=False)


def _blank(n: int) -> pl.DataFrame:
    return pl.DataFrame({_BLANK: [None] * n})


def _empty(n: int, k: int) -> SearchResult:
    return SearchResult(
        np.full((n, k), -1, dtype=np.int64), np.full((n, k), np.inf, dtype=np.float32)
    )


def _fit_width(ids: Int64s, dist: Float32s, k: int) -> SearchResult:
    """Results cut or padded to ``k`` columns."""
    if ids.shape[1] >= k:
        return SearchResult(np.ascontiguousarray(ids[:, :k]), np.ascontiguousarray(dist[:, :k]))
    pad = k - ids.shape[1]
    return SearchResult(
        np.pad(ids, ((0, 0), (0, pad)), constant_values=-1),
        np.pad(dist, ((0, 0), (0, pad)), constant_values=np.inf),
    )
