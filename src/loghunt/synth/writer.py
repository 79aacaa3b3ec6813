"""Write a scenario to disk the way the logs arrive in real life.

CloudTrail goes where S3 delivery puts it (``<account>/<region>/YYYY/MM/DD/`` with AWS-style
file names, ``{"Records": [...]}`` gzip files); authentication goes to daily gzip JSON Lines;
labels go to one CSV. Gzip headers carry no time, so the same seed gives the same bytes.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from loghunt.synth.rng import ALNUM, random_token, stream
from loghunt.synth.scenario import Scenario

_LEVEL = 3  # faster than the default 6 for ~25% larger files; readers do not care


@dataclass(frozen=True)
class ScenarioPaths:
    """Where :func:`write_scenario` put each part of a scenario.

    Attributes
    ----------
    root : pathlib.Path
        The output folder.
    cloudtrail_dir, auth_dir : pathlib.Path
        ``root/cloudtrail`` (``<account>/<region>/YYYY/MM/DD/*.json.gz``) and ``root/auth``
        (``auth-YYYY-MM-DD.jsonl.gz``).
    labels : pathlib.Path
        ``root/labels.csv``: ``event_id``, ``attack``, ``is_attack``.
    cloudtrail_files, auth_files : tuple of pathlib.Path
        Every file written, in a stable order.

    Examples
    --------
    >>> import tempfile
    >>> from loghunt.synth import ScenarioConfig, generate_scenario, write_scenario
    >>> scenario = generate_scenario(ScenarioConfig(n_events=2_000, days=2, n_users=10))
    >>> paths = write_scenario(scenario, tempfile.mkdtemp())
    >>> paths.labels.name, paths.auth_files[0].name
    ('labels.csv', 'auth-2026-03-02.jsonl.gz')
    """

    root: Path
    cloudtrail_dir: Path
    auth_dir: Path
    labels: Path
    cloudtrail_files: tuple[Path, ...]
    auth_files: tuple[Path, ...]


def write_scenario(
    scenario: Scenario,
    out_dir: str | Path,
    *,
    records_per_file: int = 2_000,
    hours_per_file: int = 1,
) -> ScenarioPaths:
    """Write ``scenario`` under ``out_dir`` and return the paths.

    CloudTrail files hold ``hours_per_file`` hours (1 to 24) of one region of one account,
    split every ``records_per_file`` records; more hours per file means far fewer files.

    Files this function wrote on an earlier run (recognised by their names) are removed first,
    so a rerun with another seed leaves no stale logs behind; nothing else is touched.
    """
    root = Path(out_dir)
    ct_dir, auth_dir = root / "cloudtrail", root / "auth"
    _remove_previous(ct_dir, auth_dir)
    hours = min(max(1, hours_per_file), 24)
    ct_files = _write_cloudtrail(scenario, ct_dir, max(1, records_per_file), hours)
    auth_files = _write_auth(scenario.auth, auth_dir)
    labels = root / "labels.csv"
    scenario.labels.write_csv(labels)
    return ScenarioPaths(
        root=root,
        cloudtrail_dir=ct_dir,
        auth_dir=auth_dir,
        labels=labels,
        cloudtrail_files=tuple(ct_files),
        auth_files=tuple(auth_files),
    )


def _remove_previous(ct_dir: Path, auth_dir: Path) -> None:
    stale = [*ct_dir.glob("*/*/*/*/*/*_CloudTrail_*.json.gz"), *auth_dir.glob("auth-*.jsonl.gz")]
    for path in stale:
        path.unlink()


def _write_cloudtrail(scenario: Scenario, ct_dir: Path, per_file: int, hours: int) -> list[Path]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for rec in scenario.cloudtrail:
        when = rec["eventTime"]
        window = f"{when[:11]}{int(when[11:13]) // hours * hours:02d}"
        groups[(rec["recipientAccountId"], rec["awsRegion"], window)].append(rec)
    rng = stream(scenario.config.seed, "writer")
    written = []
    for (account, region, hour), records in sorted(groups.items()):
        folder = ct_dir / account / region / hour[:4] / hour[5:7] / hour[8:10]
        folder.mkdir(parents=True, exist_ok=True)
        stamp = f"{hour[:4]}{hour[5:7]}{hour[8:10]}T{hour[11:13]}00Z"
        for lo in range(0, len(records), per_file):
            name = f"{account}_CloudTrail_{region}_{stamp}_{random_token(rng, 16, ALNUM)}.json.gz"
            payload = orjson.dumps({"Records": records[lo : lo + per_file]})
            path = folder / name
            path.write_bytes(gzip.compress(payload, compresslevel=_LEVEL, mtime=0))
            written.append(path)
    return written


def _write_auth(records: list[dict[str, Any]], auth_dir: Path) -> list[Path]:
    auth_dir.mkdir(parents=True, exist_ok=True)
    days: dict[str, list[bytes]] = defaultdict(list)
    for rec in records:
        day = datetime.fromtimestamp(rec["time"] / 1000, UTC).strftime("%Y-%m-%d")
        days[day].append(orjson.dumps(rec))
    written = []
    for day, lines in sorted(days.items()):
        path = auth_dir / f"auth-{day}.jsonl.gz"
        path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n", compresslevel=_LEVEL, mtime=0))
        written.append(path)
    return written
