"""OCSF Detection Finding output validates against the OCSF 1.5.0 class 2004 schema."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import polars as pl
import pytest
from typer.testing import CliRunner

from loghunt import __version__
from loghunt.cli import app
from loghunt.explain import SuppressionRule, Suppressions
from loghunt.output import Findings
from loghunt.output.findings import FINDING_ID, FLAGGED, REASON_DETAILS, SUPPRESSED
from loghunt.output.ocsf import OCSF_VERSION, to_ocsf, write_ocsf
from loghunt.pipeline import Pipeline
from loghunt.synth import generate_cloudtrail_table

SCHEMA_PATH = (
    Path(__file__).resolve().parents[1] / "data" / "ocsf_1.5.0_detection_finding.schema.json"
)
SEVERITY = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOSTILE = '<script>alert(1)</script>"\n{"x": 1}'


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def findings() -> Findings:
    events = generate_cloudtrail_table(3_000, seed=7)
    # A hostile value from the logs must stay an inert string in the JSON.
    events = events.with_columns(
        pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit(HOSTILE))
        .otherwise(pl.col("http_request.user_agent"))
        .alias("http_request.user_agent")
    )
    pipe = Pipeline(labels="is_attack", exclude=("attack",))
    first = pipe.fit_score(events).flagged()
    rule = SuppressionRule("fp", date(2099, 1, 1), finding_id=first[FINDING_ID][0])
    return pipe.fit_score(events, suppress=Suppressions((rule,)))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_finding_validates_against_the_ocsf_schema(
    findings: Findings, validator: jsonschema.Draft202012Validator, tmp_path: Path
) -> None:
    path = tmp_path / "findings.ocsf.jsonl"
    written = write_ocsf(findings, path, now=NOW)
    lines = _lines(path)
    expected = findings.table.filter(pl.col(FLAGGED) | pl.col(SUPPRESSED)).height
    assert written == len(lines) == expected > 1
    for finding in lines:
        errors = sorted(validator.iter_errors(finding), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_finding_contents(findings: Findings) -> None:
    table = findings.table
    by_id = {row[FINDING_ID]: row for row in table.iter_rows(named=True)}
    out = list(to_ocsf(findings, now=NOW))
    assert [f["unmapped"]["loghunt"]["rank"] for f in out] == sorted(
        f["unmapped"]["loghunt"]["rank"] for f in out
    )
    for finding in out:
        info = finding["finding_info"]
        row = by_id[info["uid"]]
        assert finding["type_uid"] == finding["class_uid"] * 100 + finding["activity_id"]
        assert finding["severity"] == SEVERITY[finding["severity_id"]]
        assert finding["time"] == int(NOW.timestamp() * 1000)
        assert finding["metadata"]["version"] == OCSF_VERSION
        assert finding["metadata"]["product"]["version"] == __version__
        assert info["analytic"]["type_id"] == 4 and info["analytic"]["version"] == __version__
        assert info["related_events"] == [{"uid": row["event_id"]}]
        event_ms = int(row["time"].timestamp() * 1000)
        assert info["first_seen_time"] == info["last_seen_time"] == event_ms
        assert [a["name"] for a in info["related_analytics"]] == findings.detectors
        evidence = finding["evidences"][0]
        assert evidence["actor"]["user"]["name"] == row["actor.user.name"]
        assert evidence["data"]["event_id"] == row["event_id"]
        assert 0 <= finding["confidence_score"] <= 100
        assert finding["unmapped"]["loghunt"]["votes"] == row["votes"]
        reasons = [d for d in row[REASON_DETAILS] if d["field"]]
        anomalies = finding["anomaly_analyses"][0]["anomalies"]
        assert [a["observation_parameter"] for a in anomalies] == [d["field"] for d in reasons]
        assert finding["message"] == reasons[0]["text"]
        suppressed = row[SUPPRESSED]
        assert finding["is_alert"] is not suppressed
        assert finding["status"] == ("Suppressed" if suppressed else "New")
    assert sum(f["status_id"] == 3 for f in out) == findings.n_suppressed == 1


def test_hostile_log_values_stay_strings(findings: Findings, tmp_path: Path) -> None:
    hostile = pl.col("http_request.user_agent") == HOSTILE
    forced = replace(findings, table=findings.table.with_columns(pl.col(FLAGGED) | hostile))
    path = tmp_path / "f.jsonl"
    write_ocsf(forced, path, now=NOW)
    agents = [f["evidences"][0].get("http_request", {}).get("user_agent") for f in _lines(path)]
    assert HOSTILE in agents  # one JSON object per line, the value intact and inert


def test_the_schema_rejects_broken_findings(
    findings: Findings, validator: jsonschema.Draft202012Validator
) -> None:
    good = next(to_ocsf(findings, now=NOW))
    assert validator.is_valid(good)
    broken = [
        {**good, "class_uid": 2001},
        {**good, "severity_id": 7},
        {**good, "time": "2026-06-01"},
        {**good, "finding_info": {k: v for k, v in good["finding_info"].items() if k != "uid"}},
        {**good, "metadata": {"product": {"name": "loghunt"}}},
        {**good, "not_an_ocsf_attribute": 1},
        {**good, "evidences": [{"actor": {"user": {"name": "x"}}, "colour": "red"}]},
    ]
    for finding in broken:
        assert not validator.is_valid(finding)


def test_cli_format_ocsf(tmp_path: Path, validator: jsonschema.Draft202012Validator) -> None:
    generate_cloudtrail_table(2_000, seed=8).write_parquet(tmp_path / "events.parquet")
    out = tmp_path / "out"
    args = ["hunt", str(tmp_path / "events.parquet"), "--out", str(out), "--exclude"]
    result = CliRunner().invoke(app, [*args, "is_attack,attack", "--format", "ocsf"])
    assert result.exit_code == 0, result.output
    lines = _lines(out / "findings.ocsf.jsonl")
    summary = json.loads((out / "summary.json").read_text())
    assert len(lines) == summary["n_flagged"] > 0
    assert all(validator.is_valid(f) for f in lines)
    bad = CliRunner().invoke(app, [*args, "is_attack,attack", "--format", "stix"])
    assert bad.exit_code == 2 and "unknown output format" in bad.output
