"""The HTML report: self-contained, escaped, every section drawn, explanation columns shown."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from typer.testing import CliRunner

from loghunt.cli import app
from loghunt.errors import InputError
from loghunt.output import write_findings
from loghunt.report import PROJECTION_COLUMNS, project_2d, render_report, write_report
from loghunt.report.svg import Figure, nice_ticks
from loghunt.schema import normalize

if TYPE_CHECKING:
    from conftest import HuntRun

runner = CliRunner()
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def html(hunt_run: HuntRun) -> str:
    return render_report(hunt_run.out_dir, n_cards=40)


def test_report_loads_nothing_and_runs_nothing(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html, re.IGNORECASE)
    assert not re.search(r"\s(src|href)=\"(?!#)", html), "only in-page links"
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp.group(1), "the CSP must allow exactly our stylesheet"


def test_hostile_values_are_escaped_everywhere(hunt_run: HuntRun, html: str) -> None:
    assert hunt_run.script == SCRIPT
    assert SCRIPT not in html and hunt_run.attr_break not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in html
    assert hunt_run.js_link in html  # shown as text ...
    assert 'href="javascript' not in html  # ... never as a link


def test_every_section_is_drawn(hunt_run: HuntRun, html: str) -> None:
    for section in ("summary", "scores", "votes", "quality", "projection", "timeline"):
        assert f'<section id="{section}">' in html, section
    assert '<section id="entities">' in html and '<section id="cards">' in html
    n_flagged = hunt_run.findings.n_flagged
    assert html.count('<article class="card"') == min(40, n_flagged)
    assert html.count("<svg") >= 2 + 2 * len(hunt_run.findings.detectors) + 1 + 2 + 1 + 1
    assert "knn (AUC " in html and "ensemble (AP " in html
    assert f"{len(hunt_run.findings):,}" in html


def test_hostile_event_gets_a_card(hunt_run: HuntRun, html: str) -> None:
    table = hunt_run.findings.table
    row = table.filter(pl.col("metadata.uid") == hunt_run.hostile_uid)
    assert row.get_column("flagged").item(), "the injected event should be flagged"
    assert f'id="f{row.get_column("rank").item()}"' in html


def test_projection_columns_are_used_when_present(hunt_run: HuntRun, tmp_path: Path) -> None:
    pipe = hunt_run.pipeline
    events = normalize(hunt_run.events)
    xy = project_2d(pipe.featurizer_.transform(events))
    projection = pl.DataFrame(
        {
            "event_id": events.get_column("event_id"),
            PROJECTION_COLUMNS[0]: xy[:, 0],
            PROJECTION_COLUMNS[1]: xy[:, 1],
        }
    )
    findings = hunt_run.findings
    findings.table = findings.table.join(projection, on="event_id", how="left")
    try:
        html = render_report(findings, label_column="is_attack", n_cards=5)
    finally:
        findings.table = findings.table.drop(PROJECTION_COLUMNS)
    assert "PC 1 of features" in html and "PC 1 of detector scores" not in html


def test_explanation_columns_are_rendered(hunt_run: HuntRun, tmp_path: Path) -> None:
    """reason_details, nearest_normal and finding_id as loghunt.explain writes them."""
    table = hunt_run.findings.table
    normal_ids = table.filter(~pl.col("flagged")).get_column("event_id").head(3).to_list()
    details = [
        {
            "kind": "rarity",
            "field": "http_request.user_agent",
            "value": "<b>bold</b>",
            "typical": "aws-cli/2.15",
            "score": 0.9,
            "text": "user agent never seen for this user",
        }
    ]
    with_explain = table.with_columns(
        pl.Series("reason_details", [details] * table.height),
        pl.Series("nearest_normal", [normal_ids] * table.height),
        pl.format("f-{}", pl.col("rank")).alias("finding_id"),
    )
    out = tmp_path / "explained"
    findings = hunt_run.findings
    original = findings.table
    findings.table = with_explain
    try:
        write_findings(findings, out)
    finally:
        findings.table = original
    html = render_report(out, n_cards=3)
    assert html.count("Nearest normal events (neighbour graph)") == 3
    assert html.count("user agent never seen for this user") == 3
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    assert 'class="diff"' in html and "finding f-1" in html


def test_without_labels_there_is_no_quality_section(hunt_run: HuntRun, tmp_path: Path) -> None:
    table = hunt_run.findings.table.drop("is_attack", "attack")
    table.write_parquet(tmp_path / "findings.parquet")
    html = render_report(tmp_path)
    assert '<section id="quality">' not in html and '<section id="projection">' in html


def test_a_folder_without_findings_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"findings\.parquet"):
        render_report(tmp_path)
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "findings.parquet" in result.output


def test_report_command_writes_the_file(hunt_run: HuntRun, tmp_path: Path) -> None:
    target = tmp_path / "sub" / "r.html"
    result = runner.invoke(app, ["report", str(hunt_run.out_dir), "--out", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert '<section id="quality">' in text, "the label column is recognised from metrics.json"


def test_hunt_with_report_flag(tmp_path: Path) -> None:
    lines = [
        (
            '{"eventName": "GetObject", "eventSource": "s3.amazonaws.com", '
            f'"eventID": "e{i}", "eventTime": "2026-03-02T10:{i % 60:02d}:00Z", '
            f'"userIdentity": {{"userName": "u{i % 3}"}}, "sourceIPAddress": "10.0.0.1", '
            '"userAgent": "aws-cli/2.0"}'
        )
        for i in range(80)
    ]
    lines.append(
        '{"eventName": "DeleteTrail", "eventSource": "cloudtrail.amazonaws.com", '
        '"eventID": "bad", "eventTime": "2026-03-02T03:00:00Z", '
        '"userIdentity": {"userName": "<script>alert(1)</script>"}, '
        '"sourceIPAddress": "203.0.113.9", "userAgent": "javascript:alert(1)"}'
    )
    (tmp_path / "ct.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["hunt", str(tmp_path / "ct.jsonl"), "--out", str(out), "--report"])
    assert result.exit_code == 0, result.output
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and SCRIPT not in text
    assert str(tmp_path / "ct.jsonl") in text, "the inputs are listed"


def test_write_report_returns_its_path(hunt_run: HuntRun, tmp_path: Path) -> None:
    path = write_report(hunt_run.findings, tmp_path / "r.html", label_column="is_attack")
    assert path.is_file() and path.stat().st_size > 10_000


def test_svg_shapes_are_checked() -> None:
    fig = Figure("t")
    with pytest.raises(ValueError, match="tag"):
        fig.add("script")
    with pytest.raises(ValueError, match="attribute"):
        fig.add("rect", onload="alert(1)")
    with pytest.raises(ValueError, match="attribute"):
        fig.add("rect", href="javascript:alert(1)")
    assert nice_ticks(0.0, 7.0) == [0.0, 2.0, 4.0, 6.0]
    assert nice_ticks(3.0, 3.0) == [3.0]


def test_size_does_not_grow_with_events(hunt_run: HuntRun, tmp_path: Path) -> None:
    """Plots are sampled and cards capped: 20 times the events, about the same report."""
    table = hunt_run.findings.table
    copies = [
        table.with_columns(pl.format("{}-{}", pl.col("event_id"), pl.lit(i)).alias("event_id"))
        for i in range(20)
    ]
    big = pl.concat(copies).sort("combined_score", descending=True, maintain_order=True)
    big = big.with_columns(pl.int_range(1, big.height + 1, dtype=pl.UInt32).alias("rank"))
    big.write_parquet(tmp_path / "findings.parquet")
    small = len(render_report(hunt_run.findings, label_column="is_attack").encode())
    large = len(render_report(tmp_path, label_column="is_attack").encode())
    assert large < 2 * small and large < 3_000_000, (small, large)
