"""Nearest normal events: the unflagged events most like a finding, to read side by side.

When the ensemble's neighbour index holds the scored rows (every one up to 200,000 events, a
random sample of them above), the findings are searched in it: the same geometry the detectors
used. Findings whose neighbours are all flagged (a burst of similar attack events), and every
finding when the index holds other rows, are searched in a small exact index over a random
sample of the unflagged rows.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from loghunt.index import NeighborIndex

Ints = NDArray[np.int64]
#: Extra neighbours searched in the shared index, since some of them are flagged.
_OVERSEARCH = 4


def nearest_normal(
    X: NDArray[np.float32],
    queries: Ints,
    flags: NDArray[np.bool_],
    k: int,
    index: NeighborIndex | None = None,
    metric: str = "l2",
    reference_size: int = 20_000,
    random_state: int = 0,
    index_rows: Ints | None = None,
) -> Ints:
    """Row numbers of the ``k`` nearest unflagged rows of each query row; -1 pads.

    ``index``, when given, must index the rows ``X[index_rows]`` in order (by default every
    row of ``X``).

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [5.0], [0.2]], dtype="float32")
    >>> flags = np.array([True, False, True, False])
    >>> nearest_normal(X, np.array([0, 2]), flags, k=1).tolist()
    [[1], [3]]
    """
    out = np.full((queries.size, k), -1, dtype=np.int64)
    normal = np.flatnonzero(~flags)
    if queries.size == 0 or normal.size == 0 or k < 1:
        return out
    todo = np.arange(queries.size)
    indexed = X.shape[0] if index_rows is None else index_rows.size
    if index is not None and index.n_reference_ == indexed and indexed > 1:
        wanted = min(k * _OVERSEARCH + 1, indexed)
        found = index.search(X[queries], wanted).indices
        if index_rows is not None:
            found = np.where(found >= 0, index_rows[np.maximum(found, 0)], -1)
        out, complete = _first_normal(found, queries, flags, k)
        todo = np.flatnonzero(~complete)
    if todo.size:
        out[todo] = _search_sample(
            X, queries[todo], normal, k, metric, reference_size, random_state
        )
    return out


def _first_normal(
    found: Ints, queries: Ints, flags: NDArray[np.bool_], k: int
) -> tuple[Ints, NDArray[np.bool_]]:
    """Each row's first ``k`` unflagged neighbours other than itself; which rows got ``k``."""
    if found.shape[1] < k:  # fewer reference rows than wanted: pad with "none"
        padding = np.full((found.shape[0], k - found.shape[1]), -1, dtype=np.int64)
        found = np.concatenate([found, padding], axis=1)
    valid = (found >= 0) & (found != queries[:, None])
    ok = valid & ~flags[np.where(valid, found, 0)]
    # Stable ordering keeps neighbours nearest first: usable ones move to the front.
    order = np.argsort(~ok, axis=1, kind="stable")[:, :k]
    picked = np.take_along_axis(found, order, axis=1)
    good = np.take_along_axis(ok, order, axis=1)
    chosen: Ints = np.where(good, picked, -1).astype(np.int64)
    complete: NDArray[np.bool_] = np.asarray(good.all(axis=1), dtype=bool)
    return chosen, complete


def _search_sample(
    X: NDArray[np.float32],
    queries: Ints,
    normal: Ints,
    k: int,
    metric: str,
    reference_size: int,
    random_state: int,
) -> Ints:
    sample = normal
    if normal.size > reference_size:
        rng = np.random.default_rng(random_state)
        sample = np.sort(rng.choice(normal, reference_size, replace=False))
    if sample.size == 1 and (queries == sample[0]).all():  # one unflagged event, searched
        return np.full((queries.size, k), -1, dtype=np.int64)
    wanted = min(k + 1, sample.size)
    # The index's search runs on one thread when it is small (most live batches).
    index = NeighborIndex(metric=metric, method="exact").fit(X[sample])
    positions = index.search(X[queries], wanted).indices
    found = np.where(positions >= 0, sample[np.maximum(positions, 0)], -1)
    flags = np.ones(X.shape[0], dtype=bool)
    flags[sample] = False
    picked, _ = _first_normal(found, queries, flags, k)
    return picked
