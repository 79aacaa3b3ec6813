"""ECOD: rows in the far tails of the per-feature empirical distributions are anomalous."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors._ecdf import log_tails, skew_sign, skewed_tail, sorted_columns
from loghunt.detectors.base import Detector, Scores, score_in_chunks
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

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    sorted_columns_ : ndarray of shape (n_features, n_samples)
        Each training column, sorted (the empirical CDFs).
    skew_sign_ : ndarray of shape (n_features,)
        Sign of each column's skewness (0 for constant columns).
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
        self.sorted_columns_ = sorted_columns(data)
        self.skew_sign_ = skew_sign(data)
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = score_in_chunks(data, self._score_block)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block)

    def feature_scores(self, X: ArrayLike) -> NDArray[np.float64]:
        """Per-feature tail scores, shape (n_samples, n_features); rows sum to ``score``."""
        return self._tail_scores(self._validate_score(X))

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        scores: Scores = self._tail_scores(block).sum(axis=1)
        return scores

    def _tail_scores(self, data: NDArray[np.float32]) -> NDArray[np.float64]:
        out = np.empty(data.shape, dtype=np.float64)
        for j, column in enumerate(self.sorted_columns_):
            left, right = log_tails(column, data[:, j])
            skewed = skewed_tail(left, right, self.skew_sign_[j])
            out[:, j] = np.maximum(np.maximum(left, right), skewed)
        return out
