"""A 2-D view of the events for the report's scatter plot (principal components).

The best view is of the feature matrix the detectors saw: the pipeline can store it as two
columns (:data:`PROJECTION_COLUMNS`, from :func:`project_2d`). A findings table without them
still gets a view, from the columns it has: the detectors' normalised and raw scores and the
vote count, which shows how the detectors agree rather than how the events differ.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(500, 6)).astype(np.float32)
>>> project_2d(X).shape
(500, 2)
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.output.findings import NORM_PREFIX, RAW_PREFIX, VOTES

PROJECTION_COLUMNS = ("projection.x", "projection.y")
_FIT_SAMPLE = 20_000
_CHUNK = 200_000


def project_2d(
    X: NDArray[np.floating], random_state: int = 0, fit_sample: int = _FIT_SAMPLE
) -> NDArray[np.float64]:
    """The first two principal components of ``X``, fitted on a sample of rows.

    Fitting on ``fit_sample`` rows keeps a million-event run under a second; the projection of
    every row is then a chunked matrix product.
    """
    X = np.asarray(X)
    n, d = X.shape
    if n == 0 or d == 0:
        return np.zeros((n, 2), dtype=np.float64)
    rng = np.random.default_rng(random_state)
    rows = rng.choice(n, size=min(n, fit_sample), replace=False) if n > fit_sample else slice(None)
    sample = np.asarray(X[rows], dtype=np.float64)
    mean = sample.mean(axis=0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    components = np.zeros((d, 2), dtype=np.float64)
    k = min(2, vt.shape[0])
    components[:, :k] = vt[:k].T
    # A deterministic sign: the largest loading of each component is positive.
    signs = np.sign(components[np.abs(components).argmax(axis=0), range(2)])
    components *= np.where(signs == 0, 1.0, signs)
    out = np.empty((n, 2), dtype=np.float64)
    for start in range(0, n, _CHUNK):
        block = np.asarray(X[start : start + _CHUNK], dtype=np.float64)
        out[start : start + _CHUNK] = (block - mean) @ components
    return out


def score_matrix(table: pl.DataFrame) -> NDArray[np.float64]:
    """Standardised score columns of a findings table, the fallback input of the projection."""
    names = [c for c in table.columns if c.startswith((NORM_PREFIX, RAW_PREFIX))]
    if VOTES in table.columns:
        names.append(VOTES)
    cols = []
    for name in names:
        v = table.get_column(name).cast(pl.Float64).fill_null(0.0).to_numpy()
        if name.startswith(RAW_PREFIX):
            # Raw scores are heavy-tailed; their ranks carry the geometry without the outliers.
            v = np.argsort(np.argsort(v, kind="stable"), kind="stable") / max(v.size - 1, 1)
        sd = v.std()
        cols.append((v - v.mean()) / sd if sd > 0 else v * 0.0)
    return np.column_stack(cols) if cols else np.zeros((table.height, 0))
