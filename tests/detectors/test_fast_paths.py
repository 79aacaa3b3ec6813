"""The fast paths of ECOD/COPOD, GMM, INNE, LODA, CBLOF, Isolation Forest and the IVF search
give the same numbers as the straightforward computations they replace."""

from __future__ import annotations

from functools import partial

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
    IForestDetector,
    INNEDetector,
    LODADetector,
)
from loghunt.detectors._ecdf import log_tails, skewed_tail
from loghunt.detectors.base import score_in_chunks
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


def test_grouped_ivf_search_equals_faiss_search() -> None:
    rng = np.random.default_rng(0)
    R = rng.normal(size=(6_000, 8)).astype(np.float32)
    index = NeighborIndex(method="ivf").fit(R)
    queries = rng.normal(size=(3_000, 8)).astype(np.float32)  # above the grouping threshold
    grouped_d, grouped_i = index._faiss_search(queries, 10)
    plain_d, plain_i = index.index_.search(queries, 10)
    np.testing.assert_array_equal(grouped_i, plain_i)
    np.testing.assert_array_equal(grouped_d, plain_d)
    assert index.index_.parallel_mode == 0  # restored after the grouped search
