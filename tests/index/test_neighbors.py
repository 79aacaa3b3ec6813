"""NeighborIndex, build_graph and NeighborGraph against brute-force numpy."""

from __future__ import annotations

import json

import numpy as np
import pytest

import loghunt.index.neighbors as neighbors_module
from loghunt.errors import ConfigError, NotFittedError
from loghunt.index import NeighborGraph, NeighborIndex, build_graph, measure_recall
from loghunt.index.threads import idle_cores


def _clustered(n: int, d: int, seed: int = 0, n_clusters: int = 20) -> np.ndarray:
    """Rows around fixed cluster centres (the same for every seed: fresh rows, same clusters)."""
    centres = np.random.default_rng(12345).normal(0.0, 4.0, (n_clusters, d))
    rng = np.random.default_rng(seed)
    rows = centres[rng.integers(0, n_clusters, n)] + rng.normal(0.0, 1.0, (n, d))
    return rows.astype(np.float32)


def _brute_force(Q: np.ndarray, R: np.ndarray, metric: str) -> np.ndarray:
    """Full (n_queries, n_reference) distance matrix in float64, graph conventions."""
    Q64, R64 = Q.astype(np.float64), R.astype(np.float64)
    if metric == "l2":
        return np.sqrt(((Q64[:, None, :] - R64[None, :, :]) ** 2).sum(-1))
    if metric == "cosine":
        qn = np.linalg.norm(Q64, axis=1, keepdims=True)
        rn = np.linalg.norm(R64, axis=1, keepdims=True)
        Qu = np.divide(Q64, qn, out=np.zeros_like(Q64), where=qn > 0)
        Ru = np.divide(R64, rn, out=np.zeros_like(R64), where=rn > 0)
        return 1.0 - Qu @ Ru.T
    return -(Q64 @ R64.T)


@pytest.fixture(scope="module")
def small() -> np.ndarray:
    X = _clustered(400, 5)
    X[7] = 0.0  # a zero row: cosine must not divide by zero
    return X


@pytest.mark.parametrize("metric", ["l2", "cosine", "ip"])
def test_exact_search_matches_brute_force(metric, small) -> None:
    queries = _clustered(30, 5, seed=1)
    queries[0] = 0.0
    graph = NeighborIndex(metric=metric).fit(small).search(queries, k=6)
    full = _brute_force(queries, small, metric)
    expected = np.sort(full, axis=1)[:, :6]
    np.testing.assert_allclose(graph.distances, expected, rtol=1e-4, atol=1e-4)
    found = np.take_along_axis(full, graph.indices, axis=1)
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-4)
    assert graph.indices.dtype == np.int64 and graph.distances.dtype == np.float32
    assert (np.diff(graph.distances, axis=1) >= -1e-6).all()
    assert graph.metric == metric


def test_cosine_zero_rows_are_at_distance_one(small) -> None:
    graph = NeighborIndex(metric="cosine").fit(small).search(np.zeros((1, 5)), k=3)
    np.testing.assert_allclose(graph.distances, 1.0)


@pytest.mark.parametrize("metric", ["l2", "cosine", "ip"])
def test_self_graph_excludes_each_row_itself(metric, small) -> None:
    graph = NeighborIndex(metric=metric).fit(small).self_graph(k=5)
    rows = np.arange(len(small))[:, None]
    assert not (graph.indices == rows).any()
    full = _brute_force(small, small, metric)
    np.fill_diagonal(full, np.inf)
    np.testing.assert_allclose(graph.distances, np.sort(full, axis=1)[:, :5], atol=1e-4)


def test_self_graph_drops_the_rows_own_index_among_duplicates() -> None:
    base = _clustered(50, 3)
    X = np.vstack([base, np.repeat(base[:1], 4, axis=0)])  # rows 0, 50..53 are identical
    graph = NeighborIndex().fit(X).self_graph(k=3)
    duplicates = [0, 50, 51, 52, 53]
    for row in duplicates:
        assert row not in graph.indices[row]
        assert set(graph.indices[row]) <= set(duplicates) - {row}
        np.testing.assert_array_equal(graph.distances[row], 0.0)


def test_self_graph_with_more_duplicates_than_neighbours() -> None:
    X = np.zeros((10, 2), dtype=np.float32)  # self may fall outside the k + 1 results
    graph = NeighborIndex().fit(X).self_graph(k=2)
    assert graph.indices.shape == (10, 2)
    assert not (graph.indices == np.arange(10)[:, None]).any()


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_approximate_methods_tune_to_the_target_recall(method) -> None:
    X = _clustered(8_000, 16)
    index = NeighborIndex(method=method, tune_k=10).fit(X)
    assert index.method_ == method
    assert index.recall_ >= 0.95
    assert (index.nprobe_ if method == "ivf" else index.ef_search_) is not None
    assert measure_recall(index, _clustered(300, 16, seed=5), k=10) >= 0.9
    graph = index.self_graph(10)
    assert not (graph.indices == np.arange(len(X))[:, None]).any()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_recall_on_100k_by_32_clustered_rows(method) -> None:
    X = _clustered(100_000, 32)
    index = NeighborIndex(method=method).fit(X)
    assert index.recall_ >= 0.95
    queries = _clustered(1_000, 32, seed=9)
    assert measure_recall(index, queries, k=20) >= 0.95


def test_auto_is_exact_below_the_threshold_and_ivf_above() -> None:
    X = _clustered(3_000, 8)
    assert NeighborIndex().fit(X).method_ == "exact"
    index = NeighborIndex(exact_threshold=1_000).fit(X)
    assert index.method_ == "ivf"
    assert index.recall_ >= 0.95


def test_short_ivf_results_are_completed_exactly() -> None:
    X = _clustered(600, 4)
    index = NeighborIndex(method="ivf").fit(X)
    index.index_.nprobe = 1  # lists hold ~50 rows, some fewer than k: FAISS pads with -1
    _, raw = index.index_.search(index._prepare(X[:100]), 60)
    short = (raw < 0).any(axis=1)
    assert short.any()
    graph = index.search(X[:100], k=60)
    assert (graph.indices >= 0).all()
    expected = np.sort(_brute_force(X[:100][short], X, "l2"), axis=1)[:, :60]
    # IVF holds float16 rows: distances agree to float16's precision.
    np.testing.assert_allclose(graph.distances[short], expected, rtol=2e-3, atol=2e-3)


def test_search_in_chunks_matches_one_call(monkeypatch, small) -> None:
    index = NeighborIndex().fit(small)
    whole = index.search(small, k=4)
    monkeypatch.setattr(neighbors_module, "CHUNK_ROWS", 37)
    chunked = index.search(small, k=4)
    np.testing.assert_array_equal(chunked.indices, whole.indices)
    np.testing.assert_array_equal(
        index.self_graph(4).indices, NeighborIndex().fit(small).self_graph(4).indices
    )


@pytest.mark.parametrize("method", ["exact", "ivf", "hnsw"])
@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_save_and_load_round_trip(tmp_path, method, metric) -> None:
    X = _clustered(2_000, 8)
    index = NeighborIndex(metric=metric, method=method).fit(X)
    index.save(tmp_path / "idx")
    loaded = NeighborIndex.load(tmp_path / "idx")
    assert loaded.get_params() == index.get_params()
    assert (loaded.method_, loaded.recall_, loaded.nprobe_, loaded.ef_search_) == (
        index.method_,
        index.recall_,
        index.nprobe_,
        index.ef_search_,
    )
    before, after = index.search(X[:100], 5), loaded.search(X[:100], 5)
    np.testing.assert_array_equal(after.indices, before.indices)
    np.testing.assert_array_equal(after.distances, before.distances)
    json.loads((tmp_path / "idx" / "index.json").read_text())  # parameters are plain JSON


def test_load_refuses_a_directory_without_an_index(tmp_path) -> None:
    with pytest.raises(ConfigError, match="saved NeighborIndex"):
        NeighborIndex.load(tmp_path)


def test_bad_parameters_and_inputs_raise(small) -> None:
    with pytest.raises(ConfigError, match="metric"):
        NeighborIndex(metric="manhattan").fit(small)
    with pytest.raises(ConfigError, match="method"):
        NeighborIndex(method="lsh").fit(small)
    with pytest.raises(ConfigError, match="target_recall"):
        NeighborIndex(target_recall=1.5).fit(small)
    with pytest.raises(NotFittedError):
        NeighborIndex().search(small, 3)
    index = NeighborIndex().fit(small)
    with pytest.raises(ConfigError, match="columns"):
        index.search(small[:, :3], 3)
    with pytest.raises(ConfigError, match="k must be"):
        index.search(small, len(small) + 1)
    with pytest.raises(ConfigError, match="k must be"):
        index.self_graph(len(small))
    with pytest.raises(ConfigError, match="NaN"):
        index.search(np.full((1, 5), np.nan), 3)


def test_build_graph_indexes_everything_below_the_threshold(small) -> None:
    index, graph = build_graph(small, k=5)
    assert graph.reference_rows is None and graph.index is index
    np.testing.assert_array_equal(graph.indices, index.self_graph(5).indices)


def test_build_graph_samples_the_reference_above_the_threshold() -> None:
    X = _clustered(3_000, 6)
    index, graph = build_graph(X, k=8, reference_threshold=1_000, reference_size=500)
    ref = graph.reference_rows
    assert ref is not None and len(ref) == 500 and index.n_reference_ == 500
    assert graph.indices.shape == (3_000, 8) and graph.indices.max() < 500
    assert graph.n_reference == 500
    full = _brute_force(X, X[ref], "l2")
    full[ref, np.arange(500)] = np.inf  # sampled rows exclude themselves
    np.testing.assert_allclose(graph.distances, np.sort(full, axis=1)[:, :8], atol=1e-4)
    # The same seed draws the same sample.
    _, again = build_graph(X, k=8, reference_threshold=1_000, reference_size=500)
    np.testing.assert_array_equal(again.reference_rows, ref)


def test_build_graph_clamps_k_with_a_warning() -> None:
    X = _clustered(5, 3)
    with pytest.warns(UserWarning, match="using k=4"):
        _, graph = build_graph(X, k=10)
    assert graph.k == 4
    with pytest.raises(ConfigError):
        build_graph(X[:1], k=1)


def test_graph_head_and_validation() -> None:
    indices = np.arange(12).reshape(4, 3)
    graph = NeighborGraph(indices, np.zeros((4, 3), np.float32), "l2")
    assert (graph.k, graph.n_queries, graph.n_reference) == (3, 4, None)
    head = graph.head(2)
    assert head.k == 2 and np.shares_memory(head.indices, indices)
    assert graph.head(3) is graph
    with pytest.raises(ConfigError, match="k >= 4"):
        graph.head(4)
    with pytest.raises(ConfigError, match="metric"):
        NeighborGraph(indices, np.zeros((4, 3), np.float32), "jaccard")
    with pytest.raises(ConfigError, match="same shape"):
        NeighborGraph(indices, np.zeros((4, 2), np.float32), "l2")


@pytest.mark.parametrize(("n_queries", "idle"), [(5_000, False), (300, True)])
def test_ivf_batches_searched_by_list_give_plain_faiss_results(n_queries: int, idle: bool) -> None:
    X = _clustered(20_000, 8)
    index = NeighborIndex(method="ivf").fit(X)
    queries = _clustered(n_queries, 8, seed=3)
    with idle_cores(idle):  # a small batch split over idle cores gives the same results
        graph = index.search(queries, k=10)
    raw_d, raw_i = index.index_.search(queries, 10)
    assert (graph.indices == raw_i).all(axis=1).mean() > 0.999
    np.testing.assert_allclose(graph.distances, np.sqrt(np.maximum(raw_d, 0)), rtol=1e-5)


def test_build_graph_auto_weighs_queries_times_reference_rows() -> None:
    X = _clustered(3_000, 6)
    index, _ = build_graph(X, k=5, exact_threshold=2_000)
    assert index.method_ == "ivf"  # 3,000 x 3,000 pairs > 2,000 ** 2
    index, _ = build_graph(
        X, k=5, reference_threshold=1_000, reference_size=1_000, exact_threshold=1_500
    )
    assert index.method_ == "ivf"  # a 1,000-row sample, but 3,000 x 1,000 pairs > 1,500 ** 2
    index, _ = build_graph(X, k=5, exact_threshold=3_000)
    assert index.method_ == "exact"


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_rows_added_after_their_search_join_the_same_lists(metric: str) -> None:
    X, batch = _clustered(20_000, 16), _clustered(600, 16, seed=5)
    reused = NeighborIndex(method="ivf", metric=metric).fit(X)
    plain = NeighborIndex(method="ivf", metric=metric).fit(X)
    reused.search(batch, 10)  # remembers the batch's lists
    normal = batch[::2]
    assert reused._searched_lists(reused._prepare(normal)) is not None
    reused.add(normal)
    plain.add(normal)
    assert reused.n_reference_ == plain.n_reference_ == reused.index_.ntotal == 20_300
    added = reused.reconstruct(20_000, 20_300)
    np.testing.assert_array_equal(added, plain.reconstruct(20_000, 20_300))
    queries = _clustered(200, 16, seed=6)
    found, expected = reused.search(queries, 10), plain.search(queries, 10)
    np.testing.assert_array_equal(found.indices, expected.indices)
    # Rows that were not in the last search are assigned by the quantizer as usual.
    assert reused._searched_lists(reused._prepare(queries[:3] + 1.0)) is None


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_rows_re_added_with_their_lists_rebuild_the_same_index(metric: str) -> None:
    """What an online store's eviction does: the same fitted index fresh, plus the rows
    learned since but the oldest, re-added with their lists instead of searching for them."""
    X, learned = _clustered(20_000, 16), _clustered(900, 16, seed=5)
    grown = NeighborIndex(method="ivf", metric=metric).fit(X)
    grown.add(learned)
    rows, lists = grown.reconstruct(20_300, 20_900), grown.lists_of(20_300, 20_900)
    assert lists is not None and (lists >= 0).all()
    fresh = NeighborIndex(method="ivf", metric=metric).fit(X)
    fresh.add(rows, lists)
    plain = NeighborIndex(method="ivf", metric=metric).fit(X)
    plain.add(learned[300:])  # the quantizer assigns them: the same lists
    np.testing.assert_array_equal(fresh.lists_of(20_000, 20_600), lists)
    np.testing.assert_array_equal(plain.lists_of(20_000, 20_600), lists)
    queries = _clustered(200, 16, seed=6)
    found, expected = fresh.search(queries, 10), plain.search(queries, 10)
    np.testing.assert_array_equal(found.indices, expected.indices)
    # The lists given are the lists used (not searched for again): all rows into list 0.
    forced = NeighborIndex(method="ivf", metric=metric).fit(X)
    forced.add(rows, np.zeros(len(rows), dtype=np.int32))
    assert (forced.lists_of(20_000, 20_600) == 0).all()
    for wrong in (lists[:-1], lists.astype(float), lists + fresh.index_.nlist, lists - 1_000):
        with pytest.raises(ConfigError, match="IVF list"):
            fresh.add(rows, wrong)
    assert fresh.n_reference_ == fresh.index_.ntotal == 20_600  # refused: nothing added
    hnsw = NeighborIndex(method="hnsw").fit(X)
    with pytest.raises(ConfigError, match="IVF list"):
        hnsw.add(rows, lists)
    assert hnsw.id_rows_ is not None and len(hnsw.id_rows_) == hnsw.index_.ntotal == 20_000
    assert hnsw.lists_of(0, 10) is None and NeighborIndex().fit(X[:500]).lists_of(0, 10) is None


def test_lists_of_several_recent_searches_are_kept_within_a_bound() -> None:
    index = NeighborIndex(method="ivf").fit(_clustered(20_000, 16))
    first, second = _clustered(600, 16, seed=7), _clustered(600, 16, seed=8)
    index.search(first, 10)
    index.search(second, 10)  # another batch scored before the first one is learned
    assert index._searched_lists(index._prepare(first)) is not None
    for seed in range(9, 9 + 8_192 // 600 + 1):
        index.search(_clustered(600, 16, seed=seed), 10)
    assert len(index._recent_lists) <= 8_192
    assert index._searched_lists(index._prepare(first)) is None  # the oldest went first


@pytest.mark.parametrize("method", ["ivf", "hnsw"])
def test_retune_meets_the_target_on_new_queries(method: str) -> None:
    index = NeighborIndex(method=method).fit(_clustered(30_000, 16))
    # Events unlike the indexed ones: between the clusters, where lists are sparse.
    shifted = _clustered(500, 16, seed=3) * 0.5
    recall = index.retune(shifted)
    assert recall >= index.target_recall
    assert measure_recall(index, shifted, k=index.tune_k) >= index.target_recall
    assert index.retune(shifted) == pytest.approx(recall)  # settled: the same effort again


def test_ivf_holds_float16_rows_padded_to_a_multiple_of_eight() -> None:
    X = _clustered(6_000, 5)
    index = NeighborIndex(method="ivf", target_recall=1.0).fit(X)
    assert index.index_.d == 8 and index.index_.code_size == 8 * 2  # float16, padded
    assert index.reconstruct(0, 10).shape == (10, 5)
    queries = _clustered(50, 5, seed=3)
    graph = index.search(queries, k=5)
    expected = np.sort(_brute_force(queries, X, "l2"), axis=1)[:, :5]
    np.testing.assert_allclose(graph.distances, expected, rtol=2e-3, atol=2e-3)


def test_ivf_clips_rows_beyond_float16_instead_of_storing_infinity() -> None:
    index = NeighborIndex(method="ivf").fit(_clustered(6_000, 5))
    huge = np.full((1, 5), 1e5, dtype=np.float32)  # float16 ends at 65,504
    index.add(huge)
    stored = index.reconstruct(index.n_reference_ - 1, index.n_reference_)
    assert np.isfinite(stored).all() and stored.max() == pytest.approx(32_000, rel=1e-3)
    graph = index.search(huge, k=1)
    assert graph.indices[0, 0] == index.n_reference_ - 1 and np.isfinite(graph.distances).all()


def test_an_ivf_index_saved_with_float32_lists_still_loads(tmp_path) -> None:
    import faiss

    X = _clustered(6_000, 5)
    index = NeighborIndex(method="ivf").fit(X)
    index.save(tmp_path)
    # What earlier versions wrote: float32 lists of the unpadded rows, same lists and centres.
    centres = index.index_.quantizer.reconstruct_n(0, index.index_.nlist)[:, :5]
    quantizer = faiss.IndexFlatL2(5)
    quantizer.add(np.ascontiguousarray(centres))
    flat = faiss.IndexIVFFlat(quantizer, 5, index.index_.nlist)
    lists = index.lists_of(0, len(X))  # held: swig_ptr keeps no reference
    flat.add_core(len(X), faiss.swig_ptr(X), None, faiss.swig_ptr(lists))
    faiss.write_index(flat, str(tmp_path / "index.faiss"))
    old = NeighborIndex.load(tmp_path)
    assert old.index_.d == 5
    np.testing.assert_array_equal(old.reconstruct(0, len(X)), X)  # float32 kept exactly
    queries = _clustered(50, 5, seed=3)
    np.testing.assert_array_equal(old.search(queries, 5).indices, index.search(queries, 5).indices)
    assert old.add(queries) == 50 and old.n_reference_ == len(X) + 50


def test_ivf_fitted_on_values_beyond_float16_keeps_float32_lists() -> None:
    X = _clustered(6_000, 5)
    X[::2, 0] += 1e5  # scaled features may reach 1e6; float16 codes would overflow
    index = NeighborIndex(method="ivf", target_recall=1.0).fit(X)
    assert not index.holds_float16 and index.index_.d == 5
    graph = index.search(X[:200], k=3)
    assert (graph.indices[:, 0] == np.arange(200)).all() and (graph.distances[:, 0] == 0).all()


def test_load_refuses_an_index_of_another_width(tmp_path) -> None:
    for method, n in (("exact", 400), ("ivf", 6_000)):
        folder = tmp_path / method
        NeighborIndex(method=method).fit(_clustered(n, 5)).save(folder)
        state = json.loads((folder / "index.json").read_text())
        state["fitted"]["n_features_in_"] = 9  # float16 IVF pads 5 to 8: 9 is not 8's either
        (folder / "index.json").write_text(json.dumps(state))
        with pytest.raises(ConfigError, match="does not match"):
            NeighborIndex.load(folder)
