"""Embedding checks: ranges, agreement above chance, JSON output."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from loghunt.embed import Embedder, check_embeddings
from loghunt.embed.checks import _within_radius
from loghunt.errors import ConfigError


@pytest.fixture(scope="module")
def trained() -> tuple[Embedder, np.ndarray, pl.DataFrame]:
    rng = np.random.default_rng(0)
    group = rng.integers(0, 4, 400)
    centres = rng.normal(0, 3, (4, 6)).astype(np.float32)
    X = (centres[group] + rng.normal(0, 0.4, (400, 6))).astype(np.float32)
    cats = pl.DataFrame({"kind": [f"k{g}" for g in group]})
    emb = Embedder(dim=16, max_epochs=3, batch_size=64, n_threads=1).fit(X, cats)
    return emb, X, cats


def test_checks_find_structure_and_agreement(trained, tmp_path) -> None:
    emb, X, cats = trained
    checks = check_embeddings(emb, X, cats, n_clusters=4, k=10)
    assert checks.n_rows == 400 and checks.dim == 16 and checks.k == 10
    assert -1.0 <= checks.silhouette <= 1.0 and checks.davies_bouldin >= 0.0
    assert checks.silhouette > 0.3  # four well-separated behaviours
    assert checks.perturbation_cosine > 0.8 and checks.perturbation_cosine_p05 <= 1.0
    assert checks.neighbour_overlap > 2 * checks.neighbour_overlap_chance
    assert 0.0 <= checks.perturbed_neighbour_overlap <= 1.0
    path = tmp_path / "embedding_checks.json"
    checks.write_json(path)
    assert json.loads(path.read_text())["n_rows"] == 400


def test_checks_sample_large_inputs_and_reuse_embeddings(trained) -> None:
    emb, X, cats = trained
    E = emb.transform(X, cats)
    checks = check_embeddings(emb, X, cats, embeddings=E, sample_size=100, k=5)
    assert checks.n_rows == 100 and checks.k == 5
    with pytest.raises(ConfigError):
        check_embeddings(emb, X[:2], cats[:2])


def test_within_radius_counts_ties_as_found() -> None:
    space = np.array([[0.0], [1.0], [1.0], [5.0]], dtype=np.float32)
    # Row 0's nearest is at distance 1 (rows 1 and 2 tie): either counts, row 3 does not.
    radius = np.array([[1.0]], dtype=np.float32)
    assert _within_radius(space[:1], np.array([[0]]), radius) == 1.0
    assert _within_radius(space, np.array([[2], [0], [0], [0]]), np.ones((4, 1), "float32")) == 0.75
