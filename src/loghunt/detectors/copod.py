"""COPOD: rows whose empirical copula puts them in the far tails are anomalous."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from loghunt.detectors._ecdf import skewed_tail
from loghunt.detectors.ecod import ECODDetector
from loghunt.detectors.registry import register


@register
class COPODDetector(ECODDetector):
    """Copula-based outlier detection (Li et al. 2020), as PyOD's ``COPOD`` computes it.

    Each feature's values become ``-log`` left and right tail probabilities of the training
    rows' empirical CDF (the empirical copula). A row's per-feature score is the larger of
    the skewness-corrected tail (right tail for right-skewed features, left tail for
    left-skewed ones, their sum for symmetric or constant ones) and the mean of both tails;
    the row score is the sum over features (everything else is ECOD's: fitting, chunked
    scoring, ``feature_scores``, saving). Training scores equal PyOD's
    ``decision_scores_`` (up to PyOD's NaN for constant columns, which score 0 here).

    New rows are scored against the training distribution only (PyOD re-ranks them together
    with the training rows), so a row's score does not depend on its batch. A new value
    beyond every training value gets tail probability ``0.5 / n``.

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
    >>> det = COPODDetector().fit(X)
    >>> int(np.argmax(det.train_scores_))
    0
    >>> det.feature_scores(X[:1]).shape
    (1, 3)
    """

    name: ClassVar[str] = "copod"

    @staticmethod
    def _combine(
        left: NDArray[np.float64], right: NDArray[np.float64], sign: float
    ) -> NDArray[np.float64]:
        # ECOD takes the larger tail; COPOD the mean of both tails unless the skewed one is larger.
        larger: NDArray[np.float64] = np.maximum(
            skewed_tail(left, right, sign), 0.5 * (left + right)
        )
        return larger
