"""The issue's done-when on the demo scenario: reasons name the field each attack changed.

The expected fields per attack type are read off ``loghunt/synth/attacks.py``: what each
attack function sets differently from the victim's normal activity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from loghunt.explain import DETECTORS
from loghunt.hunt import DEMO_LABEL, join_labels
from loghunt.io import read_events
from loghunt.output.findings import FLAGGED, NEAREST_NORMAL, RANK, REASON_DETAILS, REASONS
from loghunt.pipeline import Pipeline
from loghunt.schema import normalize
from loghunt.synth import ScenarioConfig, generate_scenario, write_scenario
from loghunt.synth.attacks import ATTACK_TYPES

# Denied calls and failed logons change the outcome fields.
_OUTCOME = {"status", "status_id", "status_detail", "api.response.error", "api.response.message"}
# The attacker's own address and client (rented infrastructure, stock or offensive tooling).
_ORIGIN = {"src_endpoint.ip", "http_request.user_agent"}
# _when(..., working=False or random): outside the victim's hours.
_TIME = {"time"}
EXPECTED_FIELDS: dict[str, set[str]] = {
    # failed logons from one foreign address (SSH tool, VPN client or browser) on SSO, VPN,
    # the bastion or the console, then a success
    "brute_force": _ORIGIN
    | _OUTCOME
    | _TIME
    | {"api.operation", "dst_endpoint.hostname", "auth_protocol", "logon_type"},
    # one address tries many users (some unknown) with browsers; almost all fail
    "credential_stuffing": _ORIGIN | _OUTCOME | _TIME | {"actor.user.name"},
    # a real key used from a network never seen, often with a generic attacker client
    "new_network_key": _ORIGIN | _OUTCOME | _TIME,
    # administrative writes at 1-5am local time, with IAM targets in the request parameters
    "off_hours_admin": _ORIGIN
    | _OUTCOME
    | _TIME
    | {"api.operation", "api.service.name", "api.request.data"},
    # hundreds of reconnaissance reads across services and regions within minutes
    "enumeration_burst": _ORIGIN
    | _OUTCOME
    | _TIME
    | {"api.operation", "api.service.name", "cloud.region", "actor.user.name"},
    # a burst of object reads on buckets the principal rarely reads
    "s3_exfiltration": _ORIGIN
    | _OUTCOME
    | _TIME
    | {"api.operation", "api.request.data", "resources", "actor.user.name"},
    # IAM changes that grant power: admin policies and victims in the request parameters
    "privilege_escalation": _ORIGIN
    | _OUTCOME
    | _TIME
    | {"api.operation", "api.service.name", "api.request.data"},
    # ordinary reconnaissance sent by an offensive toolkit's user agent
    "offensive_user_agent": _ORIGIN | _OUTCOME | _TIME | {"api.operation", "api.service.name"},
    # reconnaissance outside the victim's vocabulary, from its own address and agent
    "slow_enumeration": _OUTCOME | {"api.operation", "api.service.name"},
    # a few reads a day from a rarely-read bucket, from the victim's own address and agent
    "slow_exfiltration": {"api.operation", "api.request.data", "resources"},
}
N_EVENTS = 20_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The demo's own path (write the logs, read them back), every event explained."""
    root: Path = tmp_path_factory.mktemp("demo")
    written = write_scenario(generate_scenario(ScenarioConfig(n_events=N_EVENTS, seed=0)), root)
    events = normalize(read_events([written.cloudtrail_dir, written.auth_dir]).table)
    events, truth_columns = join_labels(events, written.labels, DEMO_LABEL)
    pipeline = Pipeline(labels=DEMO_LABEL, exclude=tuple(truth_columns), explain_top=N_EVENTS)
    return pipeline.fit_score(events).table


def _top_reason(row: dict[str, Any]) -> dict[str, Any]:
    details = row[REASON_DETAILS]
    assert details, f"rank {row[RANK]} has no reasons"
    return dict(details[0])


@pytest.mark.slow
def test_top_reason_of_each_attack_names_the_field_it_changed(demo: pl.DataFrame) -> None:
    tops = demo.filter(pl.col(DEMO_LABEL)).sort(RANK).group_by("attack", maintain_order=True)
    rows = {row["attack"]: row for row in tops.first().iter_rows(named=True)}
    assert set(rows) == set(ATTACK_TYPES)
    wrong = {}
    for attack, row in rows.items():
        top = _top_reason(row)
        assert top["kind"] != DETECTORS
        assert top["field"] in top["text"], top
        if top["field"] not in EXPECTED_FIELDS[attack]:
            wrong[attack] = (row[RANK], top["field"], top["text"])
    assert not wrong, wrong


@pytest.mark.slow
def test_every_flagged_finding_has_a_field_comparison_and_nearest_normal(
    demo: pl.DataFrame,
) -> None:
    flagged = demo.filter(pl.col(FLAGGED))
    assert flagged.height > 0
    normal_ids = set(demo.filter(~pl.col(FLAGGED)).get_column("event_id").to_list())
    for row in flagged.iter_rows(named=True):
        fields = [d for d in row[REASON_DETAILS] if d["field"]]
        assert fields, row[REASONS]
        # A comparison: the event's value against the baseline's typical value or range.
        assert any(d["value"] and d["typical"] for d in fields), fields
        assert row[REASON_DETAILS][-1]["kind"] == DETECTORS
        assert row[REASONS].startswith(fields[0]["text"])
        near = row[NEAREST_NORMAL]
        assert near and set(near) <= normal_ids and row["event_id"] not in near
