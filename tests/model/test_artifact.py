"""Save -> load -> score gives identical findings, for every detector and preset; no pickle."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import orjson
import pytest
from polars.testing import assert_frame_equal

from loghunt.detectors import available_detectors
from loghunt.ensemble.presets import PRESETS
from loghunt.errors import ConfigError, NotFittedError, SchemaMismatchError
from loghunt.model import load_model, save_model
from loghunt.model.manifest import MANIFEST, sha256_file
from loghunt.pipeline import Pipeline

#: Presets whose members are all loghunt detectors (PyOD models cannot be saved: see below).
SAVEABLE_PRESETS = [name for name, specs in PRESETS.items() if not any("pyod:" in s for s in specs)]
#: Names that every pickle of a numpy array or Python object spells out, never in our files.
PICKLE_MARKERS = (b"numpy.core.multiarray", b"_reconstruct", b"__builtin__", b"copyreg")


def _round_trip(pipeline: Pipeline, directory: Path, periods) -> Pipeline:
    loaded = load_model(save_model(pipeline, directory))
    for events in (periods.later, periods.baseline):
        assert_frame_equal(loaded.score(events).table, pipeline.score(events).table)
    return loaded


#: Detectors that train a network: over a minute on 2 cores, so marked slow (still run in CI).
SLOW_DETECTORS = {"autoencoder"}
DETECTORS = [
    pytest.param(n, marks=[pytest.mark.slow] if n in SLOW_DETECTORS else [])
    for n in available_detectors()
]


@pytest.mark.parametrize("name", DETECTORS)
def test_every_detector_scores_identically_after_loading(name, periods, fit_pipeline, tmp_path):
    pipeline = fit_pipeline(detectors=(name,))
    _round_trip(pipeline, tmp_path / "model", periods)


@pytest.mark.parametrize("preset", SAVEABLE_PRESETS)
def test_every_saveable_preset_scores_identically_after_loading(
    preset, periods, fit_pipeline, tmp_path
):
    pipeline = fit_pipeline(detectors=PRESETS[preset])
    _round_trip(pipeline, tmp_path / "model", periods)


def test_a_member_with_its_own_index_round_trips(periods, fit_pipeline, tmp_path):
    # The cosine k-NN cannot read the shared L2 graph, so it keeps (and saves) its own index.
    specs = ("knn", "lof", "cknn=knn(metric='cosine')", "min_votes_helper=iforest")
    pipeline = fit_pipeline(detectors=specs, min_votes=2)
    loaded = _round_trip(pipeline, tmp_path / "model", periods)
    assert (tmp_path / "model" / "detectors" / "2" / "index" / "index.faiss").is_file()
    shared = [loaded.ensemble_.shares_index(label) for label in loaded.ensemble_.detectors_]
    assert shared == [True, True, False, False]


@pytest.mark.slow  # importing PyOD takes seconds
def test_pyod_members_are_refused_and_nothing_is_left(fit_pipeline, tmp_path):
    pipeline = fit_pipeline(detectors=("knn", "pyod:HBOS"))
    with pytest.raises(ConfigError, match="'pyod:HBOS' cannot be saved"):
        save_model(pipeline, tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_no_file_in_a_model_is_or_holds_a_pickle(fit_pipeline, tmp_path):
    model = save_model(fit_pipeline(detectors=("knn", "lof", "iforest", "kmeans")), tmp_path / "m")
    files = [p for p in model.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".json", ".npy", ".faiss"}
    for path in files:
        data = path.read_bytes()
        assert not data.startswith(b"\x80"), path  # pickle protocol 2+ header
        assert not any(marker in data for marker in PICKLE_MARKERS), path
        if path.suffix == ".npy":
            assert data.startswith(b"\x93NUMPY"), path
            assert not np.load(path, allow_pickle=False).dtype.hasobject, path
        elif path.suffix == ".json":
            orjson.loads(data)
        else:
            assert faiss.read_index(str(path)).ntotal > 0


def test_manifest_records_versions_schema_training_and_every_file(fit_pipeline, tmp_path):
    pipeline = fit_pipeline(detectors=("knn", "ecod"))
    model = save_model(pipeline, tmp_path / "m")
    manifest = orjson.loads((model / MANIFEST).read_bytes())
    assert set(manifest["versions"]) >= {"loghunt", "numpy", "faiss"}
    assert manifest["config"]["detectors"] == ["knn", "ecod"]
    assert manifest["feature_schema_hash"] == pipeline.featurizer_.schema_.hash()
    assert manifest["feature_schema"] == pipeline.featurizer_.schema_.to_dict()
    assert [d["label"] for d in manifest["detectors"]] == ["knn", "ecod"]
    assert manifest["detectors"][0]["config"]["n_neighbors"] == 50
    assert manifest["training"]["n_events"] == 1_900
    assert manifest["training"]["fingerprint"] == pipeline.train_fingerprint_
    assert manifest["threshold"]["value"] == pipeline.threshold_.threshold_
    on_disk = {p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {MANIFEST}
    assert all(manifest["files"][name] == sha256_file(model / name) for name in manifest["files"])


def test_saving_again_replaces_a_model_but_never_another_folder(fit_pipeline, tmp_path):
    pipeline = fit_pipeline(detectors=("ecod",))
    save_model(pipeline, tmp_path / "m")
    save_model(pipeline, tmp_path / "m")  # a model may be replaced (score --learn does)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no staging folders left
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="without a loghunt model"):
        save_model(pipeline, tmp_path / "notes")
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_an_unfitted_pipeline_cannot_be_saved(tmp_path):
    with pytest.raises(NotFittedError):
        save_model(Pipeline(), tmp_path / "m")


def test_missing_input_columns_are_named_and_extra_ones_ignored(periods, fit_pipeline, tmp_path):
    loaded = load_model(save_model(fit_pipeline(detectors=("knn", "ecod")), tmp_path / "m"))
    with pytest.raises(SchemaMismatchError, match=r"api\.operation"):
        loaded.score(periods.later.drop("api.operation"))
    with pytest.raises(SchemaMismatchError, match=r"api\.operation"):
        loaded.learn(periods.later.drop("api.operation"))
    extra = periods.later.with_columns(unseen_column=np.arange(periods.later.height))
    plain = loaded.score(periods.later).table
    assert_frame_equal(loaded.score(extra).table.select(plain.columns), plain)
