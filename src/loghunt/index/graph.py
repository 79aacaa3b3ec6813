"""The k-nearest-neighbour graph that every neighbour-based detector shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from loghunt.errors import ConfigError

if TYPE_CHECKING:
    from loghunt.index.neighbors import NeighborIndex

METRICS = ("l2", "cosine", "ip")


@dataclass(frozen=True, eq=False)
class NeighborGraph:
    """Neighbours of a set of query rows among a reference set.

    ``indices[i]`` are row numbers in the reference set, nearest first; ``distances[i]`` are the
    matching distances in ascending order (cosine: ``1 - cos``; l2: Euclidean; ip: ``-<q, r>``).
    When the queries are the reference set itself, each row's own match is excluded.

    Parameters
    ----------
    indices : int64 array of shape (n_queries, k)
        Neighbour row numbers in the reference set.
    distances : float32 array of shape (n_queries, k)
        Matching distances, ascending along each row.
    metric : str
        ``"l2"``, ``"cosine"`` or ``"ip"``.
    reference_rows : int64 array or None
        Only for a training graph whose reference set is a sample of the training rows (see
        :func:`loghunt.index.build_graph`): the training-row numbers of the reference rows, so
        that ``indices`` point into ``X[reference_rows]``. ``None`` means the reference set is
        the whole training matrix (or, for a query graph, does not matter).
    index : NeighborIndex or None
        The index the graph was searched in; detectors keep it to search new rows later.

    Examples
    --------
    >>> import numpy as np
    >>> g = NeighborGraph(np.array([[1], [0]]), np.array([[0.5], [0.5]], "float32"), "l2")
    >>> g.k, g.n_queries
    (1, 2)
    """

    indices: NDArray[np.int64]
    distances: NDArray[np.float32]
    metric: str
    reference_rows: NDArray[np.int64] | None = None
    index: NeighborIndex | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ConfigError(f"unknown metric {self.metric!r}; choose one of {list(METRICS)}")
        if self.indices.ndim != 2 or self.indices.shape != self.distances.shape:
            raise ConfigError(
                "indices and distances must be 2-D arrays of the same shape, got "
                f"{self.indices.shape} and {self.distances.shape}"
            )

    @property
    def k(self) -> int:
        """Neighbours per query row."""
        return int(self.indices.shape[1])

    @property
    def n_queries(self) -> int:
        """Number of query rows."""
        return int(self.indices.shape[0])

    @property
    def n_reference(self) -> int | None:
        """Size of the reference set when the graph says it (sampled reference or index)."""
        if self.reference_rows is not None:
            return len(self.reference_rows)
        return self.index.n_reference_ if self.index is not None else None

    def head(self, k: int) -> NeighborGraph:
        """The graph restricted to each row's ``k`` nearest neighbours (views, no copy)."""
        if not 1 <= k <= self.k:
            raise ConfigError(
                f"the graph holds {self.k} neighbours per row, {k} were asked for; "
                f"build it with k >= {k}"
            )
        if k == self.k:
            return self
        return NeighborGraph(
            self.indices[:, :k], self.distances[:, :k], self.metric, self.reference_rows, self.index
        )
