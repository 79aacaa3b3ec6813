"""Transform speed on a million events (the brief: well under a minute on 2 cores)."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

from loghunt.features import Featurizer

N_EVENTS = 1_000_000


def _pick(values: list[str], index: np.ndarray) -> pl.Series:
    return pl.Series(values).gather(index)


def make_million(seed: int) -> pl.DataFrame:
    """CloudTrail-shaped events: 2,000 users (Zipf activity), 50,000 IPs, 60 operations."""
    rng = np.random.default_rng(seed)
    n = N_EVENTS
    start = np.datetime64("2024-01-01T00:00:00", "ms").astype(np.int64)
    user = rng.zipf(1.5, n) % 2000
    failed = rng.random(n) < 0.05
    return pl.DataFrame(
        {
            "time": pl.Series(np.sort(start + rng.integers(0, 30 * 86_400_000, n))).cast(
                pl.Datetime("ms", "UTC")
            ),
            "actor.user.name": _pick([f"user{i:04d}" for i in range(2000)], user),
            "api.operation": _pick([f"Operation{i}" for i in range(60)], rng.zipf(1.3, n) % 60),
            "api.service.name": _pick(["s3", "ec2", "iam", "sts"], rng.integers(0, 4, n)),
            "src_endpoint.ip": _pick(
                [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(50_000)],
                (user * 7 + rng.integers(0, 5, n)) % 50_000,
            ),
            "http_request.user_agent": _pick(
                [
                    f"aws-cli/2.{i}.0 Python/3.11.{i % 10} Linux/5.15.0-{i}-generic"
                    for i in range(80)
                ],
                rng.integers(0, 80, n),
            ),
            "api.response.error": pl.Series(np.where(failed, "AccessDenied", "")).replace("", None),
            "status": pl.Series(np.where(failed, "Failure", "Success")),
            "actor.session.is_mfa": rng.random(n) > 0.3,
            "metadata.uid": pl.int_range(n, eager=True).cast(pl.String),
            "bytes": rng.lognormal(6, 2, n),
            "duration": rng.normal(100, 20, n),
        }
    )


@pytest.mark.slow
def test_transform_a_million_events_in_well_under_a_minute() -> None:
    fz = Featurizer().fit(make_million(seed=0))
    events = make_million(seed=1)
    start = time.perf_counter()
    X = fz.transform(events)
    elapsed = time.perf_counter() - start
    print(f"transform of {N_EVENTS:,} events x {X.shape[1]} features: {elapsed:.1f}s")
    assert X.shape == (N_EVENTS, len(fz.feature_names_))
    assert np.isfinite(X).all()
    assert elapsed < 30.0
