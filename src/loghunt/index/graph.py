"""The k-nearest-neighbour graph that every neighbour-based detector shares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class NeighborGraph:
    """Neighbours of a set of query rows among a reference set.

    ``indices[i]`` are row numbers in the reference set, nearest first; ``distances[i]`` are the
    matching distances in ascending order (cosine: ``1 - cos``; l2: Euclidean; ip: ``-<q, r>``).
    When the queries are the reference set itself, each row's own match is excluded.
    """

    indices: NDArray[np.int64]
    distances: NDArray[np.float32]
    metric: str

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def n_queries(self) -> int:
        return int(self.indices.shape[0])
