"""Thresholds turn scores into flags; they are separate from detectors (see DESIGN.md).

Each has ``fit(scores, ...) -> self`` and ``flag(scores) -> bool array``; ``threshold_`` is the
score at or above which an event is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loghunt.errors import ConfigError, NotFittedError

Scores = NDArray[np.float64]
Flags = NDArray[np.bool_]


class Threshold:
    """Base: flags scores at or above ``threshold_``."""

    threshold_: float

    def flag(self, scores: Scores) -> Flags:
        if not hasattr(self, "threshold_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit first")
        return np.asarray(scores, dtype=np.float64) >= self.threshold_


@dataclass
class ContaminationThreshold(Threshold):
    """Flag the top ``contamination`` fraction of the fitted scores.

    >>> import numpy as np
    >>> ContaminationThreshold(0.1).fit(np.arange(100.0)).flag(np.array([50.0, 95.0])).tolist()
    [False, True]
    """

    contamination: float = 0.01

    def fit(self, scores: Scores) -> ContaminationThreshold:
        if not 0.0 < self.contamination < 0.5:
            raise ConfigError(f"contamination must be in (0, 0.5), got {self.contamination}")
        values = np.asarray(scores, dtype=np.float64)
        self.threshold_ = _top_k_cut(values, max(1, round(self.contamination * values.size)))
        return self


@dataclass
class FixedThreshold(Threshold):
    """Flag scores at or above a fixed value (e.g. a combined score of 0.99)."""

    value: float = 0.99

    def fit(self, scores: Scores | None = None) -> FixedThreshold:
        self.threshold_ = float(self.value)
        return self


@dataclass
class TopKThreshold(Threshold):
    """An alert budget: flag at most ``k`` events in total (the analyst's capacity)."""

    k: int = 50

    def fit(self, scores: Scores) -> TopKThreshold:
        if self.k < 1:
            raise ConfigError(f"the budget must be at least 1, got {self.k}")
        self.threshold_ = _top_k_cut(np.asarray(scores, dtype=np.float64), self.k)
        return self


@dataclass
class BestF1Threshold(Threshold):
    """The threshold that maximises F1 against known labels (evaluation only)."""

    def fit(self, scores: Scores, labels: NDArray[np.bool_]) -> BestF1Threshold:
        values = np.asarray(scores, dtype=np.float64)
        truth = np.asarray(labels, dtype=bool)
        if not truth.any():
            raise ConfigError("best-F1 needs at least one positive label")
        order = np.argsort(-values, kind="stable")
        hits = np.cumsum(truth[order])
        flagged = np.arange(1, values.size + 1)
        f1 = 2 * hits / (flagged + truth.sum())
        # Only cut between distinct scores, so every event at the threshold is flagged.
        distinct = np.append(values[order][1:] != values[order][:-1], True)
        best = int(np.argmax(np.where(distinct, f1, -1.0)))
        self.threshold_ = float(values[order][best])
        self.f1_ = float(f1[best])
        return self


def _top_k_cut(values: Scores, k: int) -> float:
    """Smallest score among the top ``k``; ties above the k-th are never split."""
    if values.size == 0:
        return float("inf")
    k = min(k, values.size)
    kth = float(np.partition(values, values.size - k)[values.size - k])
    # With ties at the cut, flagging all of them could exceed k: move just above instead.
    if int((values >= kth).sum()) > k:
        above = values[values > kth]
        return float(above.min()) if above.size else float(np.nextafter(kth, np.inf))
    return kth
