"""Empirical CDFs of the training columns, shared by ECOD and COPOD."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

#: A new value beyond every training value counts as half a training row: its tail
#: probability is then below the most extreme training row's, yet finite.
_UNSEEN_COUNT = 0.5
#: Relative size below which a mean of cubes computed as d * d * d is recomputed as d ** 3.
_CUBE_MARGIN = 1e-12


def log_tails(
    column: NDArray[np.float32], values: NDArray[np.float32]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``-log`` left and right tail probabilities of ``values`` under one sorted column.

    The left tail is ``#train <= x / n``, the right tail ``#train >= x / n`` (as PyOD's
    ``column_ecdf`` counts ties); a value beyond every training value counts as half a row.

    >>> left, right = log_tails(np.array([1.0, 2.0, 3.0, 4.0], np.float32), np.float32([1.0]))
    >>> float(left[0].round(3)), float(right[0])
    (1.386, -0.0)
    """
    n = column.shape[0]
    at_most = np.searchsorted(column, values, side="right").astype(np.float64)
    at_least = n - np.searchsorted(column, values, side="left").astype(np.float64)
    left = -np.log(np.maximum(at_most, _UNSEEN_COUNT) / n)
    right = -np.log(np.maximum(at_least, _UNSEEN_COUNT) / n)
    return left, right


def skewed_tail(
    left: NDArray[np.float64], right: NDArray[np.float64], sign: float
) -> NDArray[np.float64]:
    """The tail a column's skewness points at: PyOD's ``-sign(s - 1) * l + sign(s + 1) * r``.

    The right tail for right-skewed columns, the left for left-skewed ones, their sum when
    the skewness sign is 0.

    >>> float(skewed_tail(np.array([1.0]), np.array([2.0]), 0.0)[0])
    3.0
    """
    skewed: NDArray[np.float64] = -np.sign(sign - 1.0) * left + np.sign(sign + 1.0) * right
    return skewed


def skew_sign(
    columns: NDArray[np.float32], sorted_columns: NDArray[np.float32]
) -> NDArray[np.float64]:
    """Sign of each column's (biased) skewness, 0 where the column is constant, as scipy's
    ``skew`` followed by PyOD's ``nan_to_num``.

    ``columns`` holds the data columns as rows (shape (n_features, n_samples)) and
    ``sorted_columns`` the same rows sorted. The mean is taken over the column as it is; the
    central moments over its distinct values weighted by their counts (the same terms summed
    in another order, and far fewer of them on loghunt's mostly categorical features).

    >>> columns = np.array([[0.0, 0.0, 9.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    >>> skew_sign(columns, np.sort(columns, axis=1))
    array([1., 0.])
    """
    signs = np.zeros(columns.shape[0], dtype=np.float64)
    for j, (column, ordered) in enumerate(zip(columns, sorted_columns, strict=True)):
        mean = column.astype(np.float64).mean()
        starts = distinct_starts(ordered)
        counts = np.diff(np.append(starts, len(ordered)))
        deviation = ordered[starts].astype(np.float64) - mean
        squared = deviation * deviation
        m2 = np.dot(counts, squared) / len(ordered)
        if m2 <= (np.finfo(np.float64).resolution * mean) ** 2:
            continue
        # d * d * d is ~25x faster than d ** 3 (a pow call per value) and differs from it by
        # a few units in the last place per value: its mean has the same sign unless it is
        # that close to zero, where scipy's exact per-row cubes decide, as before.
        cubed = squared * deviation
        m3 = np.dot(counts, cubed)
        if abs(m3) <= _CUBE_MARGIN * np.dot(counts, np.abs(cubed)):
            m3 = np.mean((column.astype(np.float64) - mean) ** 3)
        signs[j] = np.sign(m3)
    return signs


def distinct_starts(ordered: NDArray[np.float32]) -> NDArray[np.intp]:
    """Where each run of equal values starts in a sorted column.

    >>> distinct_starts(np.float32([1.0, 1.0, 3.0])).tolist()
    [0, 2]
    """
    new = np.empty(len(ordered), dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    starts: NDArray[np.intp] = np.flatnonzero(new)
    return starts
