"""Map source tables to OCSF-shaped columns (see :mod:`loghunt.schema.ocsf`).

CloudTrail rows become API Activity (class 6003); OCSF rows pass through; any other table is used
as it is. Mixed tables (CloudTrail files beside OCSF authentication files) are mapped row by row
with ``coalesce``, so each row takes whichever source columns it has.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import polars as pl

from loghunt.errors import InputError
from loghunt.schema import ocsf

# CloudTrail column (flattened) -> OCSF column, for plain renames.
_CLOUDTRAIL_RENAMES: dict[str, str] = {
    "eventName": ocsf.OPERATION,
    "eventSource": ocsf.SERVICE,
    "awsRegion": ocsf.REGION,
    "userAgent": ocsf.USER_AGENT,
    "errorCode": ocsf.ERROR,
    "errorMessage": ocsf.ERROR_MESSAGE,
    "eventID": ocsf.EVENT_UID,
    "userIdentity.type": ocsf.USER_TYPE,
    "userIdentity.arn": ocsf.USER_UID,
    "userIdentity.accountId": ocsf.ACCOUNT_UID,
    "userIdentity.accessKeyId": ocsf.CREDENTIAL_UID,
    "userIdentity.sessionContext.sessionIssuer.arn": ocsf.SESSION_ISSUER,
    "requestParameters": ocsf.REQUEST_DATA,
    "resources": ocsf.RESOURCES,
}
# The principal's name, best first: IAM user, role behind an assumed-role session. AWS services
# acting on their own (userIdentity.invokedBy) are not users: they go to actor.invoked_by.
_USER_NAME_SOURCES = (
    "userIdentity.userName",
    "userIdentity.sessionContext.sessionIssuer.userName",
    "userIdentity.principalId",
)
# A dotted quad or an IPv6 address; CloudTrail writes a service name ("ec2.amazonaws.com")
# instead when an AWS service made the call.
_IP_PATTERN = r"^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$"
_MFA_SOURCE = "userIdentity.sessionContext.attributes.mfaAuthenticated"
_TIME_SOURCES = ("eventTime", "@timestamp")
# CloudTrail columns worth keeping as features after mapping; the rest are ids, versions or
# envelope fields (Logstash "@version", "requestID") that only add noise.
_CLOUDTRAIL_KEEP = (
    "readOnly",
    "eventType",
    "managementEvent",
    "eventCategory",
    "recipientAccountId",
    "vpcEndpointId",
)

#: Columns every flattened CloudTrail record has.
_CLOUDTRAIL_MARKERS = frozenset({"eventName", "eventSource"})
_RENAME_TARGETS = frozenset(_CLOUDTRAIL_RENAMES.values())
# Every column the CloudTrail mapping reads or coalesces with.
_CLOUDTRAIL_INPUTS = frozenset(
    {
        *_CLOUDTRAIL_RENAMES,
        *_RENAME_TARGETS,
        *_USER_NAME_SOURCES,
        "sourceIPAddress",
        "userIdentity.invokedBy",
        "userIdentity.arn",
        "errorCode",
        "responseElements",
        "responseElements.ConsoleLogin",
        _MFA_SOURCE,
        ocsf.SRC_IP,
        ocsf.USER_NAME,
        ocsf.SESSION_MFA,
        ocsf.STATUS,
        ocsf.CLASS_UID,
        ocsf.PRODUCT,
    }
)
_ALL_TIME_SOURCES = (ocsf.TIME, *_TIME_SOURCES)
_UTC_MS = pl.Datetime("ms", "UTC")
# The source's own event id, best first.
_ID_CANDIDATES = (ocsf.EVENT_UID, "eventID", ocsf.EVENT_ID, "uid")

CLOUDTRAIL_CLASS_UID = 6003
#: Epoch milliseconds of 0001-01-01 and of 9999-12-31 23:59:59.999: a number outside is no time.
EPOCH_MS_RANGE = (-62_135_596_800_000, 253_402_300_799_999)
_STRING_TIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
)


def is_cloudtrail(table: pl.DataFrame) -> bool:
    """True when the table holds CloudTrail records (flattened)."""
    return set(table.columns) >= _CLOUDTRAIL_MARKERS


def normalize(table: pl.DataFrame) -> pl.DataFrame:
    """Return the table with OCSF columns, a parsed ``time`` and a stable ``event_id``.

    >>> import polars as pl
    >>> raw = pl.DataFrame({"eventName": ["GetObject"], "eventSource": ["s3.amazonaws.com"],
    ...                     "eventTime": ["2026-03-02T10:00:00Z"], "eventID": ["e-1"]})
    >>> normalize(raw).select("api.operation", "event_id").row(0)
    ('GetObject', 'e-1')

    Values that cannot be read (a time of ``1e308``, a class ``"x"``) become null, so the event
    still scores; a table that cannot be mapped at all raises :class:`InputError`. A table
    that is already normalised comes back as it is, at next to no cost (the pipeline
    normalises what the service already did).
    """
    try:
        return _normalize(table)
    except pl.exceptions.PolarsError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"cannot map the events to OCSF columns: {reason}") from exc


def _normalize(table: pl.DataFrame) -> pl.DataFrame:
    # All steps run in one query. Which columns each step finds is followed in `present`;
    # the expressions, which depend only on that, are built once per combination.
    columns = table.columns
    present = set(columns)
    query = table.lazy()
    steps = 0
    if present >= _CLOUDTRAIL_MARKERS:  # is_cloudtrail
        exprs, targets = _cloudtrail_exprs(frozenset(present & _CLOUDTRAIL_INPUTS))
        drop = [
            c
            for c in columns
            if _is_cloudtrail_source(c) and c not in _CLOUDTRAIL_KEEP and c not in _RENAME_TARGETS
        ]
        query = query.with_columns(exprs).drop(drop)
        present = (present | targets).difference(drop)
        steps += 1
    if ocsf.AUTH_USER in present:
        query = query.with_columns(_authentication_expr(ocsf.USER_NAME in present))
        query = query.drop(ocsf.AUTH_USER)
        present.add(ocsf.USER_NAME)
        present.discard(ocsf.AUTH_USER)
        steps += 1
    # No step above writes a time column: their types are the input's.
    sources = tuple((c, table.get_column(c).dtype) for c in _ALL_TIME_SOURCES if c in present)
    if sources and sources != ((ocsf.TIME, _UTC_MS),):  # that one would be cast to itself
        others = [c for c, _ in sources if c != ocsf.TIME]
        query = query.with_columns(_time_expr(sources)).drop(others)
        steps += 1
    candidates = tuple(c for c in _ID_CANDIDATES if c in present)
    if steps or not _has_event_ids(table, candidates):
        query = query.with_columns(_event_id_expr(candidates))
        steps += 1
    if steps:
        table = query.collect()
    if table.get_column(ocsf.EVENT_ID).null_count() == 0:
        return table
    # Hashing runs in Python: only for the events without an id of their own.
    missing = pl.when(pl.col(ocsf.EVENT_ID).is_null()).then(_location(table))
    fallback = missing.map_elements(_short_hash, return_dtype=pl.Utf8)
    return table.with_columns(pl.coalesce(pl.col(ocsf.EVENT_ID), fallback).alias(ocsf.EVENT_ID))


def _col(present: frozenset[str], name: str) -> pl.Expr:
    """The column if the table has it, else a null literal (so coalesce works on any table)."""
    return pl.col(name) if name in present else pl.lit(None)


@lru_cache(maxsize=256)
def _cloudtrail_exprs(present: frozenset[str]) -> tuple[tuple[pl.Expr, ...], frozenset[str]]:
    """The CloudTrail mapping for a table with these of ``_CLOUDTRAIL_INPUTS``; and the
    columns it writes."""
    exprs: list[pl.Expr] = []
    for source, target in _CLOUDTRAIL_RENAMES.items():
        if source in present:
            exprs.append(pl.coalesce(_col(present, target), pl.col(source)).alias(target))
    if "sourceIPAddress" in present:
        address = pl.col("sourceIPAddress").cast(pl.Utf8)
        is_ip = address.str.contains(_IP_PATTERN).fill_null(False)
        exprs.append(
            pl.coalesce(_col(present, ocsf.SRC_IP), pl.when(is_ip).then(address)).alias(ocsf.SRC_IP)
        )
        exprs.append(pl.when(~is_ip).then(address).alias(ocsf.SRC_DOMAIN))
    if "userIdentity.invokedBy" in present:
        exprs.append(pl.col("userIdentity.invokedBy").cast(pl.Utf8).alias(ocsf.INVOKED_BY))
    exprs.append(_user_name(present).alias(ocsf.USER_NAME))
    if _MFA_SOURCE in present:
        mfa = pl.col(_MFA_SOURCE).cast(pl.Utf8).str.to_lowercase() == "true"
        exprs.append(pl.coalesce(_col(present, ocsf.SESSION_MFA), mfa).alias(ocsf.SESSION_MFA))
    exprs.append(_cloudtrail_status(present).alias(ocsf.STATUS))
    is_ct = pl.col("eventName").is_not_null()
    exprs.append(
        pl.when(is_ct)
        .then(pl.lit(CLOUDTRAIL_CLASS_UID))
        .otherwise(_col(present, ocsf.CLASS_UID))
        .cast(pl.Int64, strict=False)  # an unreadable class ("x") is unknown
        .alias(ocsf.CLASS_UID)
    )
    exprs.append(
        pl.when(is_ct)
        .then(pl.lit("CloudTrail"))
        .otherwise(_col(present, ocsf.PRODUCT))
        .cast(pl.Utf8)
        .alias(ocsf.PRODUCT)
    )
    return tuple(exprs), frozenset(e.meta.output_name() for e in exprs)


def _user_name(present: frozenset[str]) -> pl.Expr:
    """The principal: IAM user name, else the role; for IAM Identity Center (SSO) roles the
    person is the session name, since one permission-set role is shared by many people."""
    name = pl.coalesce(
        _col(present, ocsf.USER_NAME), *[_col(present, s) for s in _USER_NAME_SOURCES]
    ).cast(pl.Utf8)
    if "userIdentity.arn" not in present:
        return name
    session = pl.col("userIdentity.arn").cast(pl.Utf8).str.extract(r"assumed-role/[^/]+/(.+)$")
    is_sso = name.str.starts_with("AWSReservedSSO_").fill_null(False)
    return pl.when(is_sso & session.is_not_null()).then(session).otherwise(name)


def _is_cloudtrail_source(column: str) -> bool:
    top = column.split(".", 1)[0]
    return top in {
        "eventVersion",
        "userIdentity",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "requestID",
        "eventID",
        "sharedEventID",
        "apiVersion",
        "serviceEventDetails",
        "resources",
        "tlsDetails",
        "sessionCredentialFromConsole",
        "@version",
        "insightDetails",
        "edgeDeviceDetails",
    }


def _cloudtrail_status(present: frozenset[str]) -> pl.Expr:
    """Failure when CloudTrail says so: an error code, or a failed ConsoleLogin."""
    failed = pl.lit(False)
    if "errorCode" in present:
        failed = failed | pl.col("errorCode").is_not_null()
    if "responseElements" in present:
        console_failed = (
            pl.col("responseElements").cast(pl.Utf8).str.contains('"ConsoleLogin":"Failure"')
        )
        failed = failed | console_failed.fill_null(False)
    for flat in ("responseElements.ConsoleLogin",):
        if flat in present:
            failed = failed | (pl.col(flat).cast(pl.Utf8) == "Failure").fill_null(False)
    ct_status = pl.when(failed).then(pl.lit("Failure")).otherwise(pl.lit("Success"))
    return (
        pl.when(pl.col("eventName").is_not_null())
        .then(ct_status)
        .otherwise(_col(present, ocsf.STATUS).cast(pl.Utf8))
    )


@lru_cache(maxsize=2)
def _authentication_expr(has_actor: bool) -> pl.Expr:
    """OCSF 3002 names the subject ``user``; give it the actor role too, for per-user features."""
    actor = pl.col(ocsf.USER_NAME) if has_actor else pl.lit(None)
    return pl.coalesce(actor, pl.col(ocsf.AUTH_USER)).cast(pl.Utf8).alias(ocsf.USER_NAME)


@lru_cache(maxsize=64)
def _time_expr(sources: tuple[tuple[str, pl.DataType], ...]) -> pl.Expr:
    """``time`` from the first of the time columns (name, type) that can be read."""
    return pl.coalesce(*[_to_datetime(dtype, name) for name, dtype in sources]).alias(ocsf.TIME)


def _to_datetime(dtype: pl.DataType, name: str) -> pl.Expr:
    utc = _UTC_MS
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return col.dt.replace_time_zone("UTC").cast(utc)
        return col.dt.convert_time_zone("UTC").cast(utc)
    if dtype.is_numeric():
        # Epoch seconds or milliseconds; OCSF uses ms. 1e11 s is the year 5138.
        value = col.cast(pl.Float64)
        ms = pl.when(value.abs() < 1e11).then(value * 1000).otherwise(value)
        low, high = EPOCH_MS_RANGE
        ms = pl.when(ms.is_between(low, high)).then(ms).otherwise(None).cast(pl.Int64)
        return pl.from_epoch(ms, time_unit="ms").dt.replace_time_zone("UTC")
    text = col.cast(pl.Utf8).str.strip_chars()
    attempts = [
        text.str.to_datetime(fmt, strict=False, time_zone="UTC", time_unit="ms")
        for fmt in _STRING_TIME_FORMATS
    ]
    return pl.coalesce(*attempts)


def _has_event_ids(table: pl.DataFrame, candidates: tuple[str, ...]) -> bool:
    """Whether ``event_id`` is already what :func:`_event_id_expr` would write: text, never
    null, and the source's own id wherever the table has one."""
    if ocsf.EVENT_ID not in candidates or "eventID" in candidates:
        return False
    ids = table.get_column(ocsf.EVENT_ID)
    if ids.dtype != pl.Utf8 or ids.null_count():
        return False
    if ocsf.EVENT_UID not in candidates:
        return True
    own = table.get_column(ocsf.EVENT_UID)
    # Exact matches only (Series.equals runs no query); a partly missing own id just means
    # the ids are computed again.
    return own.null_count() == len(own) or (own.dtype == pl.Utf8 and own.equals(ids))


@lru_cache(maxsize=16)
def _event_id_expr(candidates: tuple[str, ...]) -> pl.Expr:
    """A stable id per event: the source's own id (text), else null (hashed afterwards)."""
    own = [pl.col(c).cast(pl.Utf8) for c in candidates]
    return pl.coalesce(*own, pl.lit(None, dtype=pl.Utf8)).alias(ocsf.EVENT_ID)


def _location(table: pl.DataFrame) -> pl.Expr:
    """Where each record came from: file, line and rank within the line; else the row number."""
    if ocsf.SOURCE_FILE in table.columns and ocsf.SOURCE_LINE in table.columns:
        # One JSONL line can hold a {"Records": [...]} envelope: number records within a line.
        within = pl.int_range(pl.len()).over([ocsf.SOURCE_FILE, ocsf.SOURCE_LINE])
        parts = [
            pl.col(ocsf.SOURCE_FILE),
            pl.col(ocsf.SOURCE_LINE).cast(pl.Utf8),
            within.cast(pl.Utf8),
        ]
        return pl.concat_str(parts, separator=":")
    return pl.int_range(pl.len()).cast(pl.Utf8)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]
