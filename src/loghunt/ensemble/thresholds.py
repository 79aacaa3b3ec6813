"""Thresholds turn scores into flags; they are separate from detectors (see DESIGN.md).

Each has ``fit(scores, ...) -> self`` and ``flag(scores) -> bool array``; ``threshold_`` is the
score at or above which an event is flagged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

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


@dataclass
class BudgetThreshold(Threshold):
    """An alert budget: at most ``per_day`` flags per calendar day (UTC), or ``total`` in all.

    The analyst's capacity decides how many findings to look at, not a guessed contamination.
    Each day's (or the whole batch's) highest scores are flagged; ties at a day's cut are
    never split, so a day can get fewer than ``per_day`` flags but never more. Events without a
    time share one extra "day". ``threshold_`` is the lowest flagged score (informational: a
    per-day budget has one cut per day).

    >>> import numpy as np
    >>> times = np.array(["2024-01-01T09", "2024-01-01T10", "2024-01-02T11"], "datetime64[ms]")
    >>> BudgetThreshold(per_day=1).flag(np.array([0.2, 0.9, 0.1]), times).tolist()
    [False, True, True]
    """

    per_day: int | None = None
    total: int | None = None

    def fit(
        self,
        scores: Scores,
        times: ArrayLike | None = None,
        candidates: NDArray[np.bool_] | None = None,
    ) -> BudgetThreshold:
        """Record the lowest flagged score of ``scores`` as ``threshold_``."""
        flags = self.flag(scores, times, candidates)
        values = np.asarray(scores, dtype=np.float64)
        self.threshold_ = float(values[flags].min()) if flags.any() else float("inf")
        return self

    def flag(
        self,
        scores: Scores,
        times: ArrayLike | None = None,
        candidates: NDArray[np.bool_] | None = None,
    ) -> Flags:
        """The day's (or batch's) top events among ``candidates`` (default: all)."""
        n = self._check()
        values = np.asarray(scores, dtype=np.float64)
        pool = np.ones(values.size, bool) if candidates is None else np.asarray(candidates, bool)
        if self.per_day is not None:
            if times is None:
                raise ConfigError("a per-day budget needs event times")
            groups = _days(times, values.size)
        else:
            groups = np.zeros(values.size, dtype=np.int64)
        rows = np.flatnonzero(pool)
        out = np.zeros(values.size, dtype=bool)
        out[rows] = _top_n_per_group(values[rows], groups[rows], n)
        return out

    @property
    def label(self) -> str:
        """The budget as the command line writes it: ``20/day`` or ``50``."""
        return f"{self.per_day}/day" if self.per_day is not None else str(self.total)

    def _check(self) -> int:
        if (self.per_day is None) == (self.total is None):
            raise ConfigError("give a budget per day or a total budget, not both or neither")
        n = self.per_day if self.per_day is not None else self.total
        assert n is not None
        if n < 1:
            raise ConfigError(f"the budget must be at least 1, got {n}")
        return n


def apply_threshold(
    flags: Flags,
    scores: Scores,
    *,
    budget: BudgetThreshold | None = None,
    times: ArrayLike | None = None,
    candidates: Flags | None = None,
    excluded: Flags | None = None,
) -> tuple[Flags, Flags]:
    """Final flags, and the flags as they were before ``excluded`` events were removed.

    Without a budget, ``flags`` (from a contamination cut or votes) minus the excluded events.
    With a budget, the budget's top events among ``candidates`` (default: all); excluded events
    (analysts' suppressions) then give their slots to the next-highest events.

    >>> import numpy as np
    >>> scores = np.array([0.9, 0.8, 0.7])
    >>> final, before = apply_threshold(scores > 0.75, scores, budget=BudgetThreshold(total=2),
    ...                                 excluded=np.array([True, False, False]))
    >>> final.tolist(), before.tolist()
    ([False, True, True], [True, True, False])
    """
    out = np.zeros(len(flags), dtype=bool) if excluded is None else np.asarray(excluded, bool)
    if budget is None:
        before = np.asarray(flags, dtype=bool)
        return before & ~out, before
    pool = np.ones(out.size, bool) if candidates is None else np.asarray(candidates, bool)
    before = budget.flag(scores, times, pool)
    if not out.any():
        return before, before
    return budget.flag(scores, times, pool & ~out), before


_BUDGET = re.compile(r"^\s*(\d+)\s*(?:/\s*(day|d))?\s*$", re.IGNORECASE)


def parse_budget(text: str) -> BudgetThreshold:
    """``"20/day"`` -> at most 20 flags per calendar day; ``"50"`` -> at most 50 in total.

    >>> parse_budget("20/day").per_day, parse_budget("50").total
    (20, 50)
    """
    match = _BUDGET.match(text)
    if match is None:
        raise ConfigError(f"a budget is N (in total) or N/day, got {text!r}")
    n = int(match.group(1))
    budget = BudgetThreshold(per_day=n) if match.group(2) else BudgetThreshold(total=n)
    budget._check()
    return budget


def _days(times: ArrayLike, n: int) -> NDArray[np.int64]:
    """Calendar day (UTC, days since 1970) of each time; missing times share one group."""
    if isinstance(times, pl.Series):
        times = times.cast(pl.Datetime("ms")).to_numpy()
    stamps = np.asarray(times)
    if stamps.shape != (n,):
        raise ConfigError(f"need one time per score: {stamps.shape} times for {n} scores")
    if not np.issubdtype(stamps.dtype, np.datetime64):
        raise ConfigError(f"event times must be datetimes, got {stamps.dtype}")
    # NaT becomes the smallest int64: its own group, as the docstring promises.
    return stamps.astype("datetime64[D]").astype(np.int64)


def _top_n_per_group(values: Scores, groups: NDArray[np.int64], n: int) -> Flags:
    """Flag each group's ``n`` highest values; a tie across a group's cut flags none of it."""
    order = np.lexsort((-values, groups))
    s, g = values[order], groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if g.size else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, g.size])
    rank = np.arange(g.size) - np.repeat(starts, sizes)
    keep = rank < n
    # Groups larger than n whose n-th and (n+1)-th values tie: flag only values above the tie.
    big = sizes > n
    kth = np.full(starts.size, np.inf)
    kth[big] = s[starts[big] + n - 1]
    tied = np.zeros(starts.size, dtype=bool)
    tied[big] = s[starts[big] + n] == kth[big]
    keep &= ~(np.repeat(tied, sizes) & (s == np.repeat(kth, sizes)))
    out = np.empty(values.size, dtype=bool)
    out[order] = keep
    return out


_PR_SCHEMA = {
    "name": pl.String,
    "threshold": pl.Float64,
    "n_flagged": pl.Int64,
    "true_positives": pl.Int64,
    "precision": pl.Float64,
    "recall": pl.Float64,
    "f1": pl.Float64,
}


def precision_recall_table(
    scores: Scores,
    labels: NDArray[np.bool_],
    thresholds: Mapping[str, float] | None = None,
    ks: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000),
    flagged: Mapping[str, Flags] | None = None,
) -> pl.DataFrame:
    """Precision, recall and F1 when flagging everything at or above each cut.

    Rows: the top ``k`` events for each ``k`` in ``ks`` (cut at the k-th score, so ties may
    flag a few more), one row per named threshold (``thresholds``, e.g. contamination,
    best_f1), and one per named set of flags that no single cut gives (``flagged``: a per-day
    budget; its threshold is the lowest flagged score); sorted by threshold, highest first.
    Column ``name`` holds the threshold's name or ``top k``.

    >>> import numpy as np
    >>> t = precision_recall_table(np.array([0.9, 0.8, 0.1]), np.array([True, False, False]),
    ...                            {"best_f1": 0.9}, ks=(2,))
    >>> t.select("name", "n_flagged", "precision").rows()
    [('best_f1', 1, 1.0), ('top 2', 2, 0.5)]
    """
    values = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(labels, dtype=bool)
    if values.shape != truth.shape:
        raise ConfigError("scores and labels must have the same length")
    ordered = np.sort(values)[::-1]
    cuts = {f"top {k}": float(ordered[k - 1]) for k in ks if k <= values.size}
    cuts.update(thresholds or {})
    names = list(cuts)
    cut = np.array([cuts[n] for n in names], dtype=np.float64)
    # Events at or above a cut, and positives among them, from one sort of the scores.
    positives_sorted = np.sort(values[truth])
    n_flagged = values.size - np.searchsorted(np.sort(values), cut, side="left")
    tp = positives_sorted.size - np.searchsorted(positives_sorted, cut, side="left")
    n_pos = max(int(truth.sum()), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_flagged > 0, tp / np.maximum(n_flagged, 1), 0.0)
        recall = tp / n_pos
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    table = pl.DataFrame(
        {
            "name": names,
            "threshold": cut,
            "n_flagged": n_flagged.astype(np.int64),
            "true_positives": tp.astype(np.int64),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        },
        schema=_PR_SCHEMA,
    )
    rows = [table]
    for name, mask in (flagged or {}).items():
        chosen = np.asarray(mask, dtype=bool)
        n_chosen, hits = int(chosen.sum()), int((chosen & truth).sum())
        p = hits / n_chosen if n_chosen else 0.0
        r = hits / n_pos
        row = {
            "name": name,
            "threshold": float(values[chosen].min()) if n_chosen else float("inf"),
            "n_flagged": n_chosen,
            "true_positives": hits,
            "precision": p,
            "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0,
        }
        rows.append(pl.DataFrame([row], schema=_PR_SCHEMA))
    return pl.concat(rows).sort(["threshold", "name"], descending=[True, False])


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
