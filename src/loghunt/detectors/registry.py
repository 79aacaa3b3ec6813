"""Detectors by name: ``make_detector("lof", n_neighbors=35)``."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, TypeVar

from loghunt.detectors.base import Detector
from loghunt.errors import ConfigError

if TYPE_CHECKING:
    from loghunt.detectors.pyod_adapter import PyODDetector

D = TypeVar("D", bound=type[Detector])

#: Names starting with this reach the PyOD adapter: ``"pyod:SOD"`` is PyOD's ``SOD``.
PYOD_PREFIX = "pyod:"

_REGISTRY: dict[str, type[Detector]] = {}


def register(cls: D) -> D:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if not cls.name:
        raise ConfigError(f"{cls.__name__} needs a non-empty class attribute 'name'")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ConfigError(f"detector name {cls.name!r} is already taken by {existing.__name__}")
    _REGISTRY[cls.name] = cls
    return cls


def available_detectors() -> list[str]:
    """Registered detector names, sorted."""
    return sorted(_REGISTRY)


def detector_class(name: str) -> type[Detector]:
    """The class registered as ``name``, or a ConfigError listing the valid names.

    ``"pyod:<Model>"`` names give the PyOD adapter class.
    """
    if name.startswith(PYOD_PREFIX):
        return _pyod_adapter(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown detector {name!r}; choose one of {available_detectors()}"
        ) from None


def make_detector(name: str, **params: Any) -> Detector:
    """A new, unfitted detector ``name`` built with ``params``.

    Examples
    --------
    >>> make_detector("knn", n_neighbors=5)
    KNNDetector(n_neighbors=5, method='largest', metric='l2')

    ``"pyod:<Model>"`` wraps the PyOD class ``<Model>``, ``params`` going to it:

    >>> make_detector("pyod:SOD", n_neighbors=20)
    PyODDetector(model='SOD', params={'n_neighbors': 20})
    """
    if name.startswith(PYOD_PREFIX):
        return _pyod_adapter(name)(model=name[len(PYOD_PREFIX) :], params=params)
    cls = detector_class(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(
            f"{name!r} does not take {unknown}; its parameters are {sorted(accepted)}"
        )
    return cls(**params)


def _pyod_adapter(name: str) -> type[PyODDetector]:
    """The PyOD adapter class, once ``name``'s model is known to it (imported late: cycle)."""
    from loghunt.detectors.pyod_adapter import PyODDetector, check_pyod_model

    check_pyod_model(name[len(PYOD_PREFIX) :])
    return PyODDetector
