"""A real hunt on generated logs with hostile events injected, shared by the report tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from loghunt.output import Findings, write_findings
from loghunt.pipeline import Pipeline
from loghunt.synth import generate_cloudtrail_table

SCRIPT = "<script>alert(1)</script>"
JS_LINK = "javascript:alert(1)"
ATTR_BREAK = '"><img src=x onerror=alert(2)>'
HOSTILE_ID = "hostile-event-1"


@dataclass(frozen=True)
class HuntRun:
    """A pipeline run and the findings directory written from it."""

    pipeline: Pipeline
    events: pl.DataFrame
    findings: Findings
    out_dir: Path
    script: str = SCRIPT
    js_link: str = JS_LINK
    attr_break: str = ATTR_BREAK
    hostile_uid: str = HOSTILE_ID


def hostile_events(n_events: int = 3_000, seed: int = 5) -> pl.DataFrame:
    """Generated CloudTrail events plus one whose fields carry HTML and a javascript: link."""
    events = generate_cloudtrail_table(n_events, seed=seed)
    hostile = events.head(1).with_columns(
        pl.lit(HOSTILE_ID).alias("metadata.uid"),
        pl.lit(SCRIPT).alias("actor.user.name"),
        pl.lit(JS_LINK).alias("http_request.user_agent"),
        pl.lit(ATTR_BREAK).alias("src_endpoint.ip"),
        pl.lit(True).alias("is_attack"),
        pl.lit("hostile_markup").alias("attack"),
    )
    return pl.concat([events, hostile])


@pytest.fixture(scope="session")
def hunt_run(tmp_path_factory: pytest.TempPathFactory) -> HuntRun:
    events = hostile_events()
    pipeline = Pipeline(labels="is_attack", exclude=("attack",))
    findings = pipeline.fit_score(events)
    out_dir = tmp_path_factory.mktemp("findings")
    write_findings(findings, out_dir)
    return HuntRun(pipeline, events, findings, out_dir)
