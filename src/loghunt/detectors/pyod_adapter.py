"""Any PyOD model as a loghunt detector: ``make_detector("pyod:SOD", n_neighbors=20)``."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.detectors.base import Detector, Scores
from loghunt.errors import ConfigError, MissingExtraError
from loghunt.index.graph import NeighborGraph

#: PyOD class name -> module, for the models that import and fit without torch.
PYOD_MODELS: dict[str, str] = {
    "ABOD": "pyod.models.abod",
    "CBLOF": "pyod.models.cblof",
    "COF": "pyod.models.cof",
    "COPOD": "pyod.models.copod",
    "ECOD": "pyod.models.ecod",
    "GMM": "pyod.models.gmm",
    "HBOS": "pyod.models.hbos",
    "IForest": "pyod.models.iforest",
    "INNE": "pyod.models.inne",
    "KDE": "pyod.models.kde",
    "KNN": "pyod.models.knn",
    "KPCA": "pyod.models.kpca",
    "LMDD": "pyod.models.lmdd",
    "LOCI": "pyod.models.loci",
    "LODA": "pyod.models.loda",
    "LOF": "pyod.models.lof",
    "MCD": "pyod.models.mcd",
    "OCSVM": "pyod.models.ocsvm",
    "PCA": "pyod.models.pca",
    "QMCD": "pyod.models.qmcd",
    "ROD": "pyod.models.rod",
    "SOD": "pyod.models.sod",
    "SOS": "pyod.models.sos",
    "Sampling": "pyod.models.sampling",
}


class PyODDetector(Detector):
    """A PyOD model, named by its class, behind loghunt's detector contract.

    ``fit`` builds ``pyod.models.<module>.<model>(**params)`` and fits it on the rows (as
    float64); scores are the model's ``decision_function`` (PyOD's scores are already higher
    = more anomalous), and ``train_scores_`` its ``decision_scores_``. PyOD is imported only
    here, when a model is fitted; without it, fitting raises :class:`MissingExtraError`.

    Some PyOD models store intermediate results on themselves while scoring; each call scores
    with a shallow copy of the fitted model so that the detector itself is never changed.

    Not saveable: a PyOD model's fitted state is arbitrary Python objects, which loghunt does
    not pickle, so :meth:`to_arrays` raises ``ConfigError``. Refit it from its configuration.
    This class is not in the registry's list; ``make_detector("pyod:<Model>", **params)``
    reaches it.

    Parameters
    ----------
    model : str, default="SOD"
        PyOD class name, one of ``PYOD_MODELS``.
    params : dict, optional
        Keyword arguments of the PyOD class.

    Attributes
    ----------
    train_scores_ : ndarray of shape (n_samples,)
        Scores of the training rows.
    model_ : object
        The fitted PyOD model.
    n_features_in_ : int
        Number of columns seen in ``fit``.

    Examples
    --------
    Building one needs no PyOD; fitting does (here skipped, PyOD being a dev extra):

    >>> det = PyODDetector(model="HBOS", params={"n_bins": 5})
    >>> det.get_config()
    {'model': 'HBOS', 'params': {'n_bins': 5}}
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> X[0] = 8.0
    >>> int(np.argmax(det.fit(X).train_scores_))  # doctest: +SKIP
    0
    """

    name: ClassVar[str] = "pyod"
    fits_in_threads: ClassVar[bool] = False

    model_: Any

    def __init__(self, model: str = "SOD", params: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.params = params

    def fit(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Self:
        model_class = pyod_model_class(self.model)
        data = self._validate_fit(X).astype(np.float64)
        try:
            model = model_class(**dict(self.params or {}))
            model.fit(data)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"PyOD {self.model}: {exc}") from exc
        self.model_ = model
        self.n_features_in_ = data.shape[1]
        self.train_scores_ = _as_scores(model.decision_scores_, data.shape[0])
        return self

    def score(self, X: ArrayLike, graph: NeighborGraph | None = None) -> Scores:
        data = self._validate_score(X).astype(np.float64)
        model = copy.copy(self.model_)
        return _as_scores(model.decision_function(data), data.shape[0])

    def get_config(self) -> dict[str, Any]:
        """``model`` and ``params`` (JSON-serialisable where the PyOD parameters are)."""
        return {"model": self.model, "params": None if self.params is None else dict(self.params)}

    def to_arrays(self) -> dict[str, NDArray[Any]]:
        """Refused: a PyOD model cannot be saved without pickle."""
        raise ConfigError(
            f"PyODDetector({self.model!r}) cannot be saved: a PyOD model's state is Python "
            "objects, and loghunt never pickles; refit it from get_config() instead"
        )

    @classmethod
    def from_arrays(cls, config: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> Self:
        """Refused, as :meth:`to_arrays` is."""
        raise ConfigError("PyODDetector cannot be restored from arrays; refit it instead")


def check_pyod_model(model: str) -> None:
    """Raise ConfigError unless ``model`` is a PyOD class name this adapter knows.

    >>> check_pyod_model("SOD")
    >>> check_pyod_model("Nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    loghunt.errors.ConfigError: unknown PyOD model 'Nope'; choose one of [...]
    """
    if model not in PYOD_MODELS:
        raise ConfigError(f"unknown PyOD model {model!r}; choose one of {sorted(PYOD_MODELS)}")


def pyod_model_class(model: str) -> Any:
    """The PyOD class named ``model``, imported on demand."""
    check_pyod_model(model)
    try:
        module = importlib.import_module(PYOD_MODELS[model])
    except ImportError as exc:
        raise MissingExtraError("pyod", "pyod") from exc
    return getattr(module, model)


def _as_scores(values: Any, n_rows: int) -> Scores:
    scores = np.asarray(values, dtype=np.float64).reshape(-1)
    if scores.shape != (n_rows,):
        raise ConfigError(f"PyOD returned {scores.shape[0]} scores for {n_rows} rows")
    return scores
