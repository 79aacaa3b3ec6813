"""Automatic field selection: which input columns become features, as what kind, and why not."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

import polars as pl

from loghunt.errors import ConfigError
from loghunt.features.timefeat import to_utc_datetime
from loghunt.schema.roles import FieldRoles, infer_roles

#: A string column with more distinct values than this, and more than NEAR_UNIQUE_RATIO of the
#: rows, identifies events rather than describing them.
NEAR_UNIQUE_MIN = 1000
NEAR_UNIQUE_RATIO = 0.5
#: Identifier-looking names (request_id, uid, ARN ...) are dropped at a lower bar, since such a
#: column is only a category when its values repeat a lot (an account id, an access key).
ID_RATIO = 0.5
#: String columns longer than TEXT_MIN_LENGTH on average with more than TEXT_LONG_MIN_DISTINCT
#: values, or with more than TEXT_MIN_DISTINCT values, are free text; the distinct-count bar
#: keeps short vocabularies such as service names ("iam.amazonaws.com") plain categories.
TEXT_MIN_LENGTH = 12.0
TEXT_LONG_MIN_DISTINCT = 50
TEXT_MIN_DISTINCT = 200
SAMPLE_SIZE = 1000

_ID_NAME = re.compile(
    r"(uid|uuid|guid|id|arn|record_?number|seq(uence)?_?(num|number)?|line_?(number|no))$"
)
# Integer columns named like codes (ports, event ids, logon types) are categories: their
# numeric order means nothing.
_CODE_NAME = re.compile(r"(port|_p|code|type|id|status|level|class|category|kind|proto|protocol)$")
_TIMESTAMP = r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"
# A JSON object or array; a GUID in braces ("{5770385F-...}") is not one.
_JSON = r"^\s*(\{\s*[\"}]|\[)"
_CATEGORY_ROLES = ("user", "src_ip", "operation", "status", "host")
# Roles read by time and window features even when the column is constant in the fit data.
_READ_ROLES = ("user", "src_ip", "status")


@dataclass(frozen=True)
class Selection:
    """The outcome of field selection: kinds of used columns, roles, and excluded columns."""

    kinds: dict[str, str]
    roles: FieldRoles
    excluded: dict[str, str]


def select_fields(
    df: pl.DataFrame,
    *,
    fields: list[str] | tuple[str, ...] | None,
    exclude: list[str] | tuple[str, ...],
    random_state: int,
) -> Selection:
    """Choose the input columns and their kinds; record why the others were left out."""
    excluded: dict[str, str] = {}
    if fields is not None:
        missing = [f for f in fields if f not in df.columns]
        if missing:
            raise ConfigError(f"fields not in the data: {', '.join(missing)}")
        candidates = list(dict.fromkeys(fields))
    else:
        candidates = list(df.columns)
    for name in exclude:
        if name in candidates:
            candidates.remove(name)
            excluded[name] = "excluded by caller"
    roles = _with_time_fallback(df, infer_roles(candidates), candidates)
    kinds: dict[str, str] = {}
    for name in candidates:
        kind, reason = classify_column(
            df.get_column(name), roles, automatic=fields is None, random_state=random_state
        )
        if kind is None:
            excluded[name] = reason
        else:
            kinds[name] = kind
    return Selection(kinds=kinds, roles=restrict_roles(roles, kinds), excluded=excluded)


def restrict_roles(roles: FieldRoles, kinds: dict[str, str]) -> FieldRoles:
    """Roles whose column is not among the used columns are dropped."""
    changes = {f.name: None for f in fields(roles) if getattr(roles, f.name) not in kinds}
    return replace(roles, **changes)


def role_of(name: str, roles: FieldRoles) -> str | None:
    """The first role that column ``name`` plays, if any."""
    return next((f.name for f in fields(roles) if getattr(roles, f.name) == name), None)


def classify_column(
    series: pl.Series, roles: FieldRoles, *, automatic: bool, random_state: int
) -> tuple[str | None, str]:
    """The kind of one column, or ``(None, reason)`` when it should not become features."""
    name, dtype = series.name, series.dtype
    role = role_of(name, roles)
    if dtype == pl.Null or series.null_count() == len(series) > 0:
        return None, "all null"
    if not _supported(dtype):
        return None, f"unsupported type {dtype}"
    if role == "time":
        parsed = to_utc_datetime(series)
        if parsed.null_count() == len(parsed):
            return None, "time column could not be parsed"
        return "time", ""
    if automatic and name.startswith("_"):
        return None, "internal column"
    if automatic and role == "event_id":
        return None, "event identifier"
    if isinstance(dtype, pl.Datetime | pl.Date | pl.Time):
        return None, "timestamp other than the time column"
    if automatic and len(series) >= 2 and series.n_unique() <= 1:
        return ("role", "") if role in _READ_ROLES else (None, "constant")
    if dtype == pl.Boolean:
        return "boolean", ""
    if isinstance(dtype, pl.Duration) or dtype.is_numeric():
        return _classify_numeric(series, role, automatic=automatic)
    return _classify_string(series, role, automatic=automatic, random_state=random_state)


def _supported(dtype: pl.DataType) -> bool:
    """Flat types only: nested values (lists, structs) and Python objects are left out."""
    if dtype in (pl.String, pl.Categorical, pl.Boolean) or dtype.is_numeric():
        return True
    return isinstance(dtype, pl.Enum | pl.Datetime | pl.Date | pl.Time | pl.Duration)


def _classify_numeric(
    series: pl.Series, role: str | None, *, automatic: bool
) -> tuple[str | None, str]:
    if not series.dtype.is_integer():
        return "numeric", ""
    if automatic and role is None and _is_identifier(series):
        return None, f"identifier ({series.n_unique()} distinct in {len(series)} rows)"
    if role in _CATEGORY_ROLES or _CODE_NAME.search(_last_segment(series.name)):
        return "categorical", ""
    return "numeric", ""


def _is_identifier(series: pl.Series) -> bool:
    """An id-like name (request_id, uid, LineId, RecordNumber ...) whose values rarely repeat,
    or an integer row counter."""
    n_rows = len(series)
    if n_rows < 2 or series.n_unique() <= ID_RATIO * n_rows:
        return False
    if _ID_NAME.search(_last_segment(series.name)) is not None:
        return True
    return series.dtype.is_integer() and n_rows >= 20 and _is_row_counter(series)


def _is_row_counter(series: pl.Series) -> bool:
    """Consecutive distinct integers in order: a row number, not a measurement."""
    low, high = series.min(), series.max()
    if not isinstance(low, int) or not isinstance(high, int) or series.null_count():
        return False
    return high - low == len(series) - 1 and series.n_unique() == len(series) and series.is_sorted()


def _classify_string(
    series: pl.Series, role: str | None, *, automatic: bool, random_state: int
) -> tuple[str | None, str]:
    text = series.cast(pl.String)
    n_rows = len(text)
    n_unique = text.n_unique()
    near_unique = n_unique > NEAR_UNIQUE_MIN and n_unique > NEAR_UNIQUE_RATIO * n_rows
    sample = _sample(text, random_state)
    if role in _CATEGORY_ROLES or role == "user_agent":
        if automatic and near_unique:
            return None, f"near-unique ({n_unique} distinct in {n_rows} rows)"
        return ("text" if role == "user_agent" else "categorical"), ""
    if _share(sample, _JSON) >= 0.9:
        return "json", ""
    if automatic:
        if _is_identifier(text):
            return None, f"identifier ({n_unique} distinct in {n_rows} rows)"
        if _share(sample, _TIMESTAMP) >= 0.9:
            return None, "timestamp string"
        if near_unique and _share(sample, r"\s") >= 0.5:
            # Log messages rarely repeat exactly, yet their shape (length, digits) tells.
            return "freetext", ""
        if near_unique:
            return None, f"near-unique ({n_unique} distinct in {n_rows} rows)"
    lengths = sample.str.len_chars().cast(pl.Float64).to_numpy()
    long_text = lengths.size > 0 and float(lengths.mean()) > TEXT_MIN_LENGTH
    if (long_text and n_unique > TEXT_LONG_MIN_DISTINCT) or n_unique > TEXT_MIN_DISTINCT:
        return "text", ""
    return "categorical", ""


def _with_time_fallback(df: pl.DataFrame, roles: FieldRoles, candidates: list[str]) -> FieldRoles:
    """Use the first Datetime column as the time when no column has a time-like name."""
    if roles.time is not None:
        return roles
    for name in candidates:
        if isinstance(df.schema[name], pl.Datetime):
            return replace(roles, time=name)
    return roles


def _sample(text: pl.Series, random_state: int) -> pl.Series:
    values = text.drop_nulls()
    if len(values) > SAMPLE_SIZE:
        values = values.sample(n=SAMPLE_SIZE, seed=random_state)
    return values


def _share(sample: pl.Series, pattern: str) -> float:
    if len(sample) == 0:
        return 0.0
    return float(sample.str.contains(pattern).sum()) / len(sample)


def _last_segment(name: str) -> str:
    """'actor.user.uid' -> 'uid', 'requestID' -> 'requestid', 'id.resp_p' -> 'resp_p'."""
    return name.rsplit(".", 1)[-1].lower().replace(" ", "_")
