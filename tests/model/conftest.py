"""Events for the model tests: a baseline period and later events from the same organisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest

from loghunt.pipeline import Pipeline
from loghunt.synth import generate_cloudtrail_table

#: The labels are never features; with them, findings carry metrics too.
LABELLED = {"labels": "is_attack", "exclude": ("attack",)}


@dataclass(frozen=True)
class Periods:
    """``baseline`` to fit on, ``later`` events (normal and attacks) to score."""

    baseline: pl.DataFrame
    later: pl.DataFrame


@pytest.fixture(scope="session")
def periods() -> Periods:
    events = generate_cloudtrail_table(2_400, seed=3)
    return Periods(events[:1_900], events[1_900:])


@pytest.fixture
def fit_pipeline(periods: Periods) -> Callable[..., Pipeline]:
    """Fit a pipeline with the given settings on the baseline period."""

    def fit(**overrides: Any) -> Pipeline:
        return Pipeline(**{**LABELLED, **overrides}).fit(periods.baseline)

    return fit
