from __future__ import annotations

import math

import numpy as np
import pytest

from loghunt.evaluate import evaluate


def test_metrics_on_a_known_ranking() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.05])
    labels = np.array([True, False, True, False, False])
    flags = scores >= 0.7
    m = evaluate("x", scores, flags, labels)
    assert m.precision == 2 / 3 and m.recall == 1.0
    assert m.precision_at_k == 0.5 and m.k == 2
    assert m.roc_auc == 5 / 6
    assert 0 < m.pr_auc <= 1


def test_metrics_without_both_classes_are_nan_not_errors() -> None:
    m = evaluate("x", np.arange(3.0), np.zeros(3, dtype=bool), np.zeros(3, dtype=bool))
    assert math.isnan(m.roc_auc) and m.recall == 0.0


def test_metrics_match_scikit_learn_with_ties() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(5, 2_000))
        tied = trial % 2 == 0  # integer-valued scores: many ties, like vote counts
        scores = rng.integers(0, 8, n).astype(float) if tied else rng.normal(size=n)
        labels = rng.random(n) < rng.uniform(0.02, 0.6)
        if not 0 < labels.sum() < n:
            continue
        m = evaluate("x", scores, scores > 0, labels)
        assert m.roc_auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert m.pr_auc == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
        top = np.argsort(-scores, kind="stable")[: m.k]  # ties in the events' order
        assert m.precision_at_k == labels[top].mean()


def test_metrics_reject_nan_scores_like_scikit_learn() -> None:
    with pytest.raises(ValueError, match="NaN"):
        evaluate("x", np.array([np.nan, 1.0, 2.0]), np.zeros(3, bool), np.array([1, 0, 0], bool))
