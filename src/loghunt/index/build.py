"""One call from a feature matrix to its neighbour graph: the graph every detector shares."""

from __future__ import annotations

import warnings
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.errors import ConfigError
from loghunt.index._validation import check_matrix
from loghunt.index.graph import NeighborGraph
from loghunt.index.neighbors import NeighborIndex
from loghunt.index.store import VectorStore, store_graph


@overload
def build_graph(
    X: ArrayLike,
    k: int,
    metric: str = ...,
    reference_size: int | None = ...,
    reference_threshold: int = ...,
    random_state: int = ...,
    method: str = ...,
    exact_threshold: int = ...,
    *,
    store: None = ...,
) -> tuple[NeighborIndex, NeighborGraph]: ...


@overload
def build_graph(
    X: ArrayLike,
    k: int,
    metric: str = ...,
    reference_size: int | None = ...,
    reference_threshold: int = ...,
    random_state: int = ...,
    method: str = ...,
    exact_threshold: int = ...,
    *,
    store: VectorStore,
) -> tuple[VectorStore, NeighborGraph]: ...


def build_graph(
    X: ArrayLike,
    k: int,
    metric: str = "l2",
    reference_size: int | None = None,
    reference_threshold: int = 200_000,
    random_state: int = 0,
    method: str = "auto",
    exact_threshold: int = 50_000,
    *,
    store: VectorStore | None = None,
) -> tuple[NeighborIndex | VectorStore, NeighborGraph]:
    """Index ``X`` and return ``(index, graph)``: every row's ``k`` nearest other rows.

    Up to ``reference_threshold`` rows, every row is indexed and the graph is the index's
    self graph (each row's own match excluded). Above it, the reference set is a random sample
    of ``reference_size`` rows (default 100,000) and every row is searched against the sample;
    sampled rows exclude themselves. The graph then has ``reference_rows`` set, and its
    ``indices`` point into ``X[reference_rows]``.

    Why a sample: a full self-join of a million rows costs O(n^2) distance computations, while
    scoring every row against a representative sample keeps the density estimates that kNN and
    LOF need and costs O(n * sample). Rare rows are then judged against the normal bulk, which
    is what an anomaly score asks; a sample of 100,000 still holds ~500 rows of a pattern that
    makes up 0.5 % of the data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The rows; converted to float32.
    k : int
        Neighbours per row; clamped (with a warning) to the reference size minus one.
    metric : {"l2", "cosine", "ip"}, default="l2"
    reference_size : int, optional
        Size of the reference sample when ``X`` has more than ``reference_threshold`` rows.
    reference_threshold : int, default=200_000
        Largest ``X`` whose rows are all indexed.
    random_state : int, default=0
        Seed of the sample and of the index.
    method : {"auto", "exact", "ivf", "hnsw"}, default="auto"
        ``"auto"`` searches exactly while ``n_samples * n_reference <= exact_threshold ** 2``
        (the cost of an exact self-join of ``exact_threshold`` rows) and uses IVF above: a
        small reference sample searched by a million rows is not cheap.
    exact_threshold : int, default=50_000
        See ``method``.
    store : VectorStore, optional
        An empty store (see :mod:`loghunt.index.store`) to index the reference rows in instead
        of a :class:`NeighborIndex`; they are stored under their reference row numbers and the
        graph is searched through the store's interface. ``method`` and ``exact_threshold``
        are then the store's business.

    Returns
    -------
    index : NeighborIndex or VectorStore
        The index over the reference rows (``store`` when given); search new rows with
        ``index.search(X_new, k)``.
    graph : NeighborGraph
        ``(n_samples, k)`` neighbours of every row of ``X``, self excluded.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 8)).astype("float32")
    >>> index, graph = build_graph(X, k=5)
    >>> graph.indices.shape, index.method_
    ((300, 5), 'exact')
    """
    data = check_matrix(X)
    n = data.shape[0]
    size = 100_000 if reference_size is None else reference_size
    if size < 2:
        raise ConfigError(f"reference_size must be at least 2, got {size}")
    sampled = n > reference_threshold and size < n
    n_ref = size if sampled else n
    if n_ref < 2:
        raise ConfigError(f"a neighbour graph needs at least 2 rows, got {n_ref}")
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    if k > n_ref - 1:
        warnings.warn(
            f"k={k} is more than the {n_ref - 1} other reference rows; using k={n_ref - 1}",
            UserWarning,
            stacklevel=2,
        )
        k = n_ref - 1
    if store is not None:
        if store.metric != metric:
            raise ConfigError(f"the store searches by {store.metric!r}, the graph by {metric!r}")
        return store, _graph_in_store(store, data, k, size if sampled else None, random_state)
    if method == "auto":
        method = "exact" if n * n_ref <= exact_threshold**2 else "ivf"
    index = NeighborIndex(metric=metric, method=method, tune_k=k, random_state=random_state)
    if not sampled:
        index.fit(data)
        return index, index.self_graph(k)
    rng = np.random.default_rng(random_state)
    reference_rows = np.sort(rng.choice(n, size, replace=False)).astype(np.int64)
    index.fit(data[reference_rows])
    own = np.full(n, -1, dtype=np.int64)
    own[reference_rows] = np.arange(size, dtype=np.int64)
    graph = index.search_excluding(lambda start, stop: data[start:stop], own, k)
    return index, NeighborGraph(
        graph.indices, graph.distances, metric, reference_rows=reference_rows, index=index
    )


def _graph_in_store(
    store: VectorStore, data: NDArray[np.float32], k: int, sample: int | None, random_state: int
) -> NeighborGraph:
    """The graph of ``data`` through a vector store; a sample of rows is the reference set."""
    if len(store):
        raise ConfigError(f"build_graph needs an empty store, this one holds {len(store)} rows")
    n = data.shape[0]
    if sample is None:
        store.add(data, np.arange(n, dtype=np.int64))
        return store_graph(store, data, k, np.arange(n, dtype=np.int64))
    rng = np.random.default_rng(random_state)
    reference_rows = np.sort(rng.choice(n, sample, replace=False)).astype(np.int64)
    store.add(data[reference_rows], np.arange(sample, dtype=np.int64))
    own = np.full(n, -1, dtype=np.int64)
    own[reference_rows] = np.arange(sample, dtype=np.int64)
    graph = store_graph(store, data, k, own)
    return NeighborGraph(graph.indices, graph.distances, graph.metric, reference_rows)
