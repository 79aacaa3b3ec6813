"""Data for the detector tests: tight Gaussian clusters with far outliers planted around them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray


@dataclass(frozen=True)
class Planted:
    """Training rows ``X`` with labels ``y`` (True = planted outlier) and fresh rows ``X_new``."""

    X: NDArray[np.float32]
    y: NDArray[np.bool_]
    X_new: NDArray[np.float32]


def make_planted(
    n: int = 600, d: int = 6, n_outliers: int = 12, seed: int = 0, unit: bool = False
) -> Planted:
    """Four clusters (sd 0.5, centres ~ N(0, 5)) and outliers on a sphere of radius 25.

    With ``unit=True`` rows are scaled to unit length, which suits the cosine and inner-product
    metrics (outliers then point in directions no cluster does).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 5.0, (4, d))

    def normal_rows(m: int) -> NDArray[np.float64]:
        return centres[rng.integers(0, 4, m)] + rng.normal(0.0, 0.5, (m, d))

    directions = rng.normal(size=(n_outliers, d))
    outliers = 25.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    X = np.vstack([normal_rows(n - n_outliers), outliers])
    y = np.r_[np.zeros(n - n_outliers, bool), np.ones(n_outliers, bool)]
    X_new = np.vstack([normal_rows(40), outliers[:3] * 1.1])
    if unit:
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        X_new /= np.linalg.norm(X_new, axis=1, keepdims=True)
    return Planted(X.astype(np.float32), y, X_new.astype(np.float32))


@pytest.fixture(scope="session")
def planted() -> Planted:
    return make_planted()


@pytest.fixture(scope="session")
def planted_unit() -> Planted:
    return make_planted(unit=True)
