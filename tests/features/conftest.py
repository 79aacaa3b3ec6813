"""Small hand-made event tables for the featurizer tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import polars as pl
import pytest

from loghunt.features.numeric import CLIP, RobustScaler

T0 = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)  # a Monday

MakeEvents = Callable[..., pl.DataFrame]


def _make_events(n: int = 400, seed: int = 0) -> pl.DataFrame:
    """A CloudTrail-like table, as the normaliser outputs it, over one working week."""
    rng = np.random.default_rng(seed)
    users = np.array(["alice", "bob", "carol", "dave"])
    ops = np.array(["GetObject", "PutObject", "ListBuckets", "DescribeInstances"])
    agents = np.array(
        [
            "aws-cli/2.13.0 Python/3.11.4 Linux/5.15.0 exe/x86_64",
            "Boto3/1.28.0 Python/3.10.12 Linux/6.1.0 Botocore/1.31.0",
        ]
    )
    seconds = np.sort(rng.integers(9 * 3600, 17 * 3600, n) + 86400 * rng.integers(0, 5, n))
    user_idx = rng.integers(0, len(users), n)
    failed = rng.random(n) < 0.05
    return pl.DataFrame(
        {
            "time": [T0 + dt.timedelta(seconds=int(s)) for s in seconds],
            "actor.user.name": users[user_idx],
            "api.operation": ops[rng.integers(0, len(ops), n)],
            "api.service.name": np.array(["s3.amazonaws.com", "ec2.amazonaws.com"])[
                rng.integers(0, 2, n)
            ],
            "src_endpoint.ip": [f"10.0.0.{u}" for u in user_idx],
            "http_request.user_agent": agents[rng.integers(0, len(agents), n)],
            "cloud.region": np.array(["us-east-1", "eu-west-1"])[rng.integers(0, 2, n)],
            "api.response.error": pl.Series(
                ["AccessDenied" if f else None for f in failed], dtype=pl.String
            ),
            "status": ["Failure" if f else "Success" for f in failed],
            "actor.session.is_mfa": rng.random(n) < 0.7,
            "metadata.uid": [f"4b1c-{i:06d}" for i in range(n)],
            "event_id": [f"ev{i}" for i in range(n)],
            "_source_file": ["trail.json.gz"] * n,
            "_source_line": np.arange(n),
            "bytes": rng.lognormal(6.0, 2.0, n),
        }
    )


@pytest.fixture
def make_events() -> MakeEvents:
    return _make_events


@pytest.fixture
def events() -> pl.DataFrame:
    return _make_events()


def scaler_expr(scaler: RobustScaler, column: pl.Expr) -> pl.Expr:
    """The reference of :func:`loghunt.features.numeric.scale_columns`: a scaled Float32
    expression, with null, NaN and inf as 0 (the median)."""
    x = column.cast(pl.Float64)
    if scaler.log:
        x = x.sign() * x.abs().log1p()
    scaled = ((x - scaler.center) / scaler.scale).clip(-CLIP, CLIP)
    return pl.when(x.is_finite()).then(scaled).otherwise(0.0).cast(pl.Float32)
