"""Detectors by name: ``make_detector("lof", n_neighbors=35)``."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from loghunt.detectors.base import Detector
from loghunt.errors import ConfigError

D = TypeVar("D", bound=type[Detector])

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
    """The class registered as ``name``, or a ConfigError listing the valid names."""
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
    """
    cls = detector_class(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(
            f"{name!r} does not take {unknown}; its parameters are {sorted(accepted)}"
        )
    return cls(**params)
