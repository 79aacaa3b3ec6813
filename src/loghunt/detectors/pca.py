"""PCA: rows far out along the principal axes, in units of each axis' spread, are anomalous."""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.decomposition import PCA

from loghunt.detectors.base import Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

#: Axes with less variance than this share of the largest are given this variance: rows off
#: the training subspace score high, yet finitely.
_VARIANCE_FLOOR = 1e-6
#: Variance used when every training row is the same.
_MIN_VARIANCE = 1e-12


@register
class PCADetector(Detector):
    """Principal-component outlier score (Shyu et al. 2003), fitted by scikit-learn.

    Features are standardised (as PyOD's ``PCA`` does by default), scikit-learn's ``PCA``
    finds the principal axes, and a row's score is the sum over the kept axes of its squared
    projection divided by that axis' explained variance: with all axes kept, the squared
    Mahalanobis distance to the mean. Major axes catch rows extreme along the usual
    directions of variation, minor axes rows that break the usual correlations.

    Parameters
    ----------
    n_components : int, float or None, default=None
        Axes to keep, as scikit-learn's ``PCA`` takes it (None: all, a float in (0, 1): the
        share of variance to explain).

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    mean_, scale_ : ndarray of shape (n_features,)
        Standardisation of the features (scale 1 for constant features).
    components_ : ndarray of shape (n_components_, n_features)
        Principal axes in the standardised space.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance along each axis, floored at ``1e-6`` times the largest.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = rng.normal(size=500)
    >>> X = np.c_[t, t + 0.1 * rng.normal(size=500)]
    >>> det = PCADetector().fit(X)
    >>> s = det.score([[1.0, 1.0], [1.0, -1.0]])  # the second breaks the correlation
    >>> bool(s[1] > 10 * s[0])
    True
    """

    name: ClassVar[str] = "pca"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "mean_",
        "scale_",
        "components_",
        "explained_variance_",
    )

    mean_: NDArray[np.float64]
    scale_: NDArray[np.float64]
    components_: NDArray[np.float64]
    explained_variance_: NDArray[np.float64]

    def __init__(self, n_components: int | float | None = None) -> None:
        self.n_components = n_components

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        self._check_params()
        data32 = self._validate_fit(X)
        data = data32.astype(np.float64)
        self.mean_ = data.mean(axis=0)
        std = data.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        pca = PCA(n_components=self._n_components(data.shape), svd_solver="full")
        with np.errstate(divide="ignore", invalid="ignore"):
            # Constant data: scikit-learn's variance ratios divide 0 by 0 (unused here).
            pca.fit((data - self.mean_) / self.scale_)
        self.components_ = np.asarray(pca.components_, dtype=np.float64)
        variance = np.asarray(pca.explained_variance_, dtype=np.float64)
        floor = max(_VARIANCE_FLOOR * float(variance.max(initial=0.0)), _MIN_VARIANCE)
        self.explained_variance_ = np.maximum(variance, floor)
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = score_in_chunks(data32, self._score_block)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block)

    def _check_params(self) -> None:
        value = self.n_components
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ConfigError(f"n_components must be None, an int or a float, got {value!r}")
        if isinstance(value, numbers.Integral) and value < 1:
            raise ConfigError(f"n_components must be at least 1, got {value!r}")
        if not isinstance(value, numbers.Integral) and not 0.0 < float(value) < 1.0:
            raise ConfigError(f"a float n_components must be in (0, 1), got {value!r}")

    def _n_components(self, shape: tuple[int, ...]) -> int | float | None:
        """An integer ``n_components`` clamped (with a warning) to what the data allows."""
        if not isinstance(self.n_components, numbers.Integral):
            return self.n_components
        most = min(shape)
        if self.n_components > most:
            warnings.warn(
                f"n_components ({self.n_components}) is more than min(n_samples, n_features) "
                f"= {most}; {most} axes are kept",
                UserWarning,
                stacklevel=3,
            )
        return min(int(self.n_components), most)

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        projected = ((block - self.mean_) / self.scale_) @ self.components_.T
        scores: Scores = (projected**2 / self.explained_variance_).sum(axis=1)
        return scores
