"""Triage feedback: analysts' verdicts that unflag known-benign findings, without retraining.

A rule matches one finding by its ``finding_id`` (see :mod:`loghunt.explain.ids`) or every event
whose fields equal given values (several fields must all match; values are compared as text),
and carries an expiry date after which it no longer applies, so that a verdict is revisited
rather than silencing a pattern for ever. Matching events stay in the findings table, unflagged,
with the id of the rule that matched.

Rules are JSON (a list of rules, or ``{"rules": [...]}``)::

    [{"id": "ci-scanner", "match": {"src_endpoint.ip": "10.0.0.5"},
      "expires": "2026-12-31", "note": "the CI security scanner"},
     {"id": "fp-1", "finding_id": "3fa9c0d2e1b4a7f6", "expires": "2026-06-30"}]

or CSV with columns ``id``, ``finding_id``, ``expires``, ``note``; every other column is a field
to match, and empty cells are ignored.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from loghunt.errors import ConfigError, InputError

_CSV_META = ("id", "finding_id", "expires", "note")


class ExpiredRuleWarning(UserWarning):
    """A suppression rule is past its expiry date and was ignored."""


@dataclass(frozen=True)
class SuppressionRule:
    """One analyst verdict. ``expires`` is the last day the rule applies (UTC)."""

    id: str
    expires: date
    finding_id: str | None = None
    match: Mapping[str, str] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        if not self.finding_id and not self.match:
            raise ConfigError(f"suppression rule {self.id!r} needs a finding_id or a field match")

    def is_expired(self, today: date) -> bool:
        return today > self.expires


@dataclass(frozen=True)
class Suppressions:
    """Active rules (first match wins) and the expired ones that were left out.

    Examples
    --------
    >>> from datetime import date
    >>> rule = SuppressionRule("scanner", date(2099, 1, 1), match={"ip": "10.0.0.5"})
    >>> rules = Suppressions((rule,))
    >>> events = pl.DataFrame({"ip": ["10.0.0.5", "8.8.8.8"]})
    >>> rules.match(events, pl.Series(["a", "b"])).to_list()
    ['scanner', None]
    """

    rules: tuple[SuppressionRule, ...]
    expired: tuple[SuppressionRule, ...] = ()
    source: str | None = None

    def match(self, events: pl.DataFrame, finding_ids: pl.Series) -> pl.Series:
        """The id of the first active rule each event matches, or null."""
        ids = finding_ids.cast(pl.String)
        frame = events.with_columns(ids.alias("__lh_finding_id"))
        result: pl.Expr = pl.lit(None, dtype=pl.String)
        # Built back to front so that the first rule in the file wins.
        for rule in reversed(self.rules):
            result = (
                pl.when(_condition(rule, frame.columns)).then(pl.lit(rule.id)).otherwise(result)
            )
        return frame.select(result.alias("suppressed_by")).to_series()

    @property
    def warnings(self) -> list[str]:
        """One line per expired rule, for the terminal and summary.json."""
        return [
            f"suppression rule {r.id!r} expired on {r.expires} and was ignored"
            for r in self.expired
        ]


def _condition(rule: SuppressionRule, columns: Sequence[str]) -> pl.Expr:
    if rule.finding_id:
        return pl.col("__lh_finding_id") == rule.finding_id
    if any(name not in columns for name in rule.match):
        return pl.lit(False)  # a field the logs do not have matches nothing
    parts = [pl.col(name).cast(pl.String) == value for name, value in rule.match.items()]
    return pl.all_horizontal(parts).fill_null(False)


def read_suppressions(
    path: str | Path, today: date | None = None, warn: bool = True
) -> Suppressions:
    """Read rules from a JSON or CSV file; expired rules are set aside with a warning.

    ``warn=False`` leaves the warning to the caller (see :attr:`Suppressions.warnings`).
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read suppression rules: {exc}", file=str(path)) from exc
    raw = _csv_rules(text) if path.suffix.lower() == ".csv" else _json_rules(text, path)
    rules = [_rule(item, i, path) for i, item in enumerate(raw)]
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise InputError("suppression rule ids must be unique", file=str(path))
    today = today or datetime.now(UTC).date()
    result = Suppressions(
        rules=tuple(r for r in rules if not r.is_expired(today)),
        expired=tuple(r for r in rules if r.is_expired(today)),
        source=str(path),
    )
    if warn:
        for line in result.warnings:
            warnings.warn(line, ExpiredRuleWarning, stacklevel=2)
    return result


def _json_rules(text: bytes, path: Path) -> list[Any]:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", file=str(path)) from exc
    if isinstance(data, dict):
        data = data.get("rules")
    if not isinstance(data, list):
        raise InputError('expected a list of rules or {"rules": [...]}', file=str(path))
    return data


def _csv_rules(text: bytes) -> list[dict[str, Any]]:
    rows = csv.DictReader(text.decode("utf-8-sig").splitlines())
    out = []
    for row in rows:
        item: dict[str, Any] = {k: v for k, v in row.items() if k in _CSV_META and v}
        item["match"] = {k: v for k, v in row.items() if k and k not in _CSV_META and v}
        out.append(item)
    return out


def _rule(item: Any, position: int, path: Path) -> SuppressionRule:
    where = f"rule {position + 1}"
    if not isinstance(item, dict):
        raise InputError(f"{where} is not an object", file=str(path))
    match = item.get("match") or {}
    if not isinstance(match, dict):
        raise InputError(f"{where}: match must map field names to values", file=str(path))
    finding_id = item.get("finding_id")
    try:
        return SuppressionRule(
            id=str(item.get("id") or f"rule-{position + 1}"),
            expires=_date(item.get("expires"), where),
            finding_id=None if finding_id in (None, "") else str(finding_id),
            match={str(k): _text(v) for k, v in match.items()},
            note=str(item.get("note") or ""),
        )
    except ConfigError as exc:
        raise InputError(f"{where}: {exc}", file=str(path)) from exc


def _date(value: Any, where: str) -> date:
    if not value:
        raise ConfigError("every rule needs an expiry date (expires: YYYY-MM-DD)")
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise ConfigError(f"expires must be a date YYYY-MM-DD, got {value!r}") from exc


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
