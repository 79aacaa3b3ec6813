"""ECOD: rows in the far tails of the per-feature empirical distributions are anomalous."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors._ecdf import _UNSEEN_COUNT, distinct_starts, skew_sign, skewed_tail
from loghunt.detectors.base import SCORE_CHUNK_ROWS, Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.index.graph import NeighborGraph


@register
class ECODDetector(Detector):
    """Empirical-CDF outlier detection (Li et al. 2022), as PyOD's ``ECOD`` computes it.

    For each feature, the left and right tail probabilities of a value are read from the
    training rows' empirical CDF (``#train <= x / n`` and ``#train >= x / n``); a row's
    per-feature score is the largest of ``-log`` left tail, ``-log`` right tail and the
    skewness-corrected tail (the left tail for left-skewed features, the right tail for
    right-skewed ones, their sum for symmetric or constant ones). The row score is the sum
    over features. Training scores equal PyOD's ``decision_scores_``.

    Unlike PyOD, new rows are scored against the training distribution only, so a row's score
    does not depend on the batch it arrives in. A new value beyond every training value gets
    tail probability ``0.5 / n``.

    A column's tail probabilities take only ``2 m + 1`` values for its ``m`` distinct training
    values (equal to one of them, or strictly between two), so each column's per-feature
    score is tabulated once at fit time and a row's score is a look-up after a binary search
    among the distinct values (same numbers as counting in the full sorted column, far less
    memory traffic on the categorical features loghunt produces).

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    sorted_columns_ : ndarray of shape (n_features, n_samples)
        Each training column, sorted (the empirical CDFs).
    skew_sign_ : ndarray of shape (n_features,)
        Sign of each column's skewness (0 for constant columns).
    tail_tables_ : list of (values, scores) pairs, one per column
        The column's distinct training values and the per-feature score of each slot
        (derived from the two above when fitted or loaded; not saved).
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 3))
    >>> X[0] = [5.0, -5.0, 5.0]
    >>> det = ECODDetector().fit(X)
    >>> int(np.argmax(det.train_scores_))
    0
    >>> det.feature_scores(X[:1]).shape
    (1, 3)
    """

    name: ClassVar[str] = "ecod"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "sorted_columns_",
        "skew_sign_",
    )

    sorted_columns_: NDArray[np.float32]
    skew_sign_: NDArray[np.float64]

    def __init__(self) -> None:
        pass

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        data = self._validate_fit(X)
        # One transposed copy: sorting and reading contiguous columns is ~2x faster.
        columns = np.ascontiguousarray(data.T)
        self.sorted_columns_ = np.sort(columns, axis=1)
        self.skew_sign_ = skew_sign(columns, self.sorted_columns_)
        self.n_features_in_ = data.shape[1]
        self._tabulate()
        self.train_scores_ = self._train_scores(columns)
        return self

    @classmethod
    def from_arrays(cls, config: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> Self:
        detector = super().from_arrays(config, arrays)
        detector._tabulate()
        return detector

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block)

    def feature_scores(self, X: ArrayLike) -> NDArray[np.float64]:
        """Per-feature tail scores, shape (n_samples, n_features); rows sum to ``score``."""
        return self._tail_scores(self._validate_score(X))

    def _train_scores(self, columns: NDArray[np.float32]) -> Scores:
        """Training scores from the data columns: a training value is one of the column's
        distinct values, so its slot is ``2 i + 1`` for the position ``i`` found."""
        equal_slots = [(values, table[1::2]) for values, table in self.tail_tables_]
        out = np.empty(columns.shape[1], dtype=np.float64)
        for start in range(0, columns.shape[1], SCORE_CHUNK_ROWS):
            block = columns[:, start : start + SCORE_CHUNK_ROWS]
            tails = np.empty(block.shape[::-1], dtype=np.float64)
            for j, (values, table) in enumerate(equal_slots):
                tails[:, j] = table[np.searchsorted(values, block[j])]
            out[start : start + block.shape[1]] = tails.sum(axis=1)
        return out

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        scores: Scores = self._tail_scores(block).sum(axis=1)
        return scores

    def _tail_scores(self, data: NDArray[np.float32]) -> NDArray[np.float64]:
        out = np.empty(data.shape, dtype=np.float64)
        # Searching contiguous columns is ~1.6x faster than strided ones.
        columns = np.ascontiguousarray(data.T)
        for j, (values, table) in enumerate(self.tail_tables_):
            out[:, j] = table[_slots(values, columns[j])]
        return out

    def _tabulate(self) -> None:
        """Each column's distinct training values and per-slot feature scores (see the class)."""
        self.tail_tables_: list[tuple[NDArray[np.float32], NDArray[np.float64]]] = []
        for column, sign in zip(self.sorted_columns_, self.skew_sign_, strict=True):
            values, left, right = _slot_tails(column)
            self.tail_tables_.append((values, self._combine(left, right, float(sign))))

    @staticmethod
    def _combine(
        left: NDArray[np.float64], right: NDArray[np.float64], sign: float
    ) -> NDArray[np.float64]:
        """Per-feature score from ``-log`` tails: the larger tail or the skewed one."""
        larger: NDArray[np.float64] = np.maximum(
            np.maximum(left, right), skewed_tail(left, right, sign)
        )
        return larger


def _slot_tails(
    column: NDArray[np.float32],
) -> tuple[NDArray[np.float32], NDArray[np.float64], NDArray[np.float64]]:
    """Distinct values of a sorted column and ``-log`` left and right tails of each slot.

    Slot ``2 i`` holds values strictly between distinct values ``i - 1`` and ``i`` (below the
    first for ``i = 0``, above the last for ``i = m``), slot ``2 i + 1`` values equal to
    value ``i``. Counts are as :func:`loghunt.detectors._ecdf.log_tails` makes them.

    >>> values, left, right = _slot_tails(np.float32([1.0, 1.0, 3.0]))
    >>> values.tolist(), np.exp(-left).round(3).tolist()
    ([1.0, 3.0], [0.167, 0.667, 0.667, 1.0, 1.0])
    """
    n = column.shape[0]
    starts = distinct_starts(column)
    # below[i]: training values < distinct value i (n past the last one).
    below = np.append(starts, n).astype(np.float64)
    slots = np.arange(2 * len(starts) + 1)
    at_most, at_least = below[(slots + 1) // 2], n - below[slots // 2]
    left = -np.log(np.maximum(at_most, _UNSEEN_COUNT) / n)
    right = -np.log(np.maximum(at_least, _UNSEEN_COUNT) / n)
    return column[starts], left, right


def _slots(values: NDArray[np.float32], x: NDArray[np.float32]) -> NDArray[np.intp]:
    """Slot of each of ``x`` among the sorted distinct ``values`` (see :func:`_slot_tails`)."""
    position = np.searchsorted(values, x, side="left")
    equal = values[np.minimum(position, len(values) - 1)] == x
    slots: NDArray[np.intp] = 2 * position + equal
    return slots
