"""The Embedder: training, determinism, state round trip (safetensors), errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
import torch
from safetensors.numpy import load_file, save_file

from loghunt.embed import Embedder
from loghunt.errors import ConfigError, NotFittedError, SchemaMismatchError

SMALL = {"dim": 16, "max_epochs": 2, "batch_size": 64, "n_threads": 1}


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, pl.DataFrame]:
    """Three behaviours: each a numeric profile, an operation and a user group."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    centres = np.array([[0, 0, 0, 0], [3, 0, -2, 1], [0, 4, 1, -3]], dtype=np.float32)
    X = (centres[group] + rng.normal(0, 0.3, (n, 4))).astype(np.float32)
    ops = np.array(["GetObject", "RunInstances", "ConsoleLogin"])[group]
    users = [f"u{g}{rng.integers(0, 4)}" for g in group]
    return X, pl.DataFrame({"op": ops.tolist(), "user": users})


@pytest.fixture(scope="module")
def fitted() -> tuple[Embedder, np.ndarray, pl.DataFrame]:
    X, cats = _data()
    return Embedder(**SMALL).fit(X, cats), X, cats


def test_embeddings_have_the_asked_shape(fitted) -> None:
    emb, X, cats = fitted
    E = emb.transform(X, cats)
    assert E.shape == (300, 16) and E.dtype == np.float32 and np.isfinite(E).all()
    assert emb.fields_ == ["op", "user"] and emb.n_features_in_ == 4
    history = emb.history_
    assert len(history.train_loss) == len(history.val_loss) == 2
    assert history.n_train + history.n_val == 300 and history.n_val == 30


def test_training_is_deterministic_and_leaves_torch_settings_alone() -> None:
    X, cats = _data(200)
    threads = torch.get_num_threads()
    rng_state = torch.random.get_rng_state()
    first = Embedder(**SMALL, random_state=3).fit_transform(X, cats)
    again = Embedder(**SMALL, random_state=3).fit_transform(X, cats)
    other = Embedder(**SMALL, random_state=4).fit_transform(X, cats)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_loss_falls_and_behaviours_separate() -> None:
    X, cats = _data(600)
    emb = Embedder(**{**SMALL, "max_epochs": 4})
    E = emb.fit_transform(X, cats)
    assert emb.history_.train_loss[-1] < emb.history_.train_loss[0]
    group = cats.get_column("op").to_numpy()
    centroids = {g: E[group == g].mean(axis=0) for g in np.unique(group)}
    within = np.mean(
        [np.linalg.norm(E[group == g] - c, axis=1).mean() for g, c in centroids.items()]
    )
    cs = list(centroids.values())
    between = np.mean([np.linalg.norm(a - b) for i, a in enumerate(cs) for b in cs[i + 1 :]])
    assert between > 2 * within


def test_state_round_trip_through_safetensors(fitted, tmp_path) -> None:
    emb, X, cats = fitted
    state, arrays = emb.to_state()
    json.dumps(state)  # JSON-serialisable as it is
    assert all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays.values())
    save_file(dict(arrays), str(tmp_path / "embedder.safetensors"))
    restored = Embedder.from_state(
        json.loads(json.dumps(state)), load_file(str(tmp_path / "embedder.safetensors"))
    )
    np.testing.assert_array_equal(restored.transform(X, cats), emb.transform(X, cats))
    assert restored.fields_ == emb.fields_ and restored.history_ == emb.history_


def test_state_with_wrong_weights_is_refused(fitted) -> None:
    emb, _, _ = fitted
    state, arrays = emb.to_state()
    broken = {k: v for k, v in arrays.items() if not k.endswith("norm.weight")}
    with pytest.raises(ConfigError, match="weights"):
        Embedder.from_state(state, broken)
    with pytest.raises(ConfigError, match="embedder state"):
        Embedder.from_state({**state, "format": "other"}, arrays)


def test_unseen_and_null_categories_are_embedded(fitted) -> None:
    emb, X, cats = fitted
    odd = pl.DataFrame({"op": ["DeleteTrail", None], "user": ["intruder", None]})
    E = emb.transform(X[:2], odd)
    assert np.isfinite(E).all()
    assert not np.allclose(E, emb.transform(X[:2], cats[:2]))


def test_corrupted_copies_stay_close(fitted) -> None:
    emb, X, cats = fitted
    E = emb.transform(X, cats)
    moved = emb.transform_corrupted(X, cats, random_state=1)
    cos = (E * moved).sum(1) / np.linalg.norm(E, axis=1) / np.linalg.norm(moved, axis=1)
    assert cos.mean() > 0.8 and not np.array_equal(E, moved)


def test_numeric_only_and_tiny_inputs() -> None:
    X, _ = _data(40)
    E = Embedder(**SMALL).fit_transform(X)  # too few rows to hold out: no early stopping
    assert E.shape == (40, 16)
    with pytest.raises(ConfigError, match="at least"):
        Embedder(**SMALL).fit(X[:3])


def test_errors(fitted) -> None:
    emb, X, cats = fitted
    with pytest.raises(NotFittedError):
        Embedder().transform(X)
    with pytest.raises(SchemaMismatchError):
        emb.transform(X[:, :3], cats)
    with pytest.raises(SchemaMismatchError, match="user"):
        emb.transform(X, cats.drop("user"))
    with pytest.raises(ConfigError, match="dim"):
        Embedder(dim=4).fit(X, cats)
    with pytest.raises(ConfigError, match="mask_prob"):
        Embedder(mask_prob=1.0).fit(X, cats)


def test_missing_torch_names_the_extra(tmp_path) -> None:
    # A "torch" that fails to import, found before the real one: torch is not installed.
    (tmp_path / "torch.py").write_text("raise ImportError('No module named torch')\n")
    code = (
        "from loghunt.errors import MissingExtraError\n"
        "try:\n    import loghunt.embed\nexcept MissingExtraError as e:\n    print(e)\n"
        "import loghunt, loghunt.pipeline; print('core ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert "pip install 'loghunt[embed]'" in done.stdout and "core ok" in done.stdout
