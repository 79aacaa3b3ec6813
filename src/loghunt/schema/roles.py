"""Which column plays which security role (time, user, source IP, ...) in an event table.

Features and explanations ask for roles, not column names, so the same code serves OCSF,
CloudTrail, Windows, Linux auth, Zeek and arbitrary tables. Columns are found by alias, first
match wins; the OCSF name is always first.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import polars as pl

ALIASES: dict[str, tuple[str, ...]] = {
    "time": (
        "time",
        "eventTime",
        "@timestamp",
        "timestamp",
        "Timestamp",
        "ts",
        "TimeCreated",
        "EventTime",
        "datetime",
        "date_time",
        "Event DateTime",
    ),
    "user": (
        "actor.user.name",
        "user.name",
        "userIdentity.userName",
        "user",
        "username",
        "user_name",
        "TargetUserName",
        "SubjectUserName",
        "User ID",
        "principal",
    ),
    "src_ip": (
        "src_endpoint.ip",
        "sourceIPAddress",
        "src_ip",
        "source_ip",
        "id.orig_h",
        "IpAddress",
        "client_ip",
        "clientip",
        "Source IP",
        "ip",
    ),
    "operation": (
        "api.operation",
        "eventName",
        "activity_name",
        "EventID",
        "Event Name",
        "method",
        "action",
        "operation",
    ),
    "user_agent": ("http_request.user_agent", "userAgent", "user_agent", "Request User Agent"),
    "status": ("status", "api.response.error", "errorCode", "outcome", "result", "Status"),
    "host": (
        "device.hostname",
        "dst_endpoint.hostname",
        "Hostname",
        "host",
        "hostname",
        "Computer",
        "Node",
    ),
    "event_id": (
        "metadata.uid",
        "eventID",
        "event_id",
        "uid",
        "EventRecordID",
        "id",
        "Event ID",
        "Request ID",
    ),
}

#: Values of a status-like column that mean the action failed.
FAILURE_VALUES = frozenset({"failure", "failed", "fail", "denied", "error", "unauthorized", "2"})
_NTSTATUS_ERROR = r"^0xc[0-9a-f]{7}$"


@dataclass(frozen=True)
class FieldRoles:
    """Column names for each role, or ``None`` where the table has no such column."""

    time: str | None = None
    user: str | None = None
    src_ip: str | None = None
    operation: str | None = None
    user_agent: str | None = None
    status: str | None = None
    host: str | None = None
    event_id: str | None = None

    def columns(self) -> list[str]:
        """All role columns that are set, without duplicates."""
        names = [getattr(self, f.name) for f in fields(self)]
        return list(dict.fromkeys(n for n in names if n))


def infer_roles(columns: list[str] | tuple[str, ...]) -> FieldRoles:
    """Pick the column for each role by alias (exact match first, then case-insensitive)."""
    lower = {c.lower(): c for c in columns}
    found: dict[str, str | None] = {}
    present = set(columns)
    for role, aliases in ALIASES.items():
        match = next((a for a in aliases if a in present), None)
        if match is None:
            match = next((lower[a.lower()] for a in aliases if a.lower() in lower), None)
        found[role] = match
    return FieldRoles(**found)


def failure_mask(table: pl.DataFrame, roles: FieldRoles) -> pl.Series:
    """True where the event's outcome is a failure (OCSF status, error code, ...)."""
    if roles.status is None or roles.status not in table.columns:
        return pl.Series("failed", [False] * table.height, dtype=pl.Boolean)
    col = table.get_column(roles.status)
    if roles.status in ("api.response.error", "errorCode"):
        return col.is_not_null().alias("failed")
    text = col.cast(pl.Utf8).str.to_lowercase().str.strip_chars()
    # Windows writes NTSTATUS codes (0xc000006d: bad password); severity bits 11 = error.
    failed = text.is_in(list(FAILURE_VALUES)) | text.str.contains(_NTSTATUS_ERROR)
    return failed.fill_null(False).alias("failed")
