"""The fast paths of ECOD/COPOD, GMM, INNE, LODA, CBLOF, Isolation Forest, ROD and the IVF
search give the same numbers as the straightforward computations they replace."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest
from sklearn.mixture import GaussianMixture

from loghunt.detectors import (
    CBLOFDetector,
    COPODDetector,
    ECODDetector,
    GMMDetector,
    HBOSDetector,
    IForestDetector,
    INNEDetector,
    LODADetector,
    RODDetector,
    iforest,
)
from loghunt.detectors._ecdf import log_tails, skew_sign, skewed_tail
from loghunt.detectors.base import score_in_chunks
from loghunt.detectors.rod import _dense_ranks, _unique_rows
from loghunt.index import NeighborIndex


def _categorical_rows(n: int = 3_000, seed: int = 0) -> NDArray[np.float32]:
    """Few distinct values per column, ties everywhere, a constant column and some outliers."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.integers(0, 3, n),
            rng.poisson(2.0, n),
            np.round(rng.normal(size=n), 1),
            np.full(n, 4.0),
            rng.choice([0.0, 0.25, 7.5], n, p=[0.6, 0.39, 0.01]),
        ]
    ).astype(np.float32)
    X[:5] = [9.0, 30.0, 5.0, 4.0, 7.5]
    return X


def _new_rows(X: NDArray[np.float32]) -> NDArray[np.float32]:
    """Seen values, unseen values between them, and values beyond both ends."""
    return np.vstack([X[:50], X[:50] + 0.05, X.max(axis=0) + 1.0, X.min(axis=0) - 1.0])


def _counted_tails(detector: ECODDetector, data: NDArray[np.float32]) -> NDArray[np.float64]:
    """Per-feature scores by counting in the full sorted columns (the tables' reference)."""
    copod = isinstance(detector, COPODDetector)
    out = np.empty(data.shape, dtype=np.float64)
    for j, column in enumerate(detector.sorted_columns_):
        left, right = log_tails(column, data[:, j])
        skewed = skewed_tail(left, right, detector.skew_sign_[j])
        out[:, j] = (
            np.maximum(skewed, 0.5 * (left + right))
            if copod
            else np.maximum(np.maximum(left, right), skewed)
        )
    return out


@pytest.mark.parametrize("cls", [ECODDetector, COPODDetector])
def test_tail_tables_equal_counting_in_the_sorted_columns(cls: type[ECODDetector]) -> None:
    X = _categorical_rows()
    detector = cls().fit(X)
    np.testing.assert_array_equal(detector.train_scores_, _counted_tails(detector, X).sum(axis=1))
    new = _new_rows(X)
    np.testing.assert_array_equal(detector.feature_scores(new), _counted_tails(detector, new))
    restored = cls.from_arrays(detector.get_config(), detector.to_arrays())
    np.testing.assert_array_equal(restored.score(new), detector.score(new))


def test_one_gaussian_is_what_em_finds(planted) -> None:
    X = planted.X.astype(np.float64)
    ours = GMMDetector().fit(planted.X)
    mixture = GaussianMixture(1, random_state=0).fit(X)
    np.testing.assert_allclose(ours.means_, mixture.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        ours.precisions_cholesky_, mixture.precisions_cholesky_, rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(ours.train_scores_, -mixture.score_samples(X), rtol=1e-9)
    new = planted.X_new.astype(np.float64)  # scikit-learn would score float32 in float32
    np.testing.assert_allclose(ours.score(planted.X_new), -mixture.score_samples(new), rtol=1e-9)


@pytest.mark.parametrize("max_samples", [2, 5, 8, 12])
def test_inne_word_scoring_equals_the_argmax_walk(max_samples: int) -> None:
    X = _categorical_rows(2_000)[:, [0, 3, 4]]  # 9 distinct rows but the outliers
    detector = INNEDetector(n_estimators=50, max_samples=max_samples).fit(X)
    centre_sq = np.einsum("ij,ij->i", detector.centers_, detector.centers_)
    reach = detector.radius_.ravel() + 1e-10 * (centre_sq + 1.0)
    weights = np.vstack([-2.0 * detector.centers_.T, centre_sq - reach, np.ones(len(centre_sq))])
    general = score_in_chunks(X, partial(detector._score_block, weights), 97)
    np.testing.assert_array_equal(detector.train_scores_, general)
    # Duplicate centres have radius 0: rows equal to them must still count as covered.
    assert (detector.radius_ == 0).any()
    new = _new_rows(X)
    expected = score_in_chunks(new, partial(detector._score_block, weights), 97)
    np.testing.assert_array_equal(detector.score(new), expected)


def test_loda_training_bins_equal_histograms_and_scoring(planted) -> None:
    X = _categorical_rows()
    detector = LODADetector(n_random_cuts=30).fit(X)
    projected = X.astype(np.float64) @ detector.projections_.T
    for i in range(detector.n_random_cuts):
        counts, edges = np.histogram(projected[:, i], bins=detector.n_bins)
        np.testing.assert_array_equal(edges, detector.bin_edges_[i])
        share = (counts + 1e-12) / (counts.sum() + detector.n_bins * 1e-12)
        np.testing.assert_array_equal(-np.log(share), detector.bin_scores_[i])
    np.testing.assert_array_equal(detector.score(X), detector.train_scores_)


def test_cblof_scores_training_rows_as_new_ones() -> None:
    X = _categorical_rows()
    for use_weights in (False, True):
        detector = CBLOFDetector(use_weights=use_weights).fit(X)
        np.testing.assert_array_equal(detector.score(X), detector.train_scores_)


def test_iforest_int32_walk_equals_scikit_learn(planted) -> None:
    ours = IForestDetector(n_estimators=40).fit(planted.X)
    forest = IsolationForest(n_estimators=40, random_state=0).fit(planted.X)
    np.testing.assert_allclose(ours.train_scores_, -forest.score_samples(planted.X), rtol=1e-12)
    np.testing.assert_allclose(
        ours.score(planted.X_new), -forest.score_samples(planted.X_new), rtol=1e-12
    )


@pytest.mark.parametrize("n_queries", [300, 3_000])  # a live batch, and a large one
def test_grouped_ivf_search_equals_faiss_search(tmp_path: Path, n_queries: int) -> None:
    rng = np.random.default_rng(0)
    R = rng.normal(size=(6_000, 8)).astype(np.float32)
    index = NeighborIndex(method="ivf").fit(R)
    index.save(tmp_path)
    loaded = NeighborIndex.load(tmp_path)  # FAISS does not save the parallel mode
    queries = rng.normal(size=(n_queries, 8)).astype(np.float32)
    plain_d, plain_i = index.index_.search(queries, 10)
    for searched in (index, loaded):
        assert searched.index_.parallel_mode == 3
        grouped_d, grouped_i = searched._faiss_search(queries, 10)
        np.testing.assert_array_equal(grouped_i, plain_i)
        np.testing.assert_array_equal(grouped_d, plain_d)


def _forest_walk(detector: IForestDetector, X: NDArray[np.float32]) -> NDArray[np.float64]:
    """Per-row, per-tree descent on the fitted node arrays (the walk's reference)."""
    threshold = detector.threshold_
    depth = np.zeros(len(X))
    for root in detector.roots_:
        node = np.full(len(X), root)
        for _ in range(detector.max_depth_):
            went_right = X[np.arange(len(X)), detector.feature_[node]] > threshold[node]
            node = detector.children_[2 * node + went_right]
        depth += detector.path_length_[node]
    return np.exp2(-depth / detector.normalizer_)


@pytest.mark.parametrize("max_samples", [2, 5, 256])
def test_iforest_top_levels_equal_walking_every_level(
    max_samples: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    X = _categorical_rows(2_000)  # ties and a constant column: leaves above the third level
    detector = IForestDetector(n_estimators=30, max_samples=max_samples).fit(X)
    new = _new_rows(X)
    np.testing.assert_allclose(detector.train_scores_, _forest_walk(detector, X), rtol=1e-12)
    np.testing.assert_allclose(detector.score(new), _forest_walk(detector, new), rtol=1e-12)
    for levels in range(iforest._TOP_LEVELS):
        monkeypatch.setattr(iforest, "_TOP_LEVELS", levels)
        np.testing.assert_array_equal(detector.score(X), detector.train_scores_)
        np.testing.assert_array_equal(detector.score(new[:7]), detector.score(new)[:7])


@pytest.mark.parametrize("n_bins", [2, 10, 100])  # 100: past the counted edges, a search
def test_loda_bins_equal_a_search_of_the_interior_edges(n_bins: int) -> None:
    X = _categorical_rows()
    detector = LODADetector(n_bins=n_bins, n_random_cuts=13).fit(X)
    projected = detector._project(_new_rows(X))
    # Values exactly on every edge, and beyond both ends.
    edges = detector.bin_edges_.T
    projected = np.vstack([projected, edges, edges - 1e-9, edges[[0, -1]] + [[-5.0], [5.0]]])
    bins = detector._bins(projected)
    for i in range(detector.n_random_cuts):
        expected = np.searchsorted(detector.bin_edges_[i, 1:-1], projected[:, i], side="right")
        np.testing.assert_array_equal(bins[i], expected)


def _rod_reference(detector: RODDetector, X: NDArray[np.float32]) -> NDArray[np.float64]:
    """ROD's score from the fitted state, rows x subspaces, with np.where and einsum."""
    scaled = (X - detector.center_) / detector.scale_
    vectors = scaled[:, detector.subspaces_] - detector.medians_
    lengths = np.sqrt(np.einsum("ijk,ijk->ij", vectors, vectors))
    norms = np.linalg.norm(detector.medians_, axis=1)
    cosine = np.einsum("ijk,jk->ij", vectors, detector.medians_) / (lengths * norms)
    angles = np.arccos(np.clip(cosine, -1.0, 1.0))
    low1, high1, low2, high2 = detector.angle_ranges_.T
    first = angles <= np.pi / 2
    low, high = np.where(first, low1, low2), np.where(first, high1, high2)
    start, stop = np.where(first, 0.001, np.pi / 2 + 0.001), np.where(first, 0.955, 2.186)
    g = start + (angles - low) * (stop - start) / (high - low)
    costs = lengths**3 * np.cos(g) * np.sin(g) ** 2
    z = 0.6745 * np.abs(costs - detector.cost_median_) / detector.cost_mad_
    return (1.0 / (1.0 + np.exp(-z))).mean(axis=1)


def test_rod_subspace_layout_equals_the_row_layout_formula() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3_000, 9)).astype(np.float32)
    X[:, 4] = np.round(X[:, 4])  # ties for the distinct rows of the geometric medians
    detector = RODDetector(max_subspaces=20, max_samples=1_000).fit(X)
    np.testing.assert_allclose(detector.train_scores_, _rod_reference(detector, X), rtol=1e-9)
    # A row scores the same alone as in any batch.
    alone = np.array([detector.score(X[i : i + 1])[0] for i in range(50)])
    np.testing.assert_array_equal(alone, detector.train_scores_[:50])


def test_rod_unique_rows_from_ranks_equal_numpy_unique() -> None:
    rng = np.random.default_rng(1)
    points = rng.integers(-2, 3, (4_000, 3)).astype(np.float64)
    points[::7, 1] = -0.0  # equal to 0.0: the first occurrence represents both
    ranks, sizes = _dense_ranks(np.ascontiguousarray(points.T))
    ordered = points[np.lexsort(points.T[::-1])]  # stable: first occurrences lead their group
    expected = ordered[np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)]]
    np.testing.assert_array_equal(expected, np.unique(points, axis=0))
    # Too many distinct values for one int64 key: the lexsort path.
    huge = np.array([2**22, 2**22, 2**22])
    for unique in (_unique_rows(points, ranks, sizes), _unique_rows(points, ranks, huge)):
        np.testing.assert_array_equal(unique, expected)
        np.testing.assert_array_equal(np.signbit(unique), np.signbit(expected))


def _pyod_bin_scores(detector: HBOSDetector, data: NDArray[np.float32]) -> NDArray[np.float64]:
    """PyOD's per-column lookup: digitize(right=True), edge bins within tol, else the worst."""
    out = np.empty(data.shape)
    for j, (edges, scores) in enumerate(
        zip(detector.bin_edges_, detector.bin_scores_, strict=True)
    ):
        values = data[:, j].astype(np.float64)
        index = np.digitize(values, edges, right=True)
        out[:, j] = scores[np.clip(index - 1, 0, len(scores) - 1)]
        near_low = edges[0] - values <= (edges[1] - edges[0]) * detector.tol
        near_high = values - edges[-1] <= (edges[-1] - edges[-2]) * detector.tol
        out[:, j][(index == 0) & ~near_low] = scores.max()
        out[:, j][(index == len(edges)) & ~near_high] = scores.max()
    return out


@pytest.mark.parametrize("n_bins", [2, 10, 40])  # 40: past the counted edges, a search
def test_hbos_bins_equal_pyods_digitize_lookup(n_bins: int) -> None:
    X = _categorical_rows()
    detector = HBOSDetector(n_bins=n_bins, tol=0.3).fit(X)
    edges = detector.bin_edges_.T.astype(np.float32)
    width = (detector.bin_edges_[:, 1] - detector.bin_edges_[:, 0]).astype(np.float32)
    # Values on every edge (as float32), beyond both ends within and past tol bin widths.
    new = np.vstack(
        [_new_rows(X), edges, edges[0] - 0.2 * width, edges[-1] + 0.2 * width, edges[0] - width]
    )
    np.testing.assert_array_equal(detector.feature_scores(new), _pyod_bin_scores(detector, new))
    np.testing.assert_array_equal(detector.train_scores_, _pyod_bin_scores(detector, X).sum(1))
    np.testing.assert_array_equal(detector.score(new), detector.feature_scores(new).sum(axis=1))


def _per_row_skew_sign(column: NDArray[np.float32]) -> float:
    """The sign of the third central moment from every row (scipy's computation)."""
    values = column.astype(np.float64)
    deviation = values - values.mean()
    if np.mean(deviation * deviation) <= (1e-15 * values.mean()) ** 2:
        return 0.0
    m3 = np.mean(deviation * deviation * deviation)
    if abs(m3) <= 1e-12 * np.mean(np.abs(deviation**3)):
        m3 = np.mean(deviation**3)
    return float(np.sign(m3))


def test_skew_sign_from_distinct_values_equals_the_per_row_moments() -> None:
    rng = np.random.default_rng(3)
    half = rng.normal(size=1_000).astype(np.float32)
    columns = np.vstack(
        [
            _categorical_rows(2_000).T,
            np.tile(np.float32([0.0, 1.0]), 1_000),  # symmetric: the exact cubes decide
            np.concatenate([half, -half]),  # symmetric about 0, many distinct values
            1e4 + rng.integers(-2, 3, 2_000).astype(np.float32),  # large mean, small spread
            np.where(rng.random(2_000) < 0.3, -0.0, rng.poisson(1.0, 2_000)).astype(np.float32),
        ]
    )
    expected = [_per_row_skew_sign(column) for column in columns]
    assert skew_sign(columns, np.sort(columns, axis=1)).tolist() == expected


def test_gmm_training_scores_from_the_centred_copy_equal_scoring() -> None:
    X = _categorical_rows(5_000)
    X[:, 3] += np.random.default_rng(0).normal(0.0, 0.1, len(X)).astype(np.float32)
    detector = GMMDetector().fit(X)
    np.testing.assert_allclose(detector.train_scores_, detector.score(X), rtol=1e-12)


def test_cblof_nearest_large_centre_equals_a_search_of_all_large_centres() -> None:
    X = _categorical_rows()
    detector = CBLOFDetector(n_clusters=12, alpha=0.6, beta=1.5).fit(X)
    large = detector.cluster_centers_[detector.large_clusters_]
    assert 0 < len(large) < detector.n_clusters_  # rows of small clusters search the others
    distance = np.linalg.norm(X[:, None, :] - large[None, :, :], axis=2).min(axis=1)
    np.testing.assert_allclose(detector.train_scores_, distance, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("distinct", [5, 9])
def test_cblof_counts_every_distinct_row_when_the_first_ones_repeat(distinct: int) -> None:
    X = np.zeros((2_000, 2), dtype=np.float32)  # the first 16 * n_clusters rows are equal
    X[-distinct + 1 :, 0] = np.arange(1, distinct)
    if distinct < 8:
        with pytest.warns(UserWarning, match=f"{distinct} distinct rows"):
            detector = CBLOFDetector(n_clusters=8).fit(X)
    else:
        detector = CBLOFDetector(n_clusters=8).fit(X)
    assert detector.n_clusters_ == min(8, distinct)
