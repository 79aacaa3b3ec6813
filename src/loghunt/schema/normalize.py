"""Map source tables to OCSF-shaped columns (see :mod:`loghunt.schema.ocsf`).

CloudTrail rows become API Activity (class 6003); OCSF rows pass through; any other table is used
as it is. Mixed tables (CloudTrail files beside OCSF authentication files) are mapped row by row
with ``coalesce``, so each row takes whichever source columns it has.
"""

from __future__ import annotations

import hashlib

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
    return {"eventName", "eventSource"} <= set(table.columns)


def normalize(table: pl.DataFrame) -> pl.DataFrame:
    """Return the table with OCSF columns, a parsed ``time`` and a stable ``event_id``.

    >>> import polars as pl
    >>> raw = pl.DataFrame({"eventName": ["GetObject"], "eventSource": ["s3.amazonaws.com"],
    ...                     "eventTime": ["2026-03-02T10:00:00Z"], "eventID": ["e-1"]})
    >>> normalize(raw).select("api.operation", "event_id").row(0)
    ('GetObject', 'e-1')

    Values that cannot be read (a time of ``1e308``, a class ``"x"``) become null, so the event
    still scores; a table that cannot be mapped at all raises :class:`InputError`.
    """
    try:
        if is_cloudtrail(table):
            table = _map_cloudtrail(table)
        table = _map_ocsf_authentication(table)
        table = _parse_time(table)
        return _add_event_id(table)
    except pl.exceptions.PolarsError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"cannot map the events to OCSF columns: {reason}") from exc


def _col(table: pl.DataFrame, name: str) -> pl.Expr:
    """The column if the table has it, else a null literal (so coalesce works on any table)."""
    return pl.col(name) if name in table.columns else pl.lit(None)


def _map_cloudtrail(table: pl.DataFrame) -> pl.DataFrame:
    exprs: list[pl.Expr] = []
    for source, target in _CLOUDTRAIL_RENAMES.items():
        if source in table.columns:
            exprs.append(pl.coalesce(_col(table, target), pl.col(source)).alias(target))
    if "sourceIPAddress" in table.columns:
        address = pl.col("sourceIPAddress").cast(pl.Utf8)
        is_ip = address.str.contains(_IP_PATTERN).fill_null(False)
        exprs.append(
            pl.coalesce(_col(table, ocsf.SRC_IP), pl.when(is_ip).then(address)).alias(ocsf.SRC_IP)
        )
        exprs.append(pl.when(~is_ip).then(address).alias(ocsf.SRC_DOMAIN))
    if "userIdentity.invokedBy" in table.columns:
        exprs.append(pl.col("userIdentity.invokedBy").cast(pl.Utf8).alias(ocsf.INVOKED_BY))
    exprs.append(_user_name(table).alias(ocsf.USER_NAME))
    if _MFA_SOURCE in table.columns:
        mfa = pl.col(_MFA_SOURCE).cast(pl.Utf8).str.to_lowercase() == "true"
        exprs.append(pl.coalesce(_col(table, ocsf.SESSION_MFA), mfa).alias(ocsf.SESSION_MFA))
    exprs.append(_cloudtrail_status(table).alias(ocsf.STATUS))
    is_ct = pl.col("eventName").is_not_null()
    exprs.append(
        pl.when(is_ct)
        .then(pl.lit(CLOUDTRAIL_CLASS_UID))
        .otherwise(_col(table, ocsf.CLASS_UID))
        .cast(pl.Int64, strict=False)  # an unreadable class ("x") is unknown
        .alias(ocsf.CLASS_UID)
    )
    exprs.append(
        pl.when(is_ct)
        .then(pl.lit("CloudTrail"))
        .otherwise(_col(table, ocsf.PRODUCT))
        .cast(pl.Utf8)
        .alias(ocsf.PRODUCT)
    )
    mapped = table.with_columns(exprs)
    targets = set(_CLOUDTRAIL_RENAMES.values())
    drop = [
        c
        for c in table.columns
        if _is_cloudtrail_source(c) and c not in _CLOUDTRAIL_KEEP and c not in targets
    ]
    return mapped.drop(drop)


def _user_name(table: pl.DataFrame) -> pl.Expr:
    """The principal: IAM user name, else the role; for IAM Identity Center (SSO) roles the
    person is the session name, since one permission-set role is shared by many people."""
    name = pl.coalesce(
        _col(table, ocsf.USER_NAME), *[_col(table, s) for s in _USER_NAME_SOURCES]
    ).cast(pl.Utf8)
    if "userIdentity.arn" not in table.columns:
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


def _cloudtrail_status(table: pl.DataFrame) -> pl.Expr:
    """Failure when CloudTrail says so: an error code, or a failed ConsoleLogin."""
    failed = pl.lit(False)
    if "errorCode" in table.columns:
        failed = failed | pl.col("errorCode").is_not_null()
    if "responseElements" in table.columns:
        console_failed = (
            pl.col("responseElements").cast(pl.Utf8).str.contains('"ConsoleLogin":"Failure"')
        )
        failed = failed | console_failed.fill_null(False)
    for flat in ("responseElements.ConsoleLogin",):
        if flat in table.columns:
            failed = failed | (pl.col(flat).cast(pl.Utf8) == "Failure").fill_null(False)
    ct_status = pl.when(failed).then(pl.lit("Failure")).otherwise(pl.lit("Success"))
    return (
        pl.when(pl.col("eventName").is_not_null())
        .then(ct_status)
        .otherwise(_col(table, ocsf.STATUS).cast(pl.Utf8))
    )


def _map_ocsf_authentication(table: pl.DataFrame) -> pl.DataFrame:
    """OCSF 3002 names the subject ``user``; give it the actor role too, for per-user features."""
    if ocsf.AUTH_USER not in table.columns:
        return table
    return table.with_columns(
        pl.coalesce(_col(table, ocsf.USER_NAME), pl.col(ocsf.AUTH_USER))
        .cast(pl.Utf8)
        .alias(ocsf.USER_NAME)
    ).drop(ocsf.AUTH_USER)


def _parse_time(table: pl.DataFrame) -> pl.DataFrame:
    sources = [c for c in (ocsf.TIME, *_TIME_SOURCES) if c in table.columns]
    if not sources:
        return table
    schema = table.schema  # built anew on each access
    parsed = pl.coalesce(*[_to_datetime(schema[c], c) for c in sources])
    drop = [c for c in sources if c != ocsf.TIME]
    return table.with_columns(parsed.alias(ocsf.TIME)).drop(drop)


def _to_datetime(dtype: pl.DataType, name: str) -> pl.Expr:
    utc = pl.Datetime("ms", "UTC")
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


def _add_event_id(table: pl.DataFrame) -> pl.DataFrame:
    """A stable id per event: the source's own id, else a hash of where the record came from."""
    candidates = [c for c in (ocsf.EVENT_UID, "eventID", "event_id", "uid") if c in table.columns]
    own = [pl.col(c).cast(pl.Utf8) for c in candidates]
    table = table.with_columns(pl.coalesce(*own, pl.lit(None, dtype=pl.Utf8)).alias(ocsf.EVENT_ID))
    if table.get_column(ocsf.EVENT_ID).null_count() == 0:
        return table
    # Hashing runs in Python: only for the events without an id of their own.
    missing = pl.when(pl.col(ocsf.EVENT_ID).is_null()).then(_location(table))
    fallback = missing.map_elements(_short_hash, return_dtype=pl.Utf8)
    return table.with_columns(pl.coalesce(pl.col(ocsf.EVENT_ID), fallback).alias(ocsf.EVENT_ID))


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
