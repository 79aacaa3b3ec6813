"""Gaussian mixture: rows of low likelihood under a fitted mixture are anomalous."""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import linalg
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from loghunt.detectors.base import SCORE_CHUNK_ROWS, Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: scikit-learn's default ``reg_covar``: added to the covariance diagonal.
_REG_COVAR = 1e-6


@register
class GMMDetector(Detector):
    """Negative log-likelihood under a Gaussian mixture fitted by scikit-learn.

    scikit-learn's ``GaussianMixture`` fits the mixture; its weights, means and precision
    Cholesky factors (expanded to full matrices for every covariance type) are kept as plain
    arrays, and the score is ``-score_samples(x)``, computed here. One full-covariance
    component (the default, as PyOD's ``GMM``) is the sample mean and covariance, which is
    what EM converges to, computed directly.

    Parameters
    ----------
    n_components : int, default=1
        Mixture components; clamped (with a warning) to the number of training rows.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Shape of each component's covariance, as scikit-learn takes it.
    random_state : int, default=0
        Seed of the initialisation.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    weights_ : ndarray of shape (n_components_,)
        Mixture weights.
    means_ : ndarray of shape (n_components_, n_features)
        Component means.
    precisions_cholesky_ : ndarray of shape (n_components_, n_features, n_features)
        Cholesky factors of the component precision matrices.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> det = GMMDetector().fit(X)
    >>> s = det.score([[0.0, 0.0], [4.0, 4.0]])
    >>> bool(s[1] > s[0])
    True
    """

    name: ClassVar[str] = "gmm"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "weights_",
        "means_",
        "precisions_cholesky_",
    )

    weights_: NDArray[np.float64]
    means_: NDArray[np.float64]
    precisions_cholesky_: NDArray[np.float64]

    def __init__(
        self, n_components: int = 1, covariance_type: str = "full", random_state: int = 0
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.random_state = random_state

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        self._check_params()
        data32 = self._validate_fit(X)
        data = data32.astype(np.float64)
        n_components = self._n_components(data.shape[0])
        # EM's products are thin (n x d by d x n with small d): with two BLAS threads on busy
        # cores each one waited on a descheduled thread, and one product (37 x 100,000 by
        # 100,000 x 37) took 3 s instead of 0.01 s; a fit at 300,000 rows took 23 s, not 1 s.
        with threadpool_limits(limits=1, user_api="blas"):
            if n_components == 1 and self.covariance_type == "full":
                self._fit_one_gaussian(data)
                self.train_scores_ = self._centred_scores(data)
            else:
                self._fit_mixture(data, n_components)
                self.train_scores_ = score_in_chunks(data32, self._score_block)
        self.n_features_in_ = data.shape[1]
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return self._scores(self._validate_score(X))

    def _scores(self, data: NDArray[np.float32]) -> Scores:
        with threadpool_limits(limits=1, user_api="blas"):  # thin products, as in fit
            return score_in_chunks(data, self._score_block)

    def _fit_mixture(self, data: NDArray[np.float64], n_components: int) -> None:
        mixture = GaussianMixture(
            n_components=n_components,
            covariance_type=self.covariance_type,
            random_state=self.random_state,
        ).fit(data)
        self.weights_ = np.asarray(mixture.weights_, dtype=np.float64)
        self.means_ = np.asarray(mixture.means_, dtype=np.float64)
        self.precisions_cholesky_ = _full_precision_cholesky(
            mixture.precisions_cholesky_, self.covariance_type, *self.means_.shape
        )

    def _fit_one_gaussian(self, data: NDArray[np.float64]) -> None:
        """What EM finds for one full-covariance component, without EM: the sample mean and
        (biased) covariance plus scikit-learn's ``reg_covar``; the same model to ~1e-12, at a
        fifth of the cost (EM repeats the k-means start and the covariance 3 times).

        ``data`` (fit's own float64 copy) is centred in place: the training scores reuse it."""
        mean = data.mean(axis=0)
        data -= mean
        covariance = data.T @ data / data.shape[0]
        covariance.flat[:: data.shape[1] + 1] += _REG_COVAR
        try:
            lower = linalg.cholesky(covariance, lower=True)
        except linalg.LinAlgError:
            raise ConfigError(
                "the covariance is not positive definite; drop constant or duplicate features"
            ) from None
        eye = np.eye(data.shape[1])
        self.weights_ = np.ones(1)
        self.means_ = mean[None, :]
        self.precisions_cholesky_ = linalg.solve_triangular(lower, eye, lower=True).T[None]

    def _check_params(self) -> None:
        value = self.n_components
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ConfigError(f"n_components must be a positive integer, got {value!r}")
        if self.covariance_type not in _COVARIANCE_TYPES:
            raise ConfigError(
                f"unknown covariance_type {self.covariance_type!r}; "
                f"choose one of {list(_COVARIANCE_TYPES)}"
            )

    def _n_components(self, n_rows: int) -> int:
        if self.n_components > n_rows:
            warnings.warn(
                f"n_components ({self.n_components}) is more than the {n_rows} rows; "
                f"{n_rows} components are fitted",
                UserWarning,
                stacklevel=3,
            )
        return min(int(self.n_components), n_rows)

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        data = block.astype(np.float64)
        log_prob = np.empty((data.shape[0], len(self.weights_)))
        for k, mean in enumerate(self.means_):
            log_prob[:, k] = self._log_prob(data - mean, k)
        scores: Scores = -logsumexp(log_prob, axis=1)
        return scores

    def _centred_scores(self, centred: NDArray[np.float64]) -> Scores:
        """Scores under the single component of rows already centred on its mean (what
        logsumexp over one component returns: its log-probability, unchanged)."""
        scores = np.empty(centred.shape[0], dtype=np.float64)
        for start in range(0, centred.shape[0], SCORE_CHUNK_ROWS):
            block = centred[start : start + SCORE_CHUNK_ROWS]
            scores[start : start + block.shape[0]] = -self._log_prob(block, 0)
        return scores

    def _log_prob(self, centred: NDArray[np.float64], k: int) -> NDArray[np.float64]:
        """Weighted log-density of component ``k`` at rows centred on its mean."""
        chol = self.precisions_cholesky_[k]
        whitened = centred @ chol
        squared = np.square(whitened, out=whitened).sum(axis=1)
        log_prob: NDArray[np.float64] = -0.5 * (centred.shape[1] * np.log(2 * np.pi) + squared)
        log_prob += float(np.sum(np.log(np.diag(chol)))) + float(np.log(self.weights_[k]))
        return log_prob


def _full_precision_cholesky(
    chol: NDArray[np.float64], covariance_type: str, n_components: int, n_features: int
) -> NDArray[np.float64]:
    """scikit-learn's precision Cholesky factors, as (n_components, d, d) for every type."""
    chol = np.asarray(chol, dtype=np.float64)
    if covariance_type == "full":
        return chol
    if covariance_type == "tied":
        return np.broadcast_to(chol, (n_components, n_features, n_features)).copy()
    if covariance_type == "diag":
        return np.stack([np.diag(row) for row in chol])
    return np.stack([value * np.eye(n_features) for value in chol])
