"""Findings as OCSF Detection Finding events (class 2004, OCSF 1.5.0), one JSON per line.

Each flagged event becomes one finding: ``finding_info`` (id, title, the analytic with type
Learning and loghunt's version, the related event, first and last seen, data sources, and one
related analytic per detector), severity from the score's rank in the run, confidence from how
many detectors voted, ``evidences`` with the raw event's key fields, ``anomaly_analyses`` with
the reasons (each field's value against the baseline's typical value), and the detector votes
and normalised scores under ``unmapped.loghunt``. Events an analyst's rule suppressed are
written too, with status Suppressed and ``is_alert`` false, so a SIEM can close them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from loghunt import __version__
from loghunt.output.findings import (
    COMBINED,
    FINDING_ID,
    FLAGGED,
    NEAREST_NORMAL,
    NORM_PREFIX,
    RANK,
    REASON_DETAILS,
    REASONS,
    SUPPRESSED,
    SUPPRESSED_BY,
    VOTES,
    Findings,
)
from loghunt.schema import ocsf

OCSF_VERSION = "1.5.0"
CLASS_UID = 2004
CATEGORY_UID = 2
ACTIVITY_CREATE = 1
TYPE_UID = CLASS_UID * 100 + ACTIVITY_CREATE
ANALYTIC_LEARNING = 4
#: (share of the run's events ranked at or above, severity_id, caption), most severe first.
SEVERITY_BY_RANK = ((0.001, 4, "High"), (0.005, 3, "Medium"), (0.02, 2, "Low"))
SEVERITY_INFORMATIONAL = (1, "Informational")
STATUS_NEW, STATUS_SUPPRESSED = (1, "New"), (3, "Suppressed")
CONFIDENCE = {1: "Low", 2: "Medium", 3: "High"}

#: OCSF attribute paths inside ``evidences`` for the findings table's flattened columns.
_EVIDENCE_PATHS = {
    ocsf.USER_NAME: ("actor", "user", "name"),
    ocsf.USER_TYPE: ("actor", "user", "type"),
    ocsf.USER_UID: ("actor", "user", "uid"),
    ocsf.ACCOUNT_UID: ("actor", "user", "account", "uid"),
    ocsf.OPERATION: ("api", "operation"),
    ocsf.SERVICE: ("api", "service", "name"),
    ocsf.ERROR: ("api", "response", "error"),
    ocsf.ERROR_MESSAGE: ("api", "response", "message"),
    ocsf.SRC_IP: ("src_endpoint", "ip"),
    ocsf.SRC_DOMAIN: ("src_endpoint", "domain"),
    ocsf.USER_AGENT: ("http_request", "user_agent"),
    ocsf.DST_HOST: ("dst_endpoint", "hostname"),
}
#: Other key fields, kept verbatim in ``evidences[].data``.
_EVIDENCE_DATA = (
    ocsf.EVENT_ID,
    ocsf.TIME,
    ocsf.CLASS_UID,
    ocsf.REGION,
    ocsf.STATUS,
    ocsf.SOURCE_FILE,
    ocsf.SOURCE_LINE,
)
#: Names of the OCSF classes loghunt's normaliser produces (see loghunt.schema).
_CLASS_NAMES = {
    "6003": "API Activity",
    "3002": "Authentication",
    "1007": "Process Activity",
    "4001": "Network Activity",
}
_OBSERVATION = {
    "rarity": ("Frequency Analysis", "RARE"),
    "first_seen": ("Association Analysis", "UNSEEN"),
    "time_of_day": ("Time Pattern Analysis", "OFF_HOURS"),
    "failures_before": ("Volume Analysis", "HIGH_VOLUME"),
    "activity": ("Volume Analysis", "HIGH_VOLUME"),
    "feature": ("Deviation Analysis", "OUTLIER"),
}


def to_ocsf(findings: Findings, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """One Detection Finding per flagged (or suppressed) event, highest rank first."""
    table = findings.table
    keep = pl.col(FLAGGED)
    if SUPPRESSED in table.columns:
        keep = keep | pl.col(SUPPRESSED)
    created = _ms(now or datetime.now(UTC)) or 0
    n_events = max(table.height, 1)
    for row in table.filter(keep).sort(RANK).iter_rows(named=True):
        yield _finding(row, findings, created, n_events)


def write_ocsf(findings: Findings, path: Path, now: datetime | None = None) -> int:
    """Write :func:`to_ocsf` as JSON Lines to ``path``; returns the findings written."""
    count = 0
    with path.open("wb") as out:
        for finding in to_ocsf(findings, now):
            out.write(orjson.dumps(finding, option=orjson.OPT_APPEND_NEWLINE))
            count += 1
    return count


def _finding(row: dict[str, Any], findings: Findings, created: int, n: int) -> dict[str, Any]:
    event_time = _ms(row.get(ocsf.TIME)) or created
    suppressed = bool(row.get(SUPPRESSED))
    status_id, status = STATUS_SUPPRESSED if suppressed else STATUS_NEW
    severity_id, severity = _severity(int(row[RANK]), n)
    votes = int(row.get(VOTES) or 0)
    confidence_id = _confidence(votes, len(findings.detectors))
    details = row.get(REASON_DETAILS) or []
    finding: dict[str, Any] = {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": TYPE_UID,
        "type_name": "Detection Finding: Create",
        "time": created,
        "start_time": event_time,
        "end_time": event_time,
        "severity_id": severity_id,
        "severity": severity,
        "confidence_id": confidence_id,
        "confidence": CONFIDENCE[confidence_id],
        "confidence_score": round(100 * votes / max(len(findings.detectors), 1)),
        "is_alert": not suppressed,
        "status_id": status_id,
        "status": status,
        "message": _first_reason(row),
        "finding_info": _finding_info(row, findings, event_time),
        "evidences": [_evidence(row)],
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "loghunt", "vendor_name": "loghunt", "version": __version__},
        },
        "unmapped": {"loghunt": _loghunt(row, findings)},
    }
    analyses = _anomaly_analysis(row, details)
    if analyses is not None:
        finding["anomaly_analyses"] = [analyses]
    return finding


def _finding_info(row: dict[str, Any], findings: Findings, event_time: int) -> dict[str, Any]:
    analytic_name = f"loghunt ensemble ({', '.join(findings.detectors)})"
    info: dict[str, Any] = {
        "uid": str(row.get(FINDING_ID) or row[ocsf.EVENT_ID]),
        "title": _title(row),
        "desc": str(row.get(REASONS) or ""),
        "types": ["Anomaly"],
        "analytic": {
            "name": analytic_name,
            "type": "Learning (ML/DL)",
            "type_id": ANALYTIC_LEARNING,
            "version": __version__,
            "uid": findings.model_version or __version__,
        },
        "related_analytics": [
            {"name": name, "type": "Learning (ML/DL)", "type_id": ANALYTIC_LEARNING}
            for name in findings.detectors
        ],
        "related_events": [_related_event(row)],
        "related_events_count": 1,
        "first_seen_time": event_time,
        "last_seen_time": event_time,
    }
    sources = [str(row[c]) for c in (ocsf.PRODUCT, ocsf.SOURCE_FILE) if row.get(c) is not None]
    if sources:
        info["data_sources"] = sources[:1]
    return info


def _related_event(row: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"uid": str(row[ocsf.EVENT_ID])}
    class_uid = row.get(ocsf.CLASS_UID)
    if class_uid is not None:
        event["type"] = _CLASS_NAMES.get(str(class_uid), f"OCSF class {class_uid}")
    return event


def _evidence(row: dict[str, Any]) -> dict[str, Any]:
    evidence: dict[str, Any] = {}
    for column, path in _EVIDENCE_PATHS.items():
        value = row.get(column)
        if value is not None and value != "":
            _put(evidence, path, str(value))
    if "api" in evidence and "operation" not in evidence["api"]:
        del evidence["api"]  # the API object needs its operation
    data = {c: _json_value(row[c]) for c in _EVIDENCE_DATA if row.get(c) is not None}
    evidence["data"] = data or {"event_id": str(row.get(ocsf.EVENT_ID))}
    return evidence


def _anomaly_analysis(row: dict[str, Any], details: list[dict[str, Any]]) -> dict[str, Any] | None:
    reasons = [d for d in details if d.get("field")]
    if not reasons:
        return None
    user = row.get(ocsf.USER_NAME)
    target = (
        {"name": str(user), "type": "User"}
        if user is not None
        else {"name": str(row[ocsf.EVENT_ID]), "type": "Event"}
    )
    anomalies, baselines = [], []
    for reason in reasons:
        kind_type, pattern = _OBSERVATION.get(
            str(reason["kind"]), ("Deviation Analysis", "OUTLIER")
        )
        anomalies.append(
            {
                "observation_parameter": str(reason["field"]),
                "observation_type": kind_type,
                "observed_pattern": pattern,
                "observations": [{"value": str(reason.get("text") or reason.get("value"))}],
            }
        )
        if reason.get("typical"):
            baselines.append(
                {
                    "observation_parameter": str(reason["field"]),
                    "observation_type": kind_type,
                    "observations": [{"value": str(reason["typical"])}],
                }
            )
    analysis: dict[str, Any] = {"analysis_targets": [target], "anomalies": anomalies}
    if baselines:
        analysis["baselines"] = baselines
    return analysis


def _loghunt(row: dict[str, Any], findings: Findings) -> dict[str, Any]:
    return {
        "rank": int(row[RANK]),
        "combined_score": float(row[COMBINED]),
        "votes": int(row.get(VOTES) or 0),
        "detectors": {d: _json_value(row.get(NORM_PREFIX + d)) for d in findings.detectors},
        "nearest_normal": list(row.get(NEAREST_NORMAL) or []),
        "suppressed_by": row.get(SUPPRESSED_BY),
        "model_version": findings.model_version,
    }


def _title(row: dict[str, Any]) -> str:
    op, user, ip = row.get(ocsf.OPERATION), row.get(ocsf.USER_NAME), row.get(ocsf.SRC_IP)
    what = f"Anomalous {op}" if op else "Anomalous activity"
    who = f" by {user}" if user else ""
    where = f" from {ip}" if ip else ""
    return f"{what}{who}{where}" if (op or user or ip) else f"Anomalous event {row[ocsf.EVENT_ID]}"


def _first_reason(row: dict[str, Any]) -> str:
    return str(row.get(REASONS) or "").split("; ")[0] or _title(row)


def _severity(rank: int, n: int) -> tuple[int, str]:
    share = rank / n
    for limit, severity_id, caption in SEVERITY_BY_RANK:
        if share <= limit:
            return severity_id, caption
    return SEVERITY_INFORMATIONAL


def _confidence(votes: int, n_detectors: int) -> int:
    if n_detectors and votes >= n_detectors:
        return 3
    return 2 if 2 * votes >= max(n_detectors, 1) else 1


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _ms(value: Any) -> int | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return None


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value
