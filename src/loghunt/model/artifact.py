"""Save a fitted :class:`~loghunt.Pipeline` to a model directory and load it back, no pickle.

Layout (every path is listed with its sha256 in ``manifest.json``)::

    manifest.json              versions, config, feature schema + hash, detectors, threshold,
                               training size and fingerprint, sha256 of every other file
    featurizer.json            the Featurizer's state (JSON)
    featurizer/NAME.npy        its arrays (value counts, scalers, ...)
    index/                     the shared FAISS index (FAISS's own format + index.json)
    detectors/I/NAME.npy       detector I's fitted arrays
    detectors/I/index/         its own index, when it searches another metric than the shared one
    explainer/NAME.npy         the explainer's baseline tails (sorted feature values)
    embedder.safetensors       the learned embedder's weights, when the pipeline has one

Arrays are written with ``np.save(..., allow_pickle=False)`` and read with
``np.load(..., allow_pickle=False)``, so no file can run code when loaded.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from loghunt.detectors import Detector, detector_class
from loghunt.detectors._neighbors import NeighborDetector
from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.errors import (
    ConfigError,
    ModelIntegrityError,
    NotFittedError,
    SchemaMismatchError,
)
from loghunt.explain import Explainer
from loghunt.features import Featurizer
from loghunt.index import NeighborIndex
from loghunt.model.components import (
    config_from_json,
    config_to_json,
    explainer_from_state,
    explainer_to_state,
    load_embedder,
    save_embedder,
    threshold_from_json,
    threshold_to_json,
)
from loghunt.model.manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    check_relative,
    hash_files,
    library_versions,
    read_manifest,
    safe_part,
    seal,
    to_json,
    verify_files,
)
from loghunt.pipeline import Pipeline

FEATURIZER_STATE = "featurizer.json"
SHARED_INDEX = "index"


def save_model(pipeline: Pipeline, directory: str | os.PathLike[str]) -> Path:
    """Write fitted ``pipeline`` to ``directory``; returns its path.

    The model is written to a temporary folder beside ``directory`` and then swapped in, so a
    failed save leaves any earlier model there intact. An existing ``directory`` is replaced
    only if it is empty or holds a loghunt model. The folder is readable by its owner only
    (a model holds user names and addresses from the logs).

    Raises ``ConfigError`` when a detector cannot be saved without pickle (PyOD models).

    Examples
    --------
    >>> import tempfile
    >>> from loghunt.synth import generate_cloudtrail_table
    >>> events = generate_cloudtrail_table(1_000, seed=1)
    >>> pipe = Pipeline(exclude=("is_attack", "attack")).fit(events)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     loaded = load_model(save_model(pipe, f"{tmp}/model"))
    ...     same = loaded.score(events[:50]).table.equals(pipe.score(events[:50]).table)
    >>> same
    True
    """
    if not hasattr(pipeline, "ensemble_"):
        raise NotFittedError("Pipeline is not fitted; call fit before save_model")
    target = Path(directory)
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".saving", dir=target.parent))
    try:
        body = _write_pipeline(pipeline, staging)
        body["files"] = hash_files(staging)
        (staging / MANIFEST).write_bytes(to_json(seal(body)))
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load_model(directory: str | os.PathLike[str]) -> Pipeline:
    """A fitted Pipeline from a model directory written by :func:`save_model`.

    Every file's sha256 is checked first; a missing, extra or altered file, or an edited
    manifest, raises :class:`~loghunt.errors.ModelIntegrityError`.
    """
    root = Path(directory)
    manifest = read_manifest(root)
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ModelIntegrityError(f"{root}/{MANIFEST} lists no files")
    verify_files(root, files)
    try:
        return _Reader(root, manifest).pipeline()
    except (KeyError, TypeError, ValueError, IndexError, OSError, SchemaMismatchError) as exc:
        raise ModelIntegrityError(f"{root} does not hold a consistent model: {exc}") from exc


# -- writing -------------------------------------------------------------------------------
def _write_pipeline(pipeline: Pipeline, out: Path) -> dict[str, Any]:
    featurizer = pipeline.featurizer_
    state, arrays = featurizer.to_state()
    (out / FEATURIZER_STATE).write_bytes(to_json(state))
    ensemble = pipeline.ensemble_
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": library_versions(),
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config_to_json(pipeline.config),
        "feature_schema": featurizer.schema_.to_dict(),
        "feature_schema_hash": featurizer.schema_.hash(),
        "featurizer": {
            "state": FEATURIZER_STATE,
            "arrays": _save_arrays(out, "featurizer", arrays),
        },
        "ensemble": _save_ensemble(ensemble, out),
        "detectors": [
            _save_detector(ensemble, label, i, out) for i, label in enumerate(ensemble.detectors_)
        ],
        "threshold": threshold_to_json(pipeline.threshold_),
        "training": {
            "n_events": int(next(iter(ensemble.train_scores_.values())).shape[0]),
            "n_features": int(ensemble.n_features_in_),
            "fingerprint": pipeline.train_fingerprint_,
            "n_learned": int(getattr(pipeline, "n_learned_", 0)),
        },
        "plan": _plan_json(pipeline),
        "explainer": _save_explainer(getattr(pipeline, "explainer_", None), out),
        "embedder": _save_embedder(getattr(pipeline, "embedder_", None), out),
    }


def _save_arrays(out: Path, folder: str, arrays: Mapping[str, NDArray[Any]]) -> dict[str, str]:
    (out / folder).mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for name, value in arrays.items():
        try:
            rel = f"{folder}/{safe_part(name)}.npy"
            np.save(out / rel, np.asarray(value), allow_pickle=False)
        except ValueError as exc:  # object arrays (would need pickle) and odd names
            raise ConfigError(f"cannot save array {name!r} of {folder}: {exc}") from exc
        written[name] = rel
    return written


def _save_ensemble(ensemble: DetectorEnsemble, out: Path) -> dict[str, Any]:
    if ensemble.index_ is not None:
        ensemble.index_.save(out / SHARED_INDEX)
    return {
        "config": ensemble.get_config(),
        "k": int(ensemble.k_),
        "index": SHARED_INDEX if ensemble.index_ is not None else None,
        "fit_seconds": dict(ensemble.fit_seconds_),
    }


def _save_detector(ensemble: DetectorEnsemble, label: str, i: int, out: Path) -> dict[str, Any]:
    detector = ensemble.detectors_[label]
    try:
        arrays = detector.to_arrays()
        name = type(detector).name
        if detector_class(name) is not type(detector):
            raise ConfigError(f"{type(detector).__name__} is not the registered {name!r}")
    except ConfigError as exc:
        raise ConfigError(f"detector {label!r} cannot be saved: {exc}") from exc
    folder = f"detectors/{i}"
    index: str | None = None
    if ensemble.shares_index(label):
        index = SHARED_INDEX
    elif isinstance(detector, NeighborDetector) and detector.index_ is not None:
        index = f"{folder}/index"
        detector.index_.save(out / index)
    return {
        "label": label,
        "name": name,
        "config": detector.get_config(),
        "arrays": _save_arrays(out, folder, arrays),
        "index": index,
    }


def _plan_json(pipeline: Pipeline) -> dict[str, Any] | None:
    """The fit's runtime plan, kept as a record (a loaded model does not show it again)."""
    plan = getattr(pipeline, "plan_", None)
    if plan is None:
        return None
    record = dataclasses.asdict(plan)
    record.pop("_labels", None)
    return record


def _save_explainer(explainer: Explainer | None, out: Path) -> dict[str, Any] | None:
    if explainer is None:
        return None
    state, arrays = explainer_to_state(explainer)
    return {"state": state, "arrays": _save_arrays(out, "explainer", arrays)}


def _save_embedder(embedder: Any, out: Path) -> dict[str, Any] | None:
    return None if embedder is None else save_embedder(embedder, out)


def _check_replaceable(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise ConfigError(f"{target} exists and is not a model directory")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise ConfigError(
            f"{target} is a non-empty folder without a loghunt model; not replacing it"
        )


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old)


# -- reading -------------------------------------------------------------------------------
class _Reader:
    """Rebuilds the pipeline's parts from a verified model directory."""

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = root
        self.manifest = manifest
        self.files: set[str] = set(manifest["files"])

    def pipeline(self) -> Pipeline:
        m = self.manifest
        pipeline = Pipeline(config_from_json(m["config"]))
        pipeline.featurizer_ = self.featurizer()
        pipeline.ensemble_ = self.ensemble()
        pipeline.threshold_ = threshold_from_json(m["threshold"])
        if m.get("explainer") is not None:
            arrays = self.arrays(m["explainer"]["arrays"])
            state = m["explainer"]["state"]
            pipeline.explainer_ = explainer_from_state(state, arrays, pipeline.featurizer_)
        pipeline.train_fingerprint_ = str(m["training"]["fingerprint"])
        pipeline.n_learned_ = int(m["training"]["n_learned"])
        pipeline.plan_ = None
        pipeline.timings_ = {}
        if m.get("embedder") is not None:
            pipeline.embedder_ = self.embedder(m["embedder"])  # type: ignore[attr-defined]
        elif pipeline.ensemble_.n_features_in_ != len(pipeline.featurizer_.feature_names_):
            raise ModelIntegrityError("the detectors and the featurizer disagree on the width")
        return pipeline

    def featurizer(self) -> Featurizer:
        spec = self.manifest["featurizer"]
        state = orjson.loads(self.path(spec["state"]).read_bytes())
        featurizer = Featurizer.from_state(state, self.arrays(spec["arrays"]))
        if featurizer.schema_.hash() != self.manifest["feature_schema_hash"]:
            raise ModelIntegrityError("the featurizer does not match the manifest's feature schema")
        return featurizer

    def ensemble(self) -> DetectorEnsemble:
        spec = self.manifest["ensemble"]
        shared = self.index(spec["index"]) if spec["index"] is not None else None
        detectors = {d["label"]: self.detector(d, shared) for d in self.manifest["detectors"]}
        return DetectorEnsemble.from_fitted(
            spec["config"], detectors, shared, int(spec["k"]), spec["fit_seconds"]
        )

    def detector(self, spec: dict[str, Any], shared: NeighborIndex | None) -> Detector:
        cls = detector_class(spec["name"])
        arrays = self.arrays(spec["arrays"])
        if not issubclass(cls, NeighborDetector):
            return cls.from_arrays(spec["config"], arrays)
        where = spec["index"]
        if where == SHARED_INDEX and shared is None:
            raise ModelIntegrityError(f"detector {spec['label']!r} needs the shared index")
        index = shared if where == SHARED_INDEX else self.index(where) if where else None
        return cls.from_arrays(spec["config"], arrays, index=index)

    def index(self, rel: str) -> NeighborIndex:
        return NeighborIndex.load(self.path(rel, folder=True))

    def embedder(self, spec: dict[str, Any]) -> Any:
        return load_embedder(spec, self.path(spec["file"]).read_bytes())

    def arrays(self, files: Mapping[str, str]) -> dict[str, NDArray[Any]]:
        return {name: self.array(rel) for name, rel in files.items()}

    def array(self, rel: str) -> NDArray[Any]:
        value: NDArray[Any] = np.load(self.path(rel), allow_pickle=False)
        return value

    def path(self, rel: str, folder: bool = False) -> Path:
        """A listed file (or, with ``folder``, a folder holding listed files) of the model."""
        check_relative(rel)
        listed = any(f.startswith(rel + "/") for f in self.files) if folder else rel in self.files
        if not listed:
            raise ModelIntegrityError(f"the manifest refers to {rel!r}, which it does not list")
        return self.root / rel
