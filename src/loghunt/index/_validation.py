"""Input validation shared by the index and the detectors (kept here to avoid an import cycle)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loghunt.errors import ConfigError


def check_matrix(X: ArrayLike) -> NDArray[np.float32]:
    """A finite, 2-D, C-contiguous float32 matrix, or a ConfigError saying what is wrong."""
    try:
        data = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"expected a numeric matrix: {exc}") from exc
    if data.ndim != 2:
        raise ConfigError(f"expected a 2-D matrix, got {data.ndim} dimension(s)")
    if data.shape[1] == 0:
        raise ConfigError("expected at least one feature column")
    if not np.isfinite(data).all():
        raise ConfigError(
            "the matrix holds NaN or infinite values (or values too large for float32); "
            "impute or scale them first"
        )
    return data
