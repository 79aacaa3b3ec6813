from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from loghunt.errors import ConfigError
from loghunt.synth import ATTACK_TYPES, Scenario, ScenarioConfig, generate_scenario

from .conftest import SMALL

ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CT_REQUIRED = {
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "eventID",
    "readOnly", "eventType", "managementEvent", "recipientAccountId", "eventCategory",
}  # fmt: skip
IDENTITY_KEYS = {
    "IAMUser": {"type", "principalId", "accountId", "userName"},
    "AssumedRole": {"type", "principalId", "arn", "accountId", "accessKeyId", "sessionContext"},
    "AWSService": {"type", "invokedBy"},
}
AUTH_REQUIRED = {
    "time", "class_uid", "category_uid", "activity_id", "metadata", "user", "src_endpoint",
    "dst_endpoint", "status", "status_id", "auth_protocol", "logon_type", "http_request",
}  # fmt: skip


def _ct_time(record: dict[str, object]) -> datetime:
    return datetime.strptime(str(record["eventTime"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _period(cfg: ScenarioConfig) -> tuple[datetime, datetime]:
    start = datetime(cfg.start.year, cfg.start.month, cfg.start.day, tzinfo=UTC)
    return start, start + timedelta(days=cfg.days)


@pytest.mark.parametrize(
    "cfg",
    [SMALL, replace(SMALL, n_events=1_234, attack_rate=0.05, n_accounts=1, n_regions=1),
     replace(SMALL, n_events=2_000, auth_fraction=0.0, days=2)],
)  # fmt: skip
def test_total_event_count_is_exact(cfg: ScenarioConfig) -> None:
    scenario = generate_scenario(cfg)
    assert len(scenario.cloudtrail) + len(scenario.auth) == cfg.n_events
    assert scenario.labels.height == cfg.n_events


def test_cloudtrail_records_have_the_aws_shape(default_scenario: Scenario) -> None:
    event_types: Counter[str] = Counter()
    for rec in default_scenario.cloudtrail:
        assert rec.keys() >= CT_REQUIRED, rec
        assert ISO_SECONDS.match(rec["eventTime"])
        assert UUID4.match(rec["eventID"])
        ident = rec["userIdentity"]
        assert IDENTITY_KEYS[ident["type"]] <= ident.keys(), ident
        assert rec["eventSource"].endswith(".amazonaws.com")
        assert rec["eventCategory"] == ("Management" if rec["managementEvent"] else "Data")
        event_types[rec["eventType"]] += 1
        if "errorCode" in rec:
            assert rec["errorMessage"] and rec["responseElements"] is None
        if rec["eventName"] == "ConsoleLogin":
            outcome = rec["responseElements"]["ConsoleLogin"]
            assert rec["eventType"] == "AwsConsoleSignIn"
            assert outcome in ("Success", "Failure")
            # As AWS writes it: a failed sign-in has a message but no errorCode.
            assert ("errorMessage" in rec) == (outcome == "Failure")
        elif "errorMessage" in rec:
            assert "errorCode" in rec
        if rec["eventCategory"] == "Data":
            assert rec["resources"] and rec["requestParameters"]["bucketName"]
    assert set(event_types) == {"AwsApiCall", "AwsConsoleSignIn"}


def test_identities_match_their_principal_type(default_scenario: Scenario) -> None:
    kinds = Counter(r["userIdentity"]["type"] for r in default_scenario.cloudtrail)
    assert {"IAMUser", "AssumedRole", "AWSService"} <= set(kinds)
    keys = [
        r["userIdentity"]["accessKeyId"]
        for r in default_scenario.cloudtrail
        if r["userIdentity"].get("accessKeyId")
    ]
    assert {k[:4] for k in keys} == {"AKIA", "ASIA"}
    roles = [r for r in default_scenario.cloudtrail if r["userIdentity"]["type"] == "AssumedRole"]
    issuer = roles[0]["userIdentity"]["sessionContext"]["sessionIssuer"]
    assert issuer["type"] == "Role" and issuer["arn"].startswith("arn:aws:iam::")


def test_records_are_time_ordered_inside_the_period(default_scenario: Scenario) -> None:
    cfg = default_scenario.config
    start, end = _period(cfg)
    texts = [r["eventTime"] for r in default_scenario.cloudtrail]
    assert texts == sorted(texts)  # ISO-8601 text sorts like time
    first, last = (
        _ct_time(default_scenario.cloudtrail[0]),
        _ct_time(default_scenario.cloudtrail[-1]),
    )
    assert start <= first and last < end
    auth_ms = [r["time"] for r in default_scenario.auth]
    assert auth_ms == sorted(auth_ms)
    assert start.timestamp() * 1000 <= auth_ms[0] and auth_ms[-1] < end.timestamp() * 1000


def test_auth_events_are_ocsf_authentication(default_scenario: Scenario) -> None:
    protocols: Counter[str] = Counter()
    for rec in default_scenario.auth:
        assert rec.keys() >= AUTH_REQUIRED, rec
        assert (rec["class_uid"], rec["category_uid"], rec["activity_id"]) == (3002, 3, 1)
        assert isinstance(rec["time"], int)
        assert (rec["status"], rec["status_id"]) in (("Success", 1), ("Failure", 2))
        assert UUID4.match(rec["metadata"]["uid"]) and rec["metadata"]["product"]["name"]
        assert rec["user"]["name"] and rec["src_endpoint"]["ip"]
        assert rec["http_request"]["user_agent"]
        protocols[rec["metadata"]["product"]["name"]] += 1
    assert set(protocols) == {"Okta", "GlobalProtect", "OpenSSH"}


def test_failures_happen_in_normal_activity_too(default_scenario: Scenario) -> None:
    labels = default_scenario.labels
    n_ct = len(default_scenario.cloudtrail)
    normal_ct = ~labels.get_column("is_attack").head(n_ct).to_numpy()
    failed_ct = np.array(
        ["errorCode" in r or "errorMessage" in r for r in default_scenario.cloudtrail]
    )
    assert (failed_ct & normal_ct).sum() > 100
    assert {"AccessDenied", "ThrottlingException", "Failed authentication"} <= {
        r.get("errorCode") or r.get("errorMessage")
        for r, ok in zip(default_scenario.cloudtrail, normal_ct, strict=True)
        if ok
    }
    normal_auth = ~labels.get_column("is_attack").tail(len(default_scenario.auth)).to_numpy()
    failed_auth = np.array([r["status_id"] == 2 for r in default_scenario.auth])
    assert (failed_auth & normal_auth).sum() > 50


def test_weekends_are_quieter_than_weekdays(default_scenario: Scenario) -> None:
    per_day = Counter(date.fromisoformat(r["eventTime"][:10]) for r in default_scenario.cloudtrail)
    weekday = [n for d, n in per_day.items() if d.weekday() < 5]
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    assert weekend and np.mean(weekend) < 0.6 * np.mean(weekday)


def test_every_attack_type_appears_several_times(default_scenario: Scenario) -> None:
    labels = default_scenario.labels
    counts = dict(labels.filter("is_attack").group_by("attack").len().iter_rows())
    expected: Counter[str] = Counter()
    victims: dict[str, set[str]] = {}
    for incident in default_scenario.incidents:
        expected[incident.attack] += incident.n_events
        victims.setdefault(incident.attack, set()).add(incident.principal)
    assert counts == dict(expected)
    assert set(counts) == set(ATTACK_TYPES)
    per_type = Counter(i.attack for i in default_scenario.incidents)
    assert min(per_type.values()) >= 3
    assert all(len(names) >= 2 for names in victims.values())
    assert labels.filter(~labels.get_column("is_attack")).get_column("attack").eq("").all()


@pytest.mark.parametrize("rate", [0.0, 0.01, 0.05])
def test_attack_rate_is_close_to_the_configured_rate(rate: float) -> None:
    cfg = ScenarioConfig(n_events=8_000, days=5, n_users=30, seed=3, attack_rate=rate)
    observed = np.mean(generate_scenario(cfg).labels.get_column("is_attack").to_numpy())
    assert observed == pytest.approx(rate, abs=0.25 * rate + 1e-9)


def test_default_attack_rate_is_low(default_scenario: Scenario) -> None:
    assert 0.01 <= np.mean(default_scenario.labels.get_column("is_attack").to_numpy()) <= 0.02


def test_labels_cover_every_event_exactly_once(default_scenario: Scenario) -> None:
    ids = [r["eventID"] for r in default_scenario.cloudtrail]
    ids += [r["metadata"]["uid"] for r in default_scenario.auth]
    labelled = default_scenario.labels.get_column("event_id").to_list()
    assert labelled == ids
    assert len(set(labelled)) == len(labelled)


def test_attack_records_look_like_normal_records(default_scenario: Scenario) -> None:
    is_attack = default_scenario.labels.get_column("is_attack").to_list()
    records = default_scenario.cloudtrail
    attack = [r for r, a in zip(records, is_attack, strict=False) if a]
    normal = [r for r, a in zip(records, is_attack, strict=False) if not a]
    assert {k for r in attack for k in r} <= {k for r in normal for k in r}
    # Attackers often reuse agents and addresses that normal traffic also shows.
    normal_agents = {r["userAgent"] for r in normal}
    normal_ips = {r["sourceIPAddress"] for r in normal}
    assert 0.2 < np.mean([r["userAgent"] in normal_agents for r in attack]) < 0.95
    assert 0.05 < np.mean([r["sourceIPAddress"] in normal_ips for r in attack]) < 0.9


def test_same_seed_same_scenario_and_other_seed_differs(small_scenario: Scenario) -> None:
    again = generate_scenario(SMALL)
    assert again.cloudtrail == small_scenario.cloudtrail
    assert again.auth == small_scenario.auth
    assert again.labels.equals(small_scenario.labels)
    other = generate_scenario(replace(SMALL, seed=SMALL.seed + 1))
    assert other.cloudtrail[:50] != small_scenario.cloudtrail[:50]


@pytest.mark.parametrize(
    "bad",
    [{"n_events": 10}, {"days": 0}, {"n_users": 2}, {"seed": -1}, {"attack_rate": 0.5},
     {"auth_fraction": 0.95}, {"n_accounts": 3}, {"n_regions": 4}],
)  # fmt: skip
def test_config_rejects_bad_values(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ScenarioConfig(**bad)  # type: ignore[arg-type]
