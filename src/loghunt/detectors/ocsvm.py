"""One-class SVM: rows outside the learnt support of the data are anomalous."""

from __future__ import annotations

import numbers
from typing import ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDOneClassSVM
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.svm import OneClassSVM

from loghunt.detectors.base import Detector, Scores, score_in_chunks
from loghunt.detectors.registry import register
from loghunt.errors import ConfigError
from loghunt.index.graph import NeighborGraph

_KERNELS = ("rbf", "linear", "poly", "sigmoid")
#: Landmarks of the Nystroem approximation used above ``max_exact`` rows.
_NYSTROEM_COMPONENTS = 300
#: Rows per scoring block: each needs a (rows x basis) kernel matrix.
_KERNEL_ROWS = 4_096


@register
class OCSVMDetector(Detector):
    """One-class SVM (Schölkopf et al. 2001), trained by scikit-learn, scored by loghunt.

    Up to ``max_exact`` training rows, scikit-learn's exact ``OneClassSVM`` is trained. Above
    that (its training time grows with the square of the rows), a Nystroem approximation of
    the kernel with 300 landmarks feeds a linear ``SGDOneClassSVM``. Either way the model is
    a kernel expansion ``f(x) = sum_i w_i k(b_i, x) + c`` over a basis (support vectors or
    landmarks), kept as plain arrays; the score is ``-f(x)`` (``-decision_function``).

    Parameters
    ----------
    kernel : {"rbf", "linear", "poly", "sigmoid"}, default="rbf"
        Kernel (``poly``: degree 3, ``coef0`` 0, as scikit-learn's defaults).
    nu : float, default=0.5
        Upper bound on the share of training rows outside the support; in (0, 1].
    gamma : "scale", "auto" or float, default="scale"
        Kernel coefficient, as scikit-learn resolves it (``"scale"``:
        ``1 / (n_features * X.var())``).
    max_exact : int, default=10_000
        Most training rows for the exact solver.
    random_state : int, default=0
        Seed of the Nystroem landmarks and of the SGD solver (the exact solver has none).

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    basis_ : ndarray of shape (n_basis, n_features)
        Support vectors (exact) or Nystroem landmarks (approximate).
    basis_weights_ : ndarray of shape (n_basis,)
        Weight of each basis row's kernel value in ``f``.
    intercept_ : float
        The constant ``c`` of ``f``.
    gamma_ : float
        The resolved kernel coefficient.
    exact_ : bool
        Whether the exact solver was used.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> det = OCSVMDetector(nu=0.1).fit(X)
    >>> s = det.score([[0.0, 0.0], [4.0, 4.0]])
    >>> bool(s[1] > s[0])
    True
    """

    name: ClassVar[str] = "ocsvm"
    _fitted_attrs: ClassVar[tuple[str, ...]] = (
        "train_scores_",
        "n_features_in_",
        "basis_",
        "basis_weights_",
        "intercept_",
        "gamma_",
        "exact_",
    )

    basis_: NDArray[np.float64]
    basis_weights_: NDArray[np.float64]
    intercept_: float
    gamma_: float
    exact_: bool

    def __init__(
        self,
        kernel: str = "rbf",
        nu: float = 0.5,
        gamma: str | float = "scale",
        max_exact: int = 10_000,
        random_state: int = 0,
    ) -> None:
        self.kernel = kernel
        self.nu = nu
        self.gamma = gamma
        self.max_exact = max_exact
        self.random_state = random_state

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        self._check_params()
        data32 = self._validate_fit(X)
        data = data32.astype(np.float64)
        self.gamma_ = self._resolve_gamma(data)
        self.exact_ = data.shape[0] <= self.max_exact
        if self.exact_:
            self._fit_exact(data)
        else:
            self._fit_approximate(data)
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = score_in_chunks(data32, self._score_block, _KERNEL_ROWS)
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        return score_in_chunks(self._validate_score(X), self._score_block, _KERNEL_ROWS)

    def _check_params(self) -> None:
        if self.kernel not in _KERNELS:
            raise ConfigError(f"unknown kernel {self.kernel!r}; choose one of {list(_KERNELS)}")
        if not 0.0 < self.nu <= 1.0:
            raise ConfigError(f"nu must be in (0, 1], got {self.nu!r}")
        if isinstance(self.gamma, str):
            if self.gamma not in ("scale", "auto"):
                raise ConfigError(f"gamma must be 'scale', 'auto' or a float, got {self.gamma!r}")
        elif not self.gamma > 0:
            raise ConfigError(f"a numeric gamma must be positive, got {self.gamma!r}")
        if not isinstance(self.max_exact, numbers.Integral) or self.max_exact < 1:
            raise ConfigError(f"max_exact must be a positive integer, got {self.max_exact!r}")

    def _resolve_gamma(self, data: NDArray[np.float64]) -> float:
        if self.gamma == "auto":
            return 1.0 / float(data.shape[1])
        if self.gamma == "scale":
            variance = float(data.var())
            return 1.0 / (data.shape[1] * variance) if variance != 0 else 1.0
        return float(self.gamma)

    def _fit_exact(self, data: NDArray[np.float64]) -> None:
        model = OneClassSVM(kernel=self.kernel, nu=self.nu, gamma=self.gamma_).fit(data)
        self.basis_ = np.asarray(model.support_vectors_, dtype=np.float64)
        self.basis_weights_ = np.asarray(model.dual_coef_, dtype=np.float64).ravel()
        self.intercept_ = float(model.intercept_[0])

    def _fit_approximate(self, data: NDArray[np.float64]) -> None:
        nystroem = Nystroem(
            kernel=self.kernel,
            n_components=min(_NYSTROEM_COMPONENTS, data.shape[0]),
            random_state=self.random_state,
            **_kernel_params(self.kernel, self.gamma_),
        ).fit(data)
        sgd = SGDOneClassSVM(nu=self.nu, random_state=self.random_state)
        sgd.fit(nystroem.transform(data))
        # transform(x) = k(x, landmarks) @ normalization_.T, so f is a kernel expansion too.
        self.basis_ = np.asarray(nystroem.components_, dtype=np.float64)
        self.basis_weights_ = nystroem.normalization_.T @ np.ravel(sgd.coef_)
        self.intercept_ = -float(np.ravel(sgd.offset_)[0])

    def _score_block(self, block: NDArray[np.float32]) -> Scores:
        kernel = pairwise_kernels(
            block.astype(np.float64),
            self.basis_,
            metric=self.kernel,
            **_kernel_params(self.kernel, self.gamma_),
        )
        scores: Scores = -(kernel @ self.basis_weights_ + self.intercept_)
        return scores


def _kernel_params(kernel: str, gamma: float) -> dict[str, float]:
    """Keyword arguments that make scikit-learn's kernel functions match ``OneClassSVM``'s
    (whose ``coef0`` is 0 where the kernel functions default to 1)."""
    if kernel == "linear":
        return {}
    if kernel == "poly":
        return {"gamma": gamma, "degree": 3, "coef0": 0.0}
    if kernel == "sigmoid":
        return {"gamma": gamma, "coef0": 0.0}
    return {"gamma": gamma}
