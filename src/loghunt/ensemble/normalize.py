"""Put every detector's scores on one scale: the percentile among the training scores.

Rank-based, so LOF's huge raw values, Isolation Forest's narrow band and k-NN distances all
land in [0, 1] with the same meaning: 0.99 = more anomalous than 99% of the baseline.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def percentile_scores(
    train_scores: NDArray[np.float64], scores: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Fraction of training scores below each score (ties count half), in [0, 1]."""
    reference = np.sort(np.asarray(train_scores, dtype=np.float64))
    values = np.asarray(scores, dtype=np.float64)
    below = np.searchsorted(reference, values, side="left")
    at_or_below = np.searchsorted(reference, values, side="right")
    return ((below + at_or_below) / (2.0 * reference.size)).astype(np.float64)
