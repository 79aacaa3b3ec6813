"""Loading refuses altered, missing and unexpected files, and never unpickles anything."""

from __future__ import annotations

import os
import pathlib
from pathlib import Path

import numpy as np
import orjson
import pytest

from loghunt.errors import ModelIntegrityError
from loghunt.model import load_model, save_model
from loghunt.model.manifest import MANIFEST, hash_files, seal, to_json


@pytest.fixture
def model(fit_pipeline, tmp_path) -> Path:
    return save_model(fit_pipeline(detectors=("knn", "lof", "ecod")), tmp_path / "model")


def _manifest(model: Path) -> dict:
    return orjson.loads((model / MANIFEST).read_bytes())


def _reseal(model: Path, manifest: dict) -> None:
    """Rewrite the manifest with fresh hashes, as someone who meant to tamper would."""
    manifest["files"] = hash_files(model)
    (model / MANIFEST).write_bytes(to_json(seal(manifest)))


def test_an_untouched_model_loads(model) -> None:
    assert load_model(model).ensemble_.k_ == 50


def test_a_flipped_byte_in_an_array_is_detected(model) -> None:
    path = model / "detectors" / "1" / "lrd.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"altered.*detectors/1/lrd\.npy"):
        load_model(model)


@pytest.mark.parametrize("name", ["index/index.faiss", "featurizer.json"])
def test_an_edited_index_or_state_is_detected(model, name) -> None:
    with (model / name).open("ab") as handle:
        handle.write(b" ")
    with pytest.raises(ModelIntegrityError, match="altered"):
        load_model(model)


def test_an_edited_manifest_is_detected(model) -> None:
    text = (model / MANIFEST).read_text()
    assert '"contamination": 0.01' in text
    (model / MANIFEST).write_text(text.replace('"contamination": 0.01', '"contamination": 0.2'))
    with pytest.raises(ModelIntegrityError, match=r"manifest\.json was altered"):
        load_model(model)


def test_a_missing_file_is_detected(model) -> None:
    (model / "detectors" / "0" / "train_scores.npy").unlink()
    with pytest.raises(ModelIntegrityError, match=r"missing file\(s\): detectors/0/train_scores"):
        load_model(model)


def test_a_missing_manifest_is_detected(model) -> None:
    (model / MANIFEST).unlink()
    with pytest.raises(ModelIntegrityError, match=r"no manifest\.json"):
        load_model(model)


def test_an_unexpected_file_or_link_is_refused(model, tmp_path) -> None:
    (model / "featurizer" / "extra.npy").write_bytes(b"")
    with pytest.raises(ModelIntegrityError, match=r"unexpected file\(s\): featurizer/extra.npy"):
        load_model(model)
    (model / "featurizer" / "extra.npy").unlink()
    outside = tmp_path / "outside.npy"
    np.save(outside, np.zeros(3), allow_pickle=False)
    os.symlink(outside, model / "link.npy")
    with pytest.raises(ModelIntegrityError, match="symbolic link"):
        load_model(model)


def test_a_manifest_pointing_outside_the_model_is_refused(model) -> None:
    manifest = _manifest(model)
    manifest["detectors"][0]["arrays"]["train_scores"] = "../elsewhere.npy"
    _reseal(model, manifest)
    with pytest.raises(ModelIntegrityError, match="unsafe path"):
        load_model(model)


class _Touch:
    """Unpickling this object creates a file: proof that a pickle was run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (pathlib.Path.touch, (self.path,))


def test_a_pickle_planted_with_valid_hashes_is_never_run(model, tmp_path) -> None:
    marker = tmp_path / "pickle-was-run"
    planted = np.array([_Touch(marker)], dtype=object)
    np.save(model / "detectors" / "0" / "train_scores.npy", planted, allow_pickle=True)
    _reseal(model, _manifest(model))
    with pytest.raises(ModelIntegrityError, match="pickle"):
        load_model(model)
    assert not marker.exists()
