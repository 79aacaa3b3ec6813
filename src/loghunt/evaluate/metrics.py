"""Detection quality against labels: ROC-AUC, PR-AUC, P/R/F1 at the flags, precision@k."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import average_precision_score, roc_auc_score

from loghunt.errors import ConfigError


@dataclass(frozen=True)
class Metrics:
    """Quality of one score vector (a detector or the ensemble)."""

    name: str
    roc_auc: float
    pr_auc: float
    precision: float
    recall: float
    f1: float
    precision_at_k: float
    k: int
    n_flagged: int
    n_positive: int

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def evaluate(
    name: str,
    scores: NDArray[np.float64],
    flags: NDArray[np.bool_],
    labels: NDArray[np.bool_],
    k: int | None = None,
) -> Metrics:
    """Metrics of ``scores`` (higher = more anomalous) and ``flags`` against ``labels``.

    ``k`` defaults to the number of positives, so precision@k equals R-precision.
    """
    truth = np.asarray(labels, dtype=bool)
    values = np.asarray(scores, dtype=np.float64)
    flagged = np.asarray(flags, dtype=bool)
    if truth.shape != values.shape or flagged.shape != values.shape:
        raise ConfigError("labels, scores and flags must have the same length")
    n_pos = int(truth.sum())
    both_classes = 0 < n_pos < truth.size
    k = k or max(n_pos, 1)
    top = np.argsort(-values, kind="stable")[:k]
    tp = int((flagged & truth).sum())
    precision = tp / int(flagged.sum()) if flagged.any() else 0.0
    recall = tp / n_pos if n_pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(
        name=name,
        roc_auc=float(roc_auc_score(truth, values)) if both_classes else float("nan"),
        pr_auc=float(average_precision_score(truth, values)) if both_classes else float("nan"),
        precision=precision,
        recall=recall,
        f1=f1,
        precision_at_k=float(truth[top].mean()) if top.size else 0.0,
        k=k,
        n_flagged=int(flagged.sum()),
        n_positive=n_pos,
    )
