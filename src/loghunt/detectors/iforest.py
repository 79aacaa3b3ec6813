"""Isolation Forest: rows that random axis-parallel splits isolate quickly are anomalous."""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.ensemble import IsolationForest

from loghunt.detectors.base import Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

#: Rows per traversal block: (rows x trees) node ids stay in cache-sized arrays (measured:
#: 1,024 rows x 100 trees is ~1.5x faster than 4,096).
_TRAVERSAL_ROWS = 1_024


@register
class IForestDetector(Detector):
    """Isolation Forest (Liu et al. 2008), trained by scikit-learn, scored by loghunt.

    scikit-learn grows the trees; their node arrays (features, thresholds, children, node
    sizes) are then copied out and scored by a vectorised numpy walk over all trees at once.
    The score equals ``-IsolationForest.score_samples`` (``2 ** (-E[h(x)] / c(psi))``, in
    (0, 1], higher = more anomalous), and the fitted state is plain arrays that can be saved
    without pickle (:meth:`to_arrays` / :meth:`from_arrays`).

    Parameters
    ----------
    n_estimators : int, default=100
        Number of trees.
    max_samples : "auto", int or float, default="auto"
        Rows drawn for each tree: ``"auto"`` is ``min(256, n_samples)``.
    random_state : int, default=0
        Seed of the forest.
    n_jobs : int, optional
        Threads scikit-learn uses to grow the trees.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    feature_, threshold_ : ndarray of shape (n_nodes,)
        Split of each node of all trees, concatenated (leaves: feature 0, threshold +inf).
    children_ : ndarray of shape (2 * n_nodes,)
        ``children_[2 * i]`` / ``children_[2 * i + 1]``: left / right child of node ``i``;
        leaves point to themselves, so every walk can take ``max_depth_`` steps.
    path_length_ : ndarray of shape (n_nodes,)
        For leaves: depth plus ``c(node size)``, the expected rest of an unbuilt subtree.
    roots_ : ndarray of shape (n_estimators,)
        Root node of each tree.
    max_depth_ : int
        Deepest leaf.
    normalizer_ : float
        ``n_estimators * c(max_samples)``.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 4))
    >>> X[0] = 9.0
    >>> det = IForestDetector(n_estimators=50).fit(X)
    >>> int(np.argmax(det.train_scores_))
    0
    """

    name: ClassVar[str] = "iforest"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "feature_",
        "threshold_",
        "children_",
        "path_length_",
        "roots_",
        "max_depth_",
        "normalizer_",
    )

    feature_: NDArray[np.intp]
    threshold_: NDArray[np.float64]
    children_: NDArray[np.intp]
    path_length_: NDArray[np.float64]
    roots_: NDArray[np.intp]
    max_depth_: int
    normalizer_: float

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: str | int | float = "auto",
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        data = self._validate_fit(X)
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        try:
            forest.fit(data)
        except ValueError as exc:  # scikit-learn's parameter validation
            raise ConfigError(f"IForestDetector: {exc}") from exc
        self._copy_trees(forest)
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = self._scores(data)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return self._scores(self._validate_score(X))

    def _scores(self, data: NDArray[np.float32]) -> Scores:
        # Node and cell numbers fit int32 in any realistic forest: half the bytes per walk
        # step (300,000 x 37 rows, 100 trees: ~1.1 s instead of ~1.5 s).
        small = max(len(self.children_), _TRAVERSAL_ROWS * data.shape[1]) < np.iinfo(np.int32).max
        dtype = np.int32 if small else np.intp
        walk = partial(
            self._score_block,
            self.feature_.astype(dtype),
            _floor_float32(self.threshold_),
            self.children_.astype(dtype),
            self.roots_.astype(dtype),
        )
        return score_in_chunks(data, walk, _TRAVERSAL_ROWS)

    def _copy_trees(self, forest: IsolationForest) -> None:
        """Concatenate all trees' node arrays, node ids made global by per-tree offsets."""
        features, thresholds, children, paths, roots = [], [], [], [], []
        offset, max_depth = 0, 0
        for tree in (estimator.tree_ for estimator in forest.estimators_):
            n_nodes = int(tree.node_count)
            left, right = tree.children_left, tree.children_right
            leaf = left < 0
            own = np.arange(n_nodes)
            pair = np.empty(2 * n_nodes, dtype=np.intp)
            pair[0::2] = np.where(leaf, own, left) + offset
            pair[1::2] = np.where(leaf, own, right) + offset
            children.append(pair)
            features.append(np.where(leaf, 0, tree.feature).astype(np.intp))
            thresholds.append(np.where(leaf, np.inf, tree.threshold))
            depth = _node_depths(left, right)
            max_depth = max(max_depth, int(depth.max()))
            # Leaf depth in edges plus the expected depth of the subtree that was not grown.
            paths.append(depth + _average_path_length(tree.n_node_samples))
            roots.append(offset)
            offset += n_nodes
        self.feature_ = np.concatenate(features)
        self.threshold_ = np.concatenate(thresholds).astype(np.float64)
        self.children_ = np.concatenate(children)
        self.path_length_ = np.concatenate(paths)
        self.roots_ = np.asarray(roots, dtype=np.intp)
        self.max_depth_ = max_depth
        c_psi = _average_path_length(np.array([forest.max_samples_]))[0]
        self.normalizer_ = float(len(roots) * c_psi)

    def _score_block(
        self,
        feature: NDArray[np.integer[Any]],
        thresholds: NDArray[np.float32],
        children: NDArray[np.integer[Any]],
        roots: NDArray[np.integer[Any]],
        block: NDArray[np.float32],
    ) -> Scores:
        n_rows, n_cols = block.shape
        flat = block.ravel()
        node = np.empty((n_rows, len(roots)), dtype=roots.dtype)
        node[:] = roots
        row_start = (np.arange(n_rows, dtype=roots.dtype) * n_cols)[:, None]
        cell = np.empty_like(node)
        step = np.empty_like(node)
        value = np.empty(node.shape, dtype=np.float32)
        threshold = np.empty(node.shape, dtype=np.float32)
        go_right = np.empty(node.shape, dtype=bool)
        # Leaves point to themselves, so every row can take max_depth_ steps without masks;
        # preallocated buffers keep the walk to a few array passes per level. Every index is
        # in range, so mode="clip" only skips take's bounds checks and output buffering.
        for _ in range(self.max_depth_):
            np.take(feature, node, out=cell, mode="clip")
            cell += row_start
            np.take(flat, cell, out=value, mode="clip")
            np.take(thresholds, node, out=threshold, mode="clip")
            np.greater(value, threshold, out=go_right)
            node *= 2
            node += go_right
            np.take(children, node, out=step, mode="clip")
            node, step = step, node
        depth = np.take(self.path_length_, node).sum(axis=1)
        if self.normalizer_ <= 0:
            return np.ones(n_rows, dtype=np.float64)
        scores: Scores = np.exp2(-depth / self.normalizer_)
        return scores


def _floor_float32(thresholds: NDArray[np.float64]) -> NDArray[np.float32]:
    """The largest float32 at or below each threshold.

    For a float32 value ``v``, ``v > t`` exactly when ``v > floor32(t)``; comparing float32
    with float32 skips converting every gathered value to float64 (~12% of the walk).

    >>> t = np.array([0.1, 2.0, -np.inf])
    >>> f = _floor_float32(t)
    >>> bool(np.all(f.astype(np.float64) <= t)), f[1]
    (True, np.float32(2.0))
    >>> v = np.float32([0.1])  # 0.10000000149..., above the float64 threshold 0.1
    >>> bool((v > t[:1])[0]), bool((v > f[:1])[0])
    (True, True)
    """
    floor = thresholds.astype(np.float32)
    above = floor.astype(np.float64) > thresholds
    floor[above] = np.nextafter(floor[above], np.float32(-np.inf))
    return floor


def _node_depths(left: NDArray[np.intp], right: NDArray[np.intp]) -> NDArray[np.float64]:
    """Depth of every node in edges from the root (the root has depth 0)."""
    depth = np.zeros(len(left), dtype=np.float64)
    frontier = np.array([0])
    while frontier.size:
        parents = np.concatenate([frontier, frontier])
        kids = np.concatenate([left[frontier], right[frontier]])
        inner = kids >= 0
        depth[kids[inner]] = depth[parents[inner]] + 1.0
        frontier = kids[inner]
    return depth


def _average_path_length(n_samples: NDArray[np.int64]) -> NDArray[np.float64]:
    """c(n): mean depth of an unsuccessful search in a binary search tree of n rows."""
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out
