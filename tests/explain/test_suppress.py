"""Analysts' suppression rules: reading, expiry, matching, and their effect on a hunt."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from loghunt.errors import InputError
from loghunt.explain import (
    ExpiredRuleWarning,
    SuppressionRule,
    Suppressions,
    finding_ids,
    model_version,
    read_suppressions,
)
from loghunt.output.findings import FINDING_ID, FLAGGED, SUPPRESSED, SUPPRESSED_BY
from loghunt.pipeline import Pipeline
from loghunt.synth import generate_cloudtrail_table

TODAY = date(2026, 6, 1)


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return generate_cloudtrail_table(3_000, seed=3)


def _write(path: Path, rules: object) -> Path:
    path.write_text(json.dumps(rules))
    return path


def test_json_rules_expiry_and_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "rules.json",
        {
            "rules": [
                {"id": "scanner", "match": {"ip": "10.0.0.5"}, "expires": "2026-12-31"},
                {"finding_id": "abc", "expires": "2026-06-01", "note": "last day still counts"},
                {"id": "old", "match": {"ip": "1.2.3.4"}, "expires": "2026-05-31"},
            ]
        },
    )
    with pytest.warns(ExpiredRuleWarning, match="'old' expired on 2026-05-31"):
        rules = read_suppressions(path, today=TODAY)
    assert [r.id for r in rules.rules] == ["scanner", "rule-2"]
    assert [r.id for r in rules.expired] == ["old"]
    assert rules.warnings == ["suppression rule 'old' expired on 2026-05-31 and was ignored"]
    table = pl.DataFrame({"ip": ["10.0.0.5", "1.2.3.4", "8.8.8.8"]})
    matched = rules.match(table, pl.Series(["x", "y", "abc"]))
    assert matched.to_list() == ["scanner", None, "rule-2"]


def test_csv_rules_match_several_fields_as_text(tmp_path: Path) -> None:
    path = tmp_path / "rules.csv"
    path.write_text(
        "id,finding_id,expires,note,user,port\n"
        "ci,,2030-01-01,CI job,ci-bot,443\n"
        "one,f1,2030-01-01,,,\n"
    )
    rules = read_suppressions(path, today=TODAY, warn=False)
    assert rules.rules[0].match == {"user": "ci-bot", "port": "443"}
    table = pl.DataFrame({"user": ["ci-bot", "ci-bot", "alice"], "port": [443, 22, 443]})
    assert rules.match(table, pl.Series(["a", "b", "f1"])).to_list() == ["ci", None, "one"]


def test_first_matching_rule_wins_and_unknown_fields_match_nothing() -> None:
    far = date(2099, 1, 1)
    rules = Suppressions(
        (
            SuppressionRule("nope", far, match={"no_such_field": "x"}),
            SuppressionRule("first", far, match={"user": "bob"}),
            SuppressionRule("second", far, match={"user": "bob"}),
        )
    )
    table = pl.DataFrame({"user": ["bob", None]})
    assert rules.match(table, pl.Series(["a", "b"])).to_list() == ["first", None]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"match": {"ip": "1"}}, "expiry date"),
        ({"match": {"ip": "1"}, "expires": "next year"}, "YYYY-MM-DD"),
        ({"expires": "2030-01-01"}, "finding_id or a field match"),
        ({"match": ["ip"], "expires": "2030-01-01"}, "match must map"),
        ("not an object", "not an object"),
    ],
)
def test_bad_rules_name_the_rule_and_the_file(tmp_path: Path, rule: object, message: str) -> None:
    path = _write(tmp_path / "rules.json", [rule])
    with pytest.raises(InputError, match=message) as caught:
        read_suppressions(path, today=TODAY)
    assert "rules.json" in str(caught.value)


def test_unreadable_or_duplicate_rules_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_suppressions(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match="not valid JSON"):
        read_suppressions(tmp_path / "bad.json")
    twice = [{"id": "a", "finding_id": "x", "expires": "2030-01-01"}] * 2
    with pytest.raises(InputError, match="unique"):
        read_suppressions(_write(tmp_path / "twice.json", twice), today=TODAY)


def test_finding_ids_are_deterministic_per_model_version() -> None:
    ids = pl.Series(["e1", "e2", "e1"])
    v1, v2 = model_version({"detectors": ["knn"]}), model_version({"detectors": ["lof"]})
    first = finding_ids(ids, v1)
    assert first.to_list() == finding_ids(ids, v1).to_list()
    assert first[0] == first[2] != first[1] and len(first[0]) == 16
    assert finding_ids(ids, v2)[0] != first[0]


def test_pipeline_finding_ids_ignore_thresholds_but_not_detectors(events: pl.DataFrame) -> None:
    base = Pipeline(exclude=("is_attack", "attack"), detectors=("ecod",))
    a = base.fit_score(events).table.sort("event_id")
    b = Pipeline(base.config, contamination=0.05).fit_score(events).table.sort("event_id")
    c = Pipeline(base.config, detectors=("hbos",)).fit_score(events).table.sort("event_id")
    assert a[FINDING_ID].to_list() == b[FINDING_ID].to_list()
    assert a[FINDING_ID].to_list() != c[FINDING_ID].to_list()
    assert a[FINDING_ID].n_unique() == events.height


def test_suppressed_findings_are_unflagged_kept_and_counted(events: pl.DataFrame) -> None:
    pipe = Pipeline(exclude=("is_attack", "attack"), detectors=("ecod",))
    plain = pipe.fit_score(events).table
    flagged = plain.filter(pl.col(FLAGGED))
    user = flagged["actor.user.name"][0]
    one_id = flagged.filter(pl.col("actor.user.name") != user)[FINDING_ID][0]
    far = date(2099, 1, 1)
    rules = Suppressions(
        (
            SuppressionRule("by-user", far, match={"actor.user.name": user}),
            SuppressionRule("by-id", far, finding_id=one_id),
        )
    )
    findings = pipe.fit_score(events, suppress=rules)
    table = findings.table
    hit = table.filter(pl.col(SUPPRESSED))
    expected = flagged.filter((pl.col("actor.user.name") == user) | (pl.col(FINDING_ID) == one_id))
    assert sorted(hit["event_id"].to_list()) == sorted(expected["event_id"].to_list())
    assert not hit[FLAGGED].any()
    assert set(hit[SUPPRESSED_BY].to_list()) == {"by-user", "by-id"}
    assert findings.n_suppressed == expected.height
    assert findings.summary()["n_suppressed"] == expected.height
    assert findings.n_flagged == flagged.height - expected.height
    # Matching events that were not flagged anyway are not counted as suppressed.
    quiet = table.filter(~pl.col(SUPPRESSED) & (pl.col("actor.user.name") == user))
    assert quiet[SUPPRESSED_BY].null_count() == quiet.height


def test_suppression_under_a_budget_gives_the_slots_to_the_next_events(
    events: pl.DataFrame,
) -> None:
    pipe = Pipeline(exclude=("is_attack", "attack"), detectors=("ecod",), budget="30")
    before = pipe.fit_score(events).table
    top = before.filter(pl.col(FLAGGED)).sort("rank")
    assert top.height == 30
    rules = Suppressions(
        tuple(
            SuppressionRule(f"r{i}", date(2099, 1, 1), finding_id=fid)
            for i, fid in enumerate(top[FINDING_ID][:5])
        )
    )
    after = pipe.fit_score(events, suppress=rules)
    assert after.n_suppressed == 5 and after.n_flagged == 30
    refilled = set(after.flagged()["event_id"]) - set(top["event_id"])
    assert len(refilled) == 5
