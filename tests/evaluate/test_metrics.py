from __future__ import annotations

import math

import numpy as np

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
