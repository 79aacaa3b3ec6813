"""Per-feature contributions: how far into its baseline tail each feature value lies.

ECOD's per-feature idea (Li et al. 2022) with the side chosen by meaning rather than by
skewness: rarities, first-seen flags, off-hours and window counts are unusual only when high
(an IP address seen in every event is not a finding), numbers and string statistics in either
direction. A contribution is ``-log10`` of the tail probability, in decades: 2 means one event
in a hundred is as extreme. Ties between equally extreme features are broken by the robust
z-distance from the baseline median.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Sides of the tail a feature can be unusual in.
RIGHT, BOTH, SKIP = "right", "both", "skip"
#: A value beyond every baseline value counts as half a baseline row (as in ECOD).
_UNSEEN_COUNT = 0.5
_MAD_TO_SD = 1.4826

Float64s = NDArray[np.float64]


@dataclass(frozen=True)
class FeatureTails:
    """Empirical distributions of the baseline features, for scoring single events.

    A feature can be judged among the baseline events where its field is present only
    (``present``): the length of an error message is compared with other error messages, and an
    event without one contributes nothing, since its features hold the median for "absent".

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(1000, 2)).astype("float32")
    >>> tails = FeatureTails.fit(X, ["both", "right"])
    >>> contrib, z = tails.score(np.array([[0.0, 4.0]], dtype="float32"))
    >>> bool(contrib[0, 1] > 2.5 > contrib[0, 0])
    True
    """

    columns: tuple[NDArray[np.float32], ...]  # each feature's baseline values, sorted
    sides: tuple[str, ...]
    median: Float64s
    scale: Float64s
    mean: Float64s
    conditional: tuple[int, ...] = ()  # features judged among present values only

    @classmethod
    def fit(
        cls,
        X: NDArray[np.float32],
        sides: list[str],
        max_rows: int = 100_000,
        random_state: int = 0,
        present: Mapping[int, NDArray[np.bool_]] | None = None,
    ) -> FeatureTails:
        """Learn from (a random sample of at most ``max_rows`` rows of) the baseline ``X``.

        ``present`` maps a feature index to the baseline rows where its field is present.
        """
        present = dict(present or {})
        rows = np.arange(X.shape[0])
        if X.shape[0] > max_rows:
            rng = np.random.default_rng(random_state)
            rows = np.sort(rng.choice(X.shape[0], max_rows, replace=False))
        sample = np.ascontiguousarray(X[rows], dtype=np.float32)
        columns = []
        for j in range(sample.shape[1]):
            values = sample[:, j]
            if j in present and present[j][rows].any():
                values = values[present[j][rows]]
            columns.append(np.sort(values))
        stats = np.array([_location_scale(c) for c in columns]).reshape(-1, 3)
        return cls(
            columns=tuple(columns),
            sides=tuple(sides),
            median=stats[:, 0],
            scale=stats[:, 1],
            mean=stats[:, 2],
            conditional=tuple(sorted(present)),
        )

    def score(
        self, Xq: NDArray[np.float32], present: Mapping[int, NDArray[np.bool_]] | None = None
    ) -> tuple[Float64s, Float64s]:
        """Contribution (decades) and robust z-distance of every feature of every query row.

        ``present`` (for the conditional features) marks the query rows whose field is present;
        the others contribute 0.
        """
        contrib = np.zeros(Xq.shape, dtype=np.float64)
        for j, column in enumerate(self.columns):
            if self.sides[j] == SKIP or column.size == 0:
                continue
            n = column.size
            values = Xq[:, j]
            at_least = n - np.searchsorted(column, values, side="left")
            tail = np.maximum(at_least, _UNSEEN_COUNT)
            if self.sides[j] == BOTH:
                at_most = np.searchsorted(column, values, side="right")
                tail = np.minimum(tail, np.maximum(at_most, _UNSEEN_COUNT))
            contrib[:, j] = 0.0 - np.log10(np.minimum(tail / n, 1.0))
        z = np.abs(Xq.astype(np.float64) - self.median) / self.scale
        skipped = np.array([s == SKIP for s in self.sides])
        z[:, skipped] = 0.0
        for j, mask in (present or {}).items():
            contrib[~mask, j] = 0.0
            z[~mask, j] = 0.0
        return contrib, z


def _location_scale(column: NDArray[np.float32]) -> tuple[float, float, float]:
    """Median, robust spread (MAD, else IQR, else standard deviation, else 1) and mean."""
    if column.size == 0:
        return 0.0, 1.0, 0.0
    values = column.astype(np.float64)
    n = values.size
    median = float(values[n // 2])
    scale = _MAD_TO_SD * float(np.median(np.abs(values - median)))
    for fallback in ((values[(3 * n) // 4] - values[n // 4]) / 1.349, values.std()):
        scale = scale if scale > 0 else float(fallback)
    return median, scale if scale > 0 else 1.0, float(values.mean())
