"""Both vector stores (FAISS, LanceDB) against exact numpy search, and the graph through them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from loghunt.errors import ConfigError
from loghunt.index import build_graph
from loghunt.index.faiss_store import FaissStore
from loghunt.index.lance_store import LanceStore
from loghunt.index.store import StoreFilter, VectorStore

BACKENDS = ("faiss", "lance")
METRICS = ("l2", "cosine", "ip")
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def _make(backend: str, metric: str, tmp_path: Path, **kw: object) -> VectorStore:
    if backend == "faiss":
        return FaissStore(metric=metric, **kw)  # type: ignore[arg-type]
    return LanceStore(tmp_path / "lance", metric=metric)


def _rows(n: int, d: int = 6, seed: int = 0) -> np.ndarray:
    centres = np.random.default_rng(99).normal(0, 3, (8, d))
    rng = np.random.default_rng(seed)
    return (centres[rng.integers(0, 8, n)] + rng.normal(0, 1, (n, d))).astype(np.float32)


def _metadata(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "time": [T0 + timedelta(hours=i) for i in range(n)],
            "class_uid": [6003 if i % 3 else 3002 for i in range(n)],
            "entity": [f"user{i % 7}" for i in range(n)],
        }
    )


def _distances(Q: np.ndarray, R: np.ndarray, metric: str) -> np.ndarray:
    Q64, R64 = Q.astype(np.float64), R.astype(np.float64)
    if metric == "l2":
        return np.sqrt(((Q64[:, None, :] - R64[None]) ** 2).sum(-1))
    if metric == "cosine":
        qn = np.linalg.norm(Q64, axis=1, keepdims=True)
        rn = np.linalg.norm(R64, axis=1, keepdims=True)
        Qu = np.divide(Q64, qn, out=np.zeros_like(Q64), where=qn > 0)
        Ru = np.divide(R64, rn, out=np.zeros_like(R64), where=rn > 0)
        return 1.0 - Qu @ Ru.T
    return -(Q64 @ R64.T)


def _check_exact(found, Q, R, ids, metric, k) -> None:
    """Returned distances are the exact k smallest, and each id's distance is its own."""
    full = _distances(Q, R, metric)
    expected = np.sort(full, axis=1)[:, :k]
    np.testing.assert_allclose(found.distances, expected, rtol=1e-4, atol=1e-4)
    row_of = {int(i): r for r, i in enumerate(ids)}
    rows = np.vectorize(row_of.__getitem__)(found.ids)
    np.testing.assert_allclose(np.take_along_axis(full, rows, 1), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", METRICS)
def test_search_matches_exact_numpy(backend, metric, tmp_path) -> None:
    R, Q = _rows(300), _rows(25, seed=1)
    R[5] = 0.0  # cosine: zero rows at distance 1, no division by zero
    ids = np.arange(300) * 7 + 1000
    store = _make(backend, metric, tmp_path)
    store.add(R, ids)
    found = store.search(Q, k=5)
    assert found.ids.dtype == np.int64 and found.distances.dtype == np.float32
    _check_exact(found, Q, R, ids, metric, 5)
    assert len(store) == 300


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("step", [9, 60])  # many deletions (index rebuilt) and a few (skipped)
def test_delete_and_add_keep_search_exact(backend, step, tmp_path) -> None:
    R = _rows(200)
    ids = np.arange(200)
    store = _make(backend, "l2", tmp_path)
    store.add(R[:150], ids[:150])
    store.search(R[:3], k=2)  # builds the FAISS index before the later changes
    store.add(R[150:], ids[150:])
    gone = np.arange(0, 200, step)
    assert store.delete(gone) == len(gone)
    assert store.delete(gone) == 0
    keep = np.setdiff1d(ids, gone)
    found = store.search(R[:20], k=4)
    assert not np.isin(found.ids, gone).any()
    _check_exact(found, R[:20], R[keep], keep, "l2", 4)
    assert len(store) == len(keep)


@pytest.mark.parametrize("backend", BACKENDS)
def test_filters_match_numpy_on_the_subset(backend, tmp_path) -> None:
    R, Q = _rows(240), _rows(10, seed=2)
    meta = _metadata(240)
    store = _make(backend, "cosine", tmp_path)
    store.add(R, np.arange(240), metadata=meta)
    flt = StoreFilter(
        start=datetime(2024, 3, 2),
        end=T0 + timedelta(hours=200),
        class_uid=6003,
        entity=("user1", "user4"),
    )
    mask = meta.select(flt.expr()).to_series().to_numpy()
    subset = np.flatnonzero(mask)
    assert 10 < len(subset) < 240
    found = store.search(Q, k=6, filter=flt)
    _check_exact(found, Q, R[subset], subset, "cosine", 6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_narrow_filter_and_small_store_pad_results(backend, tmp_path) -> None:
    store = _make(backend, "l2", tmp_path)
    empty = store.search(_rows(2), k=3)
    assert (empty.ids == -1).all() and np.isinf(empty.distances).all()
    store.add(_rows(4), [10, 11, 12, 13], metadata=_metadata(4))
    found = store.search(_rows(2), k=6)
    assert (found.ids[:, :4] >= 10).all() and (found.ids[:, 4:] == -1).all()
    only = store.search(_rows(2), k=3, filter=StoreFilter(entity="user2"))
    assert only.ids[:, 0].tolist() == [12, 12] and (only.ids[:, 1:] == -1).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_and_load_give_the_same_results(backend, tmp_path) -> None:
    R = _rows(120)
    store = _make(backend, "ip", tmp_path)
    store.add(R, np.arange(120), metadata=_metadata(120))
    store.delete([3, 4])
    before = store.search(R[:10], k=5, filter=StoreFilter(class_uid=6003))
    plain = store.search(R[:10], k=5)
    store.save(tmp_path / "saved")
    loaded = type(store).load(tmp_path / "saved")
    assert len(loaded) == 118
    after = loaded.search(R[:10], k=5, filter=StoreFilter(class_uid=6003))
    np.testing.assert_array_equal(before.ids, after.ids)
    np.testing.assert_array_equal(plain.ids, loaded.search(R[:10], k=5).ids)
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pickle"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_input_is_refused(backend, tmp_path) -> None:
    store = _make(backend, "l2", tmp_path)
    store.add(_rows(10), np.arange(10))
    with pytest.raises(ConfigError, match="already stored"):
        store.add(_rows(2), [3, 50])
    with pytest.raises(ConfigError, match="unique"):
        store.add(_rows(2), [60, 60])
    with pytest.raises(ConfigError, match="dimensional"):
        store.add(np.ones((2, 3)), [70, 71])
    with pytest.raises(ConfigError, match="metadata"):
        store.add(_rows(2), [80, 81], metadata={"entity": ["a"]})
    with pytest.raises(ConfigError):
        store.search(_rows(1), k=0)


def test_faiss_filter_needs_metadata() -> None:
    store = FaissStore()
    store.add(_rows(10), np.arange(10))
    with pytest.raises(ConfigError, match="no metadata"):
        store.search(_rows(1), k=2, filter=StoreFilter(entity="x"))


def test_faiss_rows_added_without_metadata_never_pass_a_filter() -> None:
    store = FaissStore()
    store.add(_rows(10), np.arange(10), metadata=_metadata(10))
    store.add(_rows(5, seed=3), np.arange(10, 15))
    found = store.search(_rows(3), k=15, filter=StoreFilter(start=datetime(2000, 1, 1)))
    assert set(found.ids[found.ids >= 0].tolist()) <= set(range(10))


def test_faiss_ivf_store_keeps_the_recall_after_adds() -> None:
    R = _rows(6_000, d=16)
    store = FaissStore(method="ivf", tune_k=10)
    store.add(R[:5_000], np.arange(5_000))
    store.search(R[:1], k=1)
    store.add(R[5_000:], np.arange(5_000, 6_000))
    Q = _rows(100, d=16, seed=5)
    found = store.search(Q, k=10)
    exact = np.argsort(_distances(Q, R, "l2"), axis=1)[:, :10]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.ids, exact, strict=True)])
    assert recall >= 0.9


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_graph_through_a_store_equals_the_default_graph(backend, metric, tmp_path) -> None:
    X = _rows(300)
    _, expected = build_graph(X, k=7, metric=metric)
    store = _make(backend, metric, tmp_path)
    returned, graph = build_graph(X, k=7, metric=metric, store=store)
    assert returned is store and len(store) == 300
    np.testing.assert_allclose(graph.distances, expected.distances, rtol=1e-4, atol=1e-4)
    assert (graph.indices == expected.indices).mean() > 0.99  # ties may swap
    assert not (graph.indices == np.arange(300)[:, None]).any()


def test_sampled_graph_through_a_store_equals_the_default(tmp_path) -> None:
    X = _rows(500)
    _, expected = build_graph(X, k=5, reference_size=200, reference_threshold=300)
    _, graph = build_graph(
        X, k=5, reference_size=200, reference_threshold=300, store=FaissStore(method="exact")
    )
    np.testing.assert_array_equal(graph.reference_rows, expected.reference_rows)
    np.testing.assert_allclose(graph.distances, expected.distances, rtol=1e-5, atol=1e-5)


def test_graph_refuses_a_full_store_or_another_metric() -> None:
    store = FaissStore(metric="cosine")
    with pytest.raises(ConfigError, match="searches by"):
        build_graph(_rows(20), k=3, store=store)
    store.add(_rows(5), np.arange(5))
    with pytest.raises(ConfigError, match="empty store"):
        build_graph(_rows(20), k=3, metric="cosine", store=store)


def test_filter_sql_quotes_hostile_values() -> None:
    sql = StoreFilter(entity="o'brien; DROP TABLE x --").sql()
    assert sql == "entity IN ('o''brien; DROP TABLE x --')"


def test_missing_lancedb_names_the_extra(tmp_path) -> None:
    # A "lancedb" that fails to import, found before the real one: lancedb is not installed.
    (tmp_path / "lancedb.py").write_text("raise ImportError('No module named lancedb')\n")
    code = (
        "from loghunt.errors import MissingExtraError\n"
        "from loghunt.index.lance_store import LanceStore\n"
        f"try:\n    LanceStore({str(tmp_path / 'db')!r})\n"
        "except MissingExtraError as e:\n    print(e)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert "pip install 'loghunt[store]'" in done.stdout
