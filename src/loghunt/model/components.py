"""State of the pipeline parts that a model saves besides the featurizer and the detectors.

Each part becomes JSON plus named arrays: the threshold, the explainer (its parameters and the
baseline sample its tails were learnt from) and the learned embedder (weights in safetensors).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from loghunt.ensemble.thresholds import ContaminationThreshold
from loghunt.errors import ConfigError, MissingExtraError, ModelIntegrityError
from loghunt.explain import Explainer
from loghunt.features import Featurizer
from loghunt.pipeline import PipelineConfig

EMBEDDER_FILE = "embedder.safetensors"
#: Only classes under this package may be named as the embedder (loading imports the class).
_EMBEDDER_PACKAGE = "loghunt.embed"


# -- configuration and threshold -----------------------------------------------------------
def config_to_json(config: PipelineConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_from_json(data: Mapping[str, Any]) -> PipelineConfig:
    """The saved PipelineConfig; settings added since then take their defaults."""
    known = {f.name for f in dataclasses.fields(PipelineConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ModelIntegrityError(f"the model's configuration has unknown settings: {unknown}")
    # JSON has no tuples; every list-valued setting of PipelineConfig is a tuple.
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return PipelineConfig(**values).check()


def threshold_to_json(threshold: Any) -> dict[str, Any]:
    if not isinstance(threshold, ContaminationThreshold):
        raise ConfigError(f"cannot save a {type(threshold).__name__}")
    value = float(threshold.threshold_)
    if not np.isfinite(value):
        raise ConfigError(f"the threshold is not finite ({value})")
    return {"kind": "contamination", "contamination": threshold.contamination, "value": value}


def threshold_from_json(data: Mapping[str, Any]) -> ContaminationThreshold:
    if data["kind"] != "contamination":
        raise ModelIntegrityError(f"unknown threshold kind {data['kind']!r}")
    threshold = ContaminationThreshold(float(data["contamination"]))
    threshold.threshold_ = float(data["value"])
    return threshold


# -- explainer -----------------------------------------------------------------------------
def explainer_to_state(explainer: Explainer) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The explainer's parameters and its baseline tails (fields of a dataclass of arrays)."""
    names = [p for p in inspect.signature(Explainer.__init__).parameters if p != "self"]
    tails: dict[str, Any] = {}
    arrays: dict[str, NDArray[Any]] = {}
    for item in dataclasses.fields(explainer.tails_):
        value = getattr(explainer.tails_, item.name)
        if isinstance(value, np.ndarray):
            arrays[item.name] = value
            tails[item.name] = {"array": item.name}
        elif isinstance(value, tuple) and value and isinstance(value[0], np.ndarray):
            keys = [f"{item.name}.{i}" for i in range(len(value))]
            arrays.update(zip(keys, value, strict=True))
            tails[item.name] = {"arrays": keys}
        else:
            tails[item.name] = {"value": list(value) if isinstance(value, tuple) else value}
    return {"params": {n: getattr(explainer, n) for n in names}, "tails": tails}, arrays


def explainer_from_state(
    state: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], featurizer: Featurizer
) -> Explainer:
    """The explainer of :func:`explainer_to_state`, on the loaded ``featurizer``."""
    explainer = Explainer(**state["params"])
    # Fitting on one blank row derives what comes from the featurizer (feature descriptions,
    # fields); the baseline tails, the only part learnt from data, are then put back.
    explainer.fit(featurizer, np.zeros((1, len(featurizer.feature_names_)), dtype=np.float32))
    tails_type = type(explainer.tails_)
    values: dict[str, Any] = {}
    for name, spec in state["tails"].items():
        if "array" in spec:
            values[name] = arrays[spec["array"]]
        elif "arrays" in spec:
            values[name] = tuple(arrays[key] for key in spec["arrays"])
        else:
            value = spec["value"]
            values[name] = tuple(value) if isinstance(value, list) else value
    explainer.tails_ = tails_type(**values)
    return explainer


# -- embedder ------------------------------------------------------------------------------
def save_embedder(embedder: Any, out: Path) -> dict[str, Any]:
    """Write the embedder's weights to ``out/embedder.safetensors``; returns its manifest entry."""
    try:
        from safetensors.numpy import save_file
    except ImportError as exc:
        raise MissingExtraError("safetensors", "embed") from exc
    state, arrays = embedder.to_state()
    tensors = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    save_file(tensors, str(out / EMBEDDER_FILE))
    cls = type(embedder)
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "state": state, "file": EMBEDDER_FILE}


def load_embedder(spec: Mapping[str, Any], data: bytes) -> Any:
    """The embedder of a manifest entry, from its safetensors bytes."""
    module, _, qualname = str(spec["class"]).partition(":")
    if module != _EMBEDDER_PACKAGE and not module.startswith(_EMBEDDER_PACKAGE + "."):
        raise ModelIntegrityError(f"refusing to load an embedder of class {spec['class']!r}")
    try:
        from safetensors.numpy import load
    except ImportError as exc:
        raise MissingExtraError("safetensors", "embed") from exc
    cls = getattr(importlib.import_module(module), qualname)
    return cls.from_state(spec["state"], load(data))
