"""Mahalanobis distance: rows far from the bulk, given its correlations, are anomalous."""

from __future__ import annotations

import warnings
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.covariance import MinCovDet

from loghunt.detectors.base import Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.index.graph import NeighborGraph

#: Rows the Minimum Covariance Determinant is fitted on (its cost grows fast with rows).
_MCD_SAMPLE_ROWS = 5_000
#: Eigenvalues below this share of the largest mean a singular covariance.
_SINGULAR_RATIO = 1e-9
#: Ridge added to a singular empirical covariance, as a share of its mean variance.
_RIDGE = 1e-6


@register
class MahalanobisDetector(Detector):
    """Squared Mahalanobis distance to a robust centre, under a robust covariance.

    scikit-learn's ``MinCovDet`` (Minimum Covariance Determinant) estimates the centre and
    covariance of the bulk of the data from up to 5,000 sampled rows, so that the outliers
    being hunted do not inflate the covariance that should expose them. Where the covariance
    is singular (fewer rows than features, constant or collinear features) MCD cannot work;
    the empirical mean and covariance, plus a small ridge on the diagonal, are used instead.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the row sample and of MCD.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    location_ : ndarray of shape (n_features,)
        Centre of the data.
    precision_ : ndarray of shape (n_features, n_features)
        Inverse of the covariance.
    robust_ : bool
        Whether MCD gave the estimate (False: empirical covariance with a ridge).
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = rng.normal(size=500)
    >>> X = np.c_[t, t + 0.1 * rng.normal(size=500)]
    >>> det = MahalanobisDetector().fit(X)
    >>> s = det.score([[1.0, 1.0], [1.0, -1.0]])  # the second breaks the correlation
    >>> bool(s[1] > 10 * s[0]), det.robust_
    (True, True)
    """

    name: ClassVar[str] = "mahalanobis"
    #: Rows the robust covariance is learnt from (a random sample above; the planner reads it).
    fit_sample_rows: ClassVar[int] = _MCD_SAMPLE_ROWS
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "location_",
        "precision_",
        "robust_",
    )

    location_: NDArray[np.float64]
    precision_: NDArray[np.float64]
    robust_: bool

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        data32 = self._validate_fit(X)
        rng = np.random.default_rng(self.random_state)
        sample = data32
        if data32.shape[0] > self.fit_sample_rows:
            rows = np.sort(rng.choice(data32.shape[0], self.fit_sample_rows, replace=False))
            sample = data32[rows]
        robust = _robust_estimate(sample.astype(np.float64), self.random_state)
        self.robust_ = robust is not None
        location, covariance = robust or _ridge_estimate(sample.astype(np.float64))
        self.location_ = location
        self.precision_ = np.asarray(np.linalg.pinv(covariance, hermitian=True), np.float64)
        self.n_features_in_ = data32.shape[1]
        self.train_scores_ = score_in_chunks(data32, self._score_block)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block)

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        centred = block.astype(np.float64) - self.location_
        scores: Scores = np.einsum("ij,jk,ik->i", centred, self.precision_, centred)
        return np.maximum(scores, 0.0)


def _covariance(data: NDArray[np.float64]) -> NDArray[np.float64]:
    covariance: NDArray[np.float64] = np.atleast_2d(np.cov(data, rowvar=False, ddof=0))
    return covariance


def _is_singular(covariance: NDArray[np.float64]) -> bool:
    eigenvalues = np.linalg.eigvalsh(covariance)
    return bool(eigenvalues[0] <= _SINGULAR_RATIO * max(float(eigenvalues[-1]), 0.0))


def _robust_estimate(
    data: NDArray[np.float64], seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """MCD's centre and covariance, or None where the data or MCD's subset is singular."""
    if data.shape[0] <= data.shape[1] + 1 or _is_singular(_covariance(data)):
        return None
    with warnings.catch_warnings():
        # MCD warns (RuntimeWarning) when the subset it settles on is singular.
        warnings.simplefilter("error", RuntimeWarning)
        try:
            mcd = MinCovDet(random_state=seed).fit(data)
        except (RuntimeWarning, ValueError, np.linalg.LinAlgError):
            return None
    covariance = np.asarray(mcd.covariance_, dtype=np.float64)
    if _is_singular(covariance):
        return None
    return np.asarray(mcd.location_, dtype=np.float64), covariance


def _ridge_estimate(data: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Empirical mean and covariance, with a ridge that makes the covariance invertible."""
    covariance = _covariance(data)
    mean_variance = float(np.trace(covariance)) / covariance.shape[0]
    ridge = _RIDGE * mean_variance if mean_variance > 0 else _RIDGE
    return data.mean(axis=0), covariance + ridge * np.eye(covariance.shape[0])
