from __future__ import annotations

import gzip
import re
from dataclasses import replace
from pathlib import Path

import orjson
import polars as pl
import pytest

from loghunt.synth import Scenario, ScenarioConfig, ScenarioPaths, generate_scenario, write_scenario

from .conftest import SMALL

TINY = ScenarioConfig(n_events=2_000, days=2, n_users=12, seed=21)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, small_scenario: Scenario) -> ScenarioPaths:
    return write_scenario(small_scenario, tmp_path_factory.mktemp("small"), records_per_file=500)


CT_NAME = re.compile(
    r"^(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8})T(\d{2})00Z_[A-Za-z0-9]{16}\.json\.gz$"
)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_writes_identical_bytes(tmp_path: Path) -> None:
    write_scenario(generate_scenario(TINY), tmp_path / "a")
    write_scenario(generate_scenario(TINY), tmp_path / "b")
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys() and a == b
    write_scenario(generate_scenario(replace(TINY, seed=TINY.seed + 1)), tmp_path / "c")
    c = _tree(tmp_path / "c")
    assert a["labels.csv"] != c["labels.csv"]
    assert not set(a) & {k for k in c if k.startswith("cloudtrail")}


def test_cloudtrail_files_are_s3_shaped_and_complete(
    written: ScenarioPaths, small_scenario: Scenario
) -> None:
    paths = written
    ids = []
    for path in paths.cloudtrail_files:
        parts = path.relative_to(paths.cloudtrail_dir).parts
        account, region, year, month, day, name = parts
        match = CT_NAME.match(name)
        assert match, name
        assert match.groups()[:3] == (account, region, f"{year}{month}{day}")
        records = orjson.loads(gzip.decompress(path.read_bytes()))["Records"]
        assert 0 < len(records) <= 500
        for rec in records:
            assert rec["recipientAccountId"] == account and rec["awsRegion"] == region
            assert rec["eventTime"].startswith(f"{year}-{month}-{day}T{match.group(4)}")
        ids += [r["eventID"] for r in records]
    assert sorted(ids) == sorted(r["eventID"] for r in small_scenario.cloudtrail)
    assert {p.parts[-6] for p in paths.cloudtrail_files} == set(small_scenario.accounts)


def test_auth_files_are_daily_json_lines(written: ScenarioPaths, small_scenario: Scenario) -> None:
    paths = written
    uids = []
    for path in paths.auth_files:
        assert re.match(r"^auth-\d{4}-\d{2}-\d{2}\.jsonl\.gz$", path.name)
        with gzip.open(path, "rb") as handle:
            uids += [orjson.loads(line)["metadata"]["uid"] for line in handle]
    assert uids == [r["metadata"]["uid"] for r in small_scenario.auth]


def test_labels_csv_joins_every_written_event(
    written: ScenarioPaths, small_scenario: Scenario
) -> None:
    labels = pl.read_csv(written.labels)
    assert labels.columns == ["event_id", "attack", "is_attack"]
    assert labels.get_column("event_id").n_unique() == labels.height == SMALL.n_events
    assert labels.get_column("is_attack").sum() == small_scenario.labels["is_attack"].sum()


def test_rewriting_replaces_the_previous_run(tmp_path: Path) -> None:
    write_scenario(generate_scenario(replace(TINY, seed=99, n_events=1_000)), tmp_path)
    keep = tmp_path / "cloudtrail" / "notes.txt"
    keep.write_text("not ours")
    paths = write_scenario(generate_scenario(TINY), tmp_path)
    on_disk = {p for p in tmp_path.rglob("*.gz")}
    assert on_disk == set(paths.cloudtrail_files) | set(paths.auth_files)
    assert keep.read_text() == "not ours"


def test_hours_per_file_groups_records(
    tmp_path: Path, written: ScenarioPaths, small_scenario: Scenario
) -> None:
    six = write_scenario(small_scenario, tmp_path, hours_per_file=6)
    assert len(six.cloudtrail_files) < len(written.cloudtrail_files) / 3
    hours = {int(CT_NAME.match(p.name).group(4)) for p in six.cloudtrail_files}  # type: ignore[union-attr]
    assert hours <= {0, 6, 12, 18}
    total = sum(
        len(orjson.loads(gzip.decompress(p.read_bytes()))["Records"]) for p in six.cloudtrail_files
    )
    assert total == len(small_scenario.cloudtrail)
