from __future__ import annotations

import numpy as np
import pytest

from loghunt.ensemble.combine import agreement, combine_scores, count_votes
from loghunt.ensemble.normalize import percentile_scores
from loghunt.ensemble.thresholds import (
    BestF1Threshold,
    ContaminationThreshold,
    FixedThreshold,
    TopKThreshold,
)
from loghunt.errors import ConfigError, NotFittedError


def test_percentile_scores_are_rank_based_and_robust_to_huge_values() -> None:
    train = np.array([1.0, 2.0, 3.0, 1e12])
    assert percentile_scores(train, np.array([0.0, 2.5, 1e13])).tolist() == [0.0, 0.5, 1.0]
    # Ties count half, so a constant detector sits at 0.5, not at the extremes.
    assert percentile_scores(np.ones(4), np.ones(1)).tolist() == [0.5]


def test_contamination_threshold_flags_the_expected_share() -> None:
    scores = np.random.default_rng(0).normal(size=10_000)
    flags = ContaminationThreshold(0.01).fit(scores).flag(scores)
    assert flags.sum() == 100


@pytest.mark.parametrize("k", [1, 7, 50])
def test_top_k_budget_is_never_exceeded_even_with_ties(k: int) -> None:
    scores = np.repeat(np.arange(20.0), 5)  # every value five times
    flags = TopKThreshold(k).fit(scores).flag(scores)
    assert 0 < flags.sum() <= k or (k < 5 and flags.sum() == 0)
    assert flags.sum() <= k


def test_best_f1_threshold_separates_perfectly_separable_scores() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.95])
    labels = np.array([False, False, False, True, True])
    thr = BestF1Threshold().fit(scores, labels)
    assert thr.threshold_ == 0.9 and thr.f1_ == 1.0


def test_threshold_errors() -> None:
    with pytest.raises(NotFittedError):
        FixedThreshold().flag(np.zeros(3))
    with pytest.raises(ConfigError):
        ContaminationThreshold(0.7).fit(np.zeros(3))
    with pytest.raises(ConfigError):
        BestF1Threshold().fit(np.zeros(3), np.zeros(3, dtype=bool))


def test_votes_combine_and_agreement() -> None:
    norm = np.array([[1.0, 0.995, 0.2], [0.1, 0.2, 0.3], [0.999, 0.999, 0.999]])
    assert count_votes(norm, 0.01).tolist() == [2, 0, 3]
    assert combine_scores(norm, "max").tolist() == [1.0, 0.3, 0.999]
    with pytest.raises(ConfigError):
        combine_scores(norm, "vote-of-confidence")
    rng = np.random.default_rng(1)
    a = rng.normal(size=500)
    agree = agreement({"a": a, "same": a * 2, "other": rng.normal(size=500)}, 0.05)
    assert agree.spearman[0, 1] == pytest.approx(1.0)
    assert agree.jaccard[0, 1] == 1.0 and agree.jaccard[0, 2] < 0.5


def test_agreement_is_scipy_spearman_with_ties_and_accepts_ranks() -> None:
    from scipy.stats import spearmanr

    from loghunt.ensemble.normalize import self_percentiles

    rng = np.random.default_rng(3)
    scores = {"a": rng.integers(0, 5, 400).astype(float), "b": rng.normal(size=400)}
    scores["c"] = scores["a"] + rng.integers(0, 2, 400)
    agree = agreement(scores, 0.1)
    expected = spearmanr(np.column_stack(list(scores.values()))).statistic
    np.testing.assert_allclose(agree.spearman, expected, atol=1e-12)
    ranks = np.column_stack([self_percentiles(v)[0] for v in scores.values()])
    np.testing.assert_allclose(agreement(scores, 0.1, ranks).spearman, expected, atol=1e-12)
