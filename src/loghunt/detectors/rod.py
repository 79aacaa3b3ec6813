"""ROD: rows whose rotation about the geometric median costs an unusual volume are anomalous."""

from __future__ import annotations

import itertools
import math
import numbers
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors.base import Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

#: PyOD's angle groups: angles up to 90 degrees are scaled into the first range, wider ones
#: into the second (the ranges where the rotation volume ``cos(g) sin(g)**2`` is monotone).
_FIRST = (0.001, 0.955)
_SECOND = (math.pi / 2 + 0.001, 2.186)
#: 0.6745 / MAD is the consistency constant of the modified z-score (Iglewicz and Hoaglin).
_MAD_CONSTANT = 0.6745
#: PyOD's stopping distance for the geometric median iteration, and a bound it lacks.
_MEDIAN_TOL = 1e-5
_MEDIAN_MAX_ITER = 1_000
#: Rows per scoring block: (rows x subspaces) temporaries stay in cache.
_BLOCK_ROWS = 2_048


@register
class RODDetector(Detector):
    """Rotation-based outlier detection (Almardeny et al. 2020) on a bounded set of subspaces.

    In each 3-D subspace, every row is a vector from the subspace's geometric median; rotating
    it about the median's direction sweeps a volume ``|v|**3 cos(g) sin(g)**2`` (``g`` its
    angle to the median, rescaled as PyOD rescales it). A row's subspace score is the
    modified z-score ``0.6745 |cost - median| / MAD`` of that volume among the training rows,
    squashed by a sigmoid; the row score is the mean over subspaces. As in PyOD, more than
    three columns are first robust-scaled (median, interquartile range); three or fewer are
    used as they are (zero-padded to three) and scored without the sigmoid.

    PyOD fits all ``C(d, 3)`` subspaces, which is cubic in the number of columns (7,770 at
    ``d = 37``). Here, when ``C(d, 3)`` exceeds ``max(max_subspaces, d)``, that many distinct
    subspaces are drawn instead: consecutive triples of successive random permutations of the
    columns (seeded by ``random_state``), so every column sits in about the same number of
    subspaces. The work is then linear in ``d`` and in the number of rows. With all subspaces
    (``d <= 8`` by default) and at most ``max_samples`` rows, training scores equal PyOD's.

    Two further departures from PyOD bound the rest of the work and make scores independent of
    the batch: the robust scaling, the geometric medians (Vardi and Zhang's iteration on the
    distinct rows, as PyOD does it), the angle ranges and the costs' median and MAD are all
    learnt from a seeded sample of ``max_samples`` rows, and every row, old or new, is then
    scored against them (PyOD recomputes the MAD on each batch it scores). Where the MAD is 0
    (most rows share one cost) the mean absolute deviation, or else 1, replaces it; PyOD
    divides by zero there. On 100,000 CloudTrail events (37 features), fitting on 8,192 rows
    instead of all ranks the rows alike (Spearman 0.97) and the whole fit takes ~1.3 CPU
    seconds at 300,000 events, where PyOD's all-subspace ROD was forecast at ~14,000 s.

    Parameters
    ----------
    max_subspaces : int, default=64
        Subspaces drawn when there are more than ``max(max_subspaces, n_features)``.
    max_samples : int, default=8192
        Rows the fitted state is learnt from (all rows when fewer); every row is scored.
    random_state : int, default=0
        Seed of the subspace draw and of the sample.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    subspaces_ : ndarray of shape (n_subspaces, 3)
        Column indices of each subspace (of the zero-padded columns when ``d < 3``).
    center_, scale_ : ndarray of shape (n_features,)
        Robust scaling (median, interquartile range); 0 and 1 when ``d <= 3``.
    medians_ : ndarray of shape (n_subspaces, 3)
        Geometric median of each subspace.
    angle_ranges_ : ndarray of shape (n_subspaces, 4)
        Low and high ends of the training angles of the first and of the second group.
    cost_median_, cost_mad_ : ndarray of shape (n_subspaces,)
        Median and MAD of the training rows' costs.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 5))
    >>> X[0] = [6.0, -6.0, 6.0, -6.0, 6.0]
    >>> det = RODDetector().fit(X)
    >>> int(np.argmax(det.train_scores_)), det.subspaces_.shape
    (0, (10, 3))
    """

    name: ClassVar[str] = "rod"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "subspaces_",
        "center_",
        "scale_",
        "medians_",
        "angle_ranges_",
        "cost_median_",
        "cost_mad_",
    )

    subspaces_: NDArray[np.intp]
    center_: NDArray[np.float64]
    scale_: NDArray[np.float64]
    medians_: NDArray[np.float64]
    angle_ranges_: NDArray[np.float64]
    cost_median_: NDArray[np.float64]
    cost_mad_: NDArray[np.float64]

    def __init__(
        self, max_subspaces: int = 64, max_samples: int = 8192, random_state: int = 0
    ) -> None:
        self.max_subspaces = max_subspaces
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        self._check_params()
        data = full = self._validate_fit(X)
        n, d = data.shape
        rng = np.random.default_rng(self.random_state)
        self.n_features_in_ = d
        self.subspaces_ = _choose_subspaces(max(d, 3), max(self.max_subspaces, d), rng)
        if n > self.max_samples:
            data = data[np.sort(rng.choice(n, self.max_samples, replace=False))]
        self._fit_scaler(data)
        self._fit_subspaces(data)
        self.train_scores_ = score_in_chunks(full, self._score_block, _BLOCK_ROWS)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block, _BLOCK_ROWS)

    def _check_params(self) -> None:
        for key, low in (("max_subspaces", 1), ("max_samples", 3)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise ConfigError(f"{key} must be an integer >= {low}, got {value!r}")

    def _fit_scaler(self, data: NDArray[np.float32]) -> None:
        d = data.shape[1]
        self.center_, self.scale_ = np.zeros(d), np.ones(d)
        if d > 3:
            low, mid, high = np.percentile(data.astype(np.float64), [25.0, 50.0, 75.0], axis=0)
            spread = high - low
            # scikit-learn's RobustScaler leaves (near-)constant columns unscaled.
            tiny = spread < 10 * np.finfo(np.float64).eps
            self.center_, self.scale_ = mid, np.where(tiny, 1.0, spread)

    def _fit_subspaces(self, sample: NDArray[np.float32]) -> None:
        """Geometric medians, angle ranges and cost median and MAD of every subspace."""
        scaled = self._scaled(sample)
        ranks, sizes = _dense_ranks(scaled)
        medians = []
        for columns in self.subspaces_:
            points = np.ascontiguousarray(scaled[columns].T)
            medians.append(_geometric_median(_unique_rows(points, ranks[columns], sizes[columns])))
        self.medians_ = np.stack(medians)
        coordinates = self._coordinates(scaled)
        angles, lengths = _angles(coordinates, self.medians_)
        n_sub = len(self.subspaces_)
        self.angle_ranges_ = np.stack(
            [_angle_ranges(angles[s, lengths[s] > 0]) for s in range(n_sub)]
        )
        costs = _costs(angles, lengths, self.angle_ranges_)
        self.cost_median_ = np.median(costs, axis=1)
        deviations = np.abs(costs - self.cost_median_[:, None])
        self.cost_mad_ = np.array([_mad(row) for row in deviations])

    def _scaled(self, data: NDArray[np.float32]) -> NDArray[np.float64]:
        """Robust-scaled columns, shape (max(d, 3), rows): zero columns pad d < 3."""
        d = data.shape[1]
        scaled = np.zeros((max(d, 3), data.shape[0]))
        np.subtract(data.T, self.center_[:, None], out=scaled[:d])
        scaled[:d] /= self.scale_[:, None]
        return scaled

    def _coordinates(self, scaled: NDArray[np.float64]) -> NDArray[np.float64]:
        """Rows relative to each subspace's median, shape (3, subspaces, rows).

        Subspaces by rows (not rows by subspaces): every per-subspace constant then
        broadcasts along long contiguous runs of rows.
        """
        vectors: NDArray[np.float64] = np.take(scaled, self.subspaces_.T, axis=0)
        vectors -= self.medians_.T[:, :, None]
        return vectors

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        angles, lengths = _angles(self._coordinates(self._scaled(block)), self.medians_)
        z = _costs(angles, lengths, self.angle_ranges_)
        z -= self.cost_median_[:, None]
        np.abs(z, out=z)
        if self.n_features_in_ > 3:
            # PyOD squashes each subspace's z-score, but returns a single subspace's as it is.
            # The z-score is computed negated (sign changes are exact) for exp(-z).
            z *= -_MAD_CONSTANT
            z /= self.cost_mad_[:, None]
            np.exp(z, out=z)
            z += 1.0
            np.divide(1.0, z, out=z)
        else:
            z *= _MAD_CONSTANT
            z /= self.cost_mad_[:, None]
        # The mean over subspaces, summed in subspace order (as numpy summed the former
        # column-major rows x subspaces array).
        total = z[0].copy()
        for row in z[1:]:
            total += row
        scores: Scores = total / len(z)
        return scores


def _choose_subspaces(d: int, budget: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """All 3-column subsets (PyOD's order) if they fit ``budget``, else ``budget`` balanced."""
    if math.comb(d, 3) <= budget:
        return np.array(list(itertools.combinations(range(d), 3)), dtype=np.intp)
    chosen: dict[tuple[int, ...], None] = {}
    while len(chosen) < budget:
        order = rng.permutation(d)
        triples = list(order[: d - d % 3].reshape(-1, 3))
        if d % 3:
            rest = order[d - d % 3 :]
            others = rng.choice(np.setdiff1d(np.arange(d), rest), 3 - len(rest), replace=False)
            triples.append(np.concatenate([rest, others]))
        for triple in triples:
            chosen.setdefault(tuple(sorted(int(c) for c in triple)))
            if len(chosen) == budget:
                break
    return np.array(list(chosen), dtype=np.intp)


def _geometric_median(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Vardi and Zhang's L1-median of distinct ``points``, started at their mean (as PyOD)."""
    columns = np.ascontiguousarray(points.T)  # contiguous coordinates for the distances
    median: NDArray[np.float64] = points.mean(axis=0)
    for _ in range(_MEDIAN_MAX_ITER):
        distance = _distances(columns, median)
        away = distance != 0
        n_at = len(points) - int(np.count_nonzero(away))
        if n_at == len(points):
            return median
        # Rows off the estimate (all of them, usually: then no copies).
        near, inverse = (points[away], 1.0 / distance[away]) if n_at else (points, 1.0 / distance)
        total = inverse.sum()
        step = (inverse / total) @ near
        if n_at:
            # A data point sits on the estimate: move only as far as the others pull it off.
            pull = float(np.linalg.norm((step - median) * total))
            ratio = 0.0 if pull == 0 else n_at / pull
            step = max(0.0, 1.0 - ratio) * step + min(1.0, ratio) * median
        if np.linalg.norm(median - step) < _MEDIAN_TOL:
            return np.asarray(step, dtype=np.float64)
        median = step
    return median


def _distances(columns: NDArray[np.float64], point: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean distance of every column of ``columns`` (3, n) to ``point``.

    Summed as ``np.linalg.norm(rows - point, axis=1)`` sums (first, second, then third
    square), from contiguous coordinates rather than 3-value rows.
    """
    x, y, z = columns[0] - point[0], columns[1] - point[1], columns[2] - point[2]
    x *= x
    y *= y
    z *= z
    x += y
    x += z
    distance: NDArray[np.float64] = np.sqrt(x, out=x)
    return distance


def _dense_ranks(columns: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Dense rank of every value within its row of ``columns`` (one data column per row),
    and the number of distinct values of each row."""
    ranks = np.empty(columns.shape, dtype=np.intp)
    sizes = np.empty(len(columns), dtype=np.intp)
    for j, column in enumerate(columns):
        distinct, ranks[j] = np.unique(column, return_inverse=True)
        sizes[j] = len(distinct)
    return ranks, sizes


def _unique_rows(
    points: NDArray[np.float64], ranks: NDArray[np.intp], sizes: NDArray[np.intp]
) -> NDArray[np.float64]:
    """``np.unique(points, axis=0)``: the same rows in the same (lexicographic) order.

    ``ranks`` (3, n) and ``sizes`` are the columns' dense ranks (:func:`_dense_ranks`):
    combined into one integer per row, they sort as the rows do, and one sort of integers
    is ~4x faster than ``np.lexsort`` on the three float columns. Each distinct row is
    represented by its first occurrence, as a stable lexsort would pick.
    """
    if math.prod(int(size) for size in sizes) < 2**63:
        key = (ranks[0] * sizes[1] + ranks[1]) * sizes[2] + ranks[2]
        first = np.unique(key, return_index=True)[1]
        unique: NDArray[np.float64] = points[first]
        return unique
    order = np.lexsort(points.T[::-1])
    ordered = points[order]
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    unique = ordered[new]
    return unique


def _angles(
    vectors: NDArray[np.float64], medians: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Angles of ``vectors`` (3, subspaces, rows) to their medians' directions, and lengths.

    A median at the origin gives no direction: every angle is then 90 degrees (PyOD's choice),
    so the cost depends on the length alone. Zero-length vectors get angle 0 (cost 0).
    Squares and products are summed over the coordinates in order (x, y, then z): the
    order numpy's einsum took on the former rows x subspaces x 3 arrays, so that scores
    did not change with the layout.
    """
    x, y, z = vectors
    lengths = x * x
    term = y * y
    lengths += term
    np.multiply(z, z, out=term)
    lengths += term
    np.sqrt(lengths, out=lengths)
    dots = x * medians[:, 0, None]
    np.multiply(y, medians[:, 1, None], out=term)
    dots += term
    np.multiply(z, medians[:, 2, None], out=term)
    dots += term
    norms = np.linalg.norm(medians, axis=1)
    denominator = np.multiply(lengths, norms[:, None], out=term)
    cosine = np.divide(dots, denominator, out=np.ones_like(lengths), where=denominator > 0)
    np.clip(cosine, -1.0, 1.0, out=cosine)
    angles = np.arccos(cosine, out=cosine)
    angles[norms == 0] = math.pi / 2
    return angles, lengths


def _angle_ranges(angles: NDArray[np.float64]) -> NDArray[np.float64]:
    """PyOD's MinMaxScaler fits: each group's range widened to hold its target range's ends."""
    first = angles[angles <= math.pi / 2]
    second = angles[angles > math.pi / 2]
    return np.array(
        [
            min(first.min(initial=_FIRST[0]), _FIRST[0]),
            max(first.max(initial=_FIRST[1]), _FIRST[1]),
            min(second.min(initial=_SECOND[0]), _SECOND[0]),
            max(second.max(initial=_SECOND[1]), _SECOND[1]),
        ]
    )


def _costs(
    angles: NDArray[np.float64], lengths: NDArray[np.float64], ranges: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The rotation volume ``|v|**3 cos(g) sin(g)**2``, ``g`` rescaled per angle group."""
    low1, high1, low2, high2 = ranges.T
    slope1 = (_FIRST[1] - _FIRST[0]) / (high1 - low1)
    slope2 = (_SECOND[1] - _SECOND[0]) / (high2 - low2)
    # Each angle's slope and offset, gathered from a (subspace, group) table: ~4x faster
    # than np.where between the two groups' broadcast values.
    slopes = np.stack([slope2, slope1], axis=1).ravel()
    offsets = np.stack([_SECOND[0] - low2 * slope2, _FIRST[0] - low1 * slope1], axis=1).ravel()
    group = np.less_equal(angles, math.pi / 2).view(np.uint8)
    index = np.add(group, 2 * np.arange(len(ranges))[:, None], dtype=np.intp)
    scaled = np.take(slopes, index)
    scaled *= angles
    scaled += np.take(offsets, index)
    cosine = np.cos(scaled, out=scaled)
    # cos(g) sin(g)**2 = cos(g) (1 - cos(g)**2): one trigonometric call instead of two;
    # products instead of ** 3, which numpy hands to the slow general pow.
    costs: NDArray[np.float64] = 1.0 - cosine * cosine
    costs *= cosine
    costs *= lengths
    costs *= lengths
    costs *= lengths
    return costs


def _mad(deviations: NDArray[np.float64]) -> float:
    """Median absolute deviation; the mean, or 1, when more than half the deviations are 0."""
    for value in (np.median(deviations), deviations.mean()):
        if value > 0:
            return float(value)
    return 1.0
