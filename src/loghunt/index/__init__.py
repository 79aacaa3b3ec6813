"""Nearest-neighbour search (FAISS) and the neighbour graph every detector shares.

>>> import numpy as np
>>> from loghunt.index import build_graph
>>> X = np.random.default_rng(0).normal(size=(50, 3)).astype("float32")
>>> index, graph = build_graph(X, k=4)
>>> graph.k
4
"""

from loghunt.index._validation import check_matrix
from loghunt.index.build import build_graph
from loghunt.index.graph import NeighborGraph
from loghunt.index.neighbors import NeighborIndex, measure_recall

__all__ = ["NeighborGraph", "NeighborIndex", "build_graph", "check_matrix", "measure_recall"]
