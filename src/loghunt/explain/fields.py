"""From feature columns back to the input fields they came from, in an analyst's words.

Each feature of the :class:`~loghunt.features.Featurizer` is mapped to a reason kind, the field
the reason names, the tail side that makes it unusual, and a vectorised describer that turns the
feature values of many explained events into the event's value, the baseline's typical value or
range, and one sentence comparing them. Numbers are decoded from the feature matrix itself
(rarity back to a count, scaled windows back to event counts), so describing ten thousand
findings costs array operations and one formatted sentence per reason, no lookup per finding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.explain.tails import BOTH, RIGHT, SKIP, FeatureTails
from loghunt.features import Featurizer
from loghunt.features.categorical import CategoricalColumn, PairColumns
from loghunt.features.numeric import BooleanColumn, NumericColumn, RobustScaler
from loghunt.features.strings import StringColumn
from loghunt.features.timefeat import UTC_MS, TimeFeatures, to_utc_datetime
from loghunt.features.windows import (
    BRUTE_FORCE_MIN_FAILURES,
    BRUTE_FORCE_WINDOW,
    WindowFeatures,
)

# Reason kinds (the ``kind`` of a structured reason).
FEATURE = "feature"
RARITY = "rarity"
FIRST_SEEN = "first_seen"
TIME_OF_DAY = "time_of_day"
FAILURES_BEFORE = "failures_before"
ACTIVITY = "activity"
DETECTORS = "detectors"
#: Share of a user's baseline events the "usual hours" window must hold.
USUAL_HOURS_SHARE = 0.95
_MAX_VALUE_CHARS = 80
#: Up to this many rows, null masks are read in Python (explained events): cheaper than a query.
_FEW_ROWS = 1_000
#: Up to this many events, a batch's column is read whole and the explained events picked from
#: it in Python; above, the explained events are gathered first (one gather: ~0.1 ms).
PICK_ROWS = 256
_STAT_FORMAT = {
    "length": "{:.0f} characters",
    "entropy": "{:.2f} bits of entropy per byte",
    "digit_ratio": "{:.0%} digits",
}

Texts = tuple[list[str], list[str], list[str]]  # values, typical values, sentences
Ints = NDArray[np.int64]


@dataclass
class Context:
    """What describers read: the explained events' features and raw values, the baseline."""

    Xq: NDArray[np.float32]
    events: pl.DataFrame  # the batch's events
    rows: Ints  # the explained events' rows of ``events``, in the order of Xq's rows
    featurizer: Featurizer
    tails: FeatureTails
    index_of: dict[str, int]
    _cache: dict[str, list[Any]] = field(default_factory=dict)
    _explained: pl.DataFrame | None = None

    def values(self, column: str) -> list[Any]:
        """The explained events' values of one input column (None where absent)."""
        if column not in self._cache:
            series = self.events.get_column(column, default=None)
            if series is None:
                self._cache[column] = [None] * self.rows.size
            elif self.events.height <= PICK_ROWS:
                values = series.to_list()
                self._cache[column] = [values[r] for r in self.rows.tolist()]
            else:
                self._cache[column] = self.explained().get_column(column).to_list()
        return self._cache[column]

    def present(self, columns: list[str]) -> dict[str, NDArray[np.bool_]]:
        """Which explained events hold a value in each of ``columns`` (see
        :func:`present_masks`)."""
        if self.events.height <= PICK_ROWS:
            return {c: m[self.rows] for c, m in present_masks(self.events, columns).items()}
        return present_masks(self.explained(), columns)

    def explained(self) -> pl.DataFrame:
        """The explained events, in the order of Xq's rows (gathered on first use)."""
        if self._explained is None:
            self._explained = self.events[self.rows]
        return self._explained

    def pick(self, column: str, qs: Ints) -> list[Any]:
        """The values of one input column at the explained positions ``qs``."""
        values = self.values(column)
        return [values[q] for q in qs.tolist()]


Describer = Callable[[Context, int, Ints], Texts]


@dataclass(frozen=True)
class FeatureMeta:
    """How one feature column is explained."""

    index: int
    name: str
    kind: str
    field: str
    side: str
    describe: Describer
    #: Field whose absence makes the feature hold a placeholder (judged among present values).
    presence: str | None = None
    #: A text statistic of a field whose value's own rarity is also a feature: weaker evidence.
    secondary: bool = False


def describe_features(featurizer: Featurizer) -> list[FeatureMeta]:
    """One :class:`FeatureMeta` per feature column of a fitted featurizer."""
    owners = featurizer.feature_owners()
    metas = [_meta(featurizer, j, family, name) for j, (family, name) in enumerate(owners)]
    rare = {f.column for f, _ in owners if isinstance(f, CategoricalColumn)}
    return [
        replace(m, secondary=True) if isinstance(f, StringColumn) and m.field in rare else m
        for m, (f, _) in zip(metas, owners, strict=True)
    ]


def _meta(featurizer: Featurizer, j: int, family: Any, name: str) -> FeatureMeta:
    if isinstance(family, CategoricalColumn):
        return FeatureMeta(j, name, RARITY, family.column, RIGHT, _categorical(family))
    if isinstance(family, PairColumns):
        kind = FIRST_SEEN if name.startswith("first_seen:") else RARITY
        verb = _verb(featurizer, family.right)
        return FeatureMeta(j, name, kind, family.right, RIGHT, _pair(family, kind, verb))
    if isinstance(family, TimeFeatures):
        side = SKIP if name in ("time:hour_sin", "time:hour_cos") else RIGHT
        return FeatureMeta(j, name, TIME_OF_DAY, family.column, side, _time(family, name))
    if isinstance(family, WindowFeatures):
        _, entity, stat = name.rsplit(":", 2)
        if stat in ("failures_1h", "success_after_failures"):
            # Failures are read from the outcome field; the entity is named in the sentence.
            outcome = featurizer.roles_.status or entity
            describe = _window(family, name, entity, stat, outcome)
            return FeatureMeta(j, name, FAILURES_BEFORE, outcome, RIGHT, describe)
        describe = _window(family, name, entity, stat, entity)
        return FeatureMeta(j, name, ACTIVITY, entity, RIGHT, describe)
    if isinstance(family, NumericColumn | BooleanColumn | StringColumn):
        side = RIGHT if name.startswith("missing:") else BOTH
        placeholder = isinstance(family, StringColumn) or name.startswith("num:")
        presence = family.column if placeholder else None
        describe = _column(family, name)
        return FeatureMeta(j, name, FEATURE, family.column, side, describe, presence)
    group = next(g for g, idx in featurizer.feature_groups_.items() if j in idx)
    return FeatureMeta(j, name, FEATURE, group, BOTH, _fallback(featurizer, group))


def present_masks(events: pl.DataFrame, columns: Iterable[str]) -> dict[str, NDArray[np.bool_]]:
    """Rows of ``events`` where each of ``columns`` holds a value (not null, not NaN).

    Float columns are read as arrays (nulls become NaN) and columns without nulls need no
    look; the others are read in Python when ``events`` is small (a live batch, or the
    explained events of a larger one), else in one query.

    >>> events = pl.DataFrame({"a": [1.0, None, float("nan")], "b": ["x", None, "y"]})
    >>> {c: m.tolist() for c, m in present_masks(events, ["a", "b", "c"]).items()}
    {'a': [True, False, False], 'b': [True, False, True], 'c': [False, False, False]}
    """
    wanted = list(dict.fromkeys(columns))
    known = set(events.columns)
    masks: dict[str, NDArray[np.bool_]] = {}
    nullable = []
    for column in wanted:
        if column not in known:
            masks[column] = np.zeros(events.height, dtype=bool)
            continue
        series = events.get_column(column)
        if series.dtype.is_float():
            masks[column] = np.isfinite(series.to_numpy())
        elif series.null_count() == 0:
            masks[column] = np.ones(events.height, dtype=bool)
        else:
            nullable.append(column)
    if nullable and events.height <= _FEW_ROWS:  # a polars query costs ~100 us
        for column in nullable:
            values = events.get_column(column).to_list()
            masks[column] = np.array([v is not None for v in values], dtype=bool)
    elif nullable:
        found = events.select(pl.col(nullable).is_not_null())
        masks.update({c: found.get_column(c).to_numpy().astype(bool) for c in nullable})
    return {c: masks[c] for c in wanted}


def _verb(featurizer: Featurizer, column: str) -> str:
    roles = featurizer.roles_
    verbs = {roles.operation: "called", roles.src_ip: "came from", roles.user_agent: "used"}
    return verbs.get(column, "had")


# -- categorical rarity --------------------------------------------------------------------------
def decode_counts(rarity: NDArray[np.floating[Any]], n: int) -> Ints:
    """Invert ``rarity = log10((n + 1) / (count + 1))``: the baseline count of each value.

    >>> decode_counts(np.array([0.0, np.log10(101 / 2)]), 100).tolist()
    [100, 1]
    """
    counts = (n + 1.0) * np.power(10.0, -np.asarray(rarity, dtype=np.float64)) - 1.0
    return np.minimum(np.maximum(np.rint(counts), 0), n).astype(np.int64)


def _categorical(family: CategoricalColumn) -> Describer:
    def describe(ctx: Context, j: int, qs: Ints) -> Texts:
        n = family.counts.n
        *counts, typical = _decode_with_typical(ctx, j, qs, n)
        shown = [show(v) for v in ctx.pick(family.column, qs)]
        usual = _times(typical)
        texts = [
            f"{family.column} {v} {_seen(c)} in {n:,} baseline events "
            f"(a typical event's value: {usual})"
            for v, c in zip(shown, counts, strict=True)
        ]
        return shown, [f"{usual} in {n:,}"] * len(qs), texts

    return describe


def _pair(family: PairColumns, kind: str, verb: str) -> Describer:
    count_feature = f"pair_rarity:{family.key}"

    def describe(ctx: Context, j: int, qs: Ints) -> Texts:
        n = family.counts.n
        *counts, typical = _decode_with_typical(ctx, ctx.index_of[count_feature], qs, n)
        lefts = [show(v) for v in ctx.pick(family.left, qs)]
        rights = [show(v) for v in ctx.pick(family.right, qs)]
        texts = []
        for left, right, count in zip(lefts, rights, counts, strict=True):
            who = f"{family.left} {left} {verb} {family.right} {right}"
            if kind == FIRST_SEEN:
                texts.append(f"first time {who} (pair {_seen(count)} in {n:,} baseline events)")
            else:
                texts.append(
                    f"{who}: pair {_seen(count)} in {n:,} baseline events "
                    f"(a typical pair: {_times(typical)})"
                )
        typical_text = "a pair seen before" if kind == FIRST_SEEN else f"{_times(typical)} in {n:,}"
        return rights, [typical_text] * len(qs), texts

    return describe


def _decode_with_typical(ctx: Context, j: int, qs: Ints, n: int) -> list[int]:
    """Baseline counts of feature ``j``'s values at ``qs``, then of its baseline median."""
    rarity = np.append(ctx.Xq[qs, j], ctx.tails.median[j])
    counts: list[int] = decode_counts(rarity, n).tolist()
    return counts


# -- time of day ------------------------------------------------------------------------------
def usual_hours(counts: NDArray[np.int64], share: float = USUAL_HOURS_SHARE) -> Ints:
    """Start and end hour of the shortest daily window holding ``share`` of each row's events.

    ``counts`` is (rows, 24); the result is (rows, 2) with ``end`` exclusive, modulo 24.

    >>> hist = np.zeros((1, 24), dtype=np.int64); hist[0, 8:18] = 10
    >>> usual_hours(hist).tolist()
    [[8, 18]]
    """
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    doubled = np.concatenate([counts, counts], axis=1)
    cumsum = np.concatenate([np.zeros((counts.shape[0], 1)), doubled.cumsum(axis=1)], axis=1)
    out = np.zeros((counts.shape[0], 2), dtype=np.int64)
    found = np.zeros(counts.shape[0], dtype=bool)
    for length in range(1, 25):
        window = cumsum[:, length : length + 24] - cumsum[:, :24]  # windows starting 0..23
        best = window.argmax(axis=1)
        ok = ~found & (window.max(axis=1) >= share * totals[:, 0] - 1e-9)
        out[ok, 0] = best[ok]
        out[ok, 1] = (best[ok] + length) % 24
        found |= ok
    return out


def _time(family: TimeFeatures, name: str) -> Describer:
    profile = family.profile
    table = np.vstack([profile.counts, profile.total[None, :]])
    hours = usual_hours(table)
    rows_of = {u: i for i, u in enumerate(profile.users)}

    def describe(ctx: Context, j: int, qs: Ints) -> Texts:
        if name.startswith("missing:"):
            share = ctx.tails.mean[j]
            texts = [f"{family.column} is missing ({share:.1%} of baseline events miss it)"]
            return ["missing"] * len(qs), [f"{1 - share:.1%} present"] * len(qs), texts * len(qs)
        parsed = _utc_times(ctx, family.column, qs)
        if name == "time:weekend":
            share = float(ctx.tails.mean[j])
            days = [_day(t) for t in parsed]
            texts = [f"event on a {d} ({share:.0%} of baseline events on weekends)" for d in days]
            return days, [f"{1 - share:.0%} on weekdays"] * len(qs), texts
        users = ctx.pick(family.user, qs) if family.user else [None] * len(qs)
        values, typicals, texts = [], [], []
        for when, user in zip(parsed, users, strict=True):
            row = rows_of.get(user, len(profile.users))
            start, end = hours[row].tolist()
            span = f"{start:02d}:00-{end:02d}:00 UTC"
            who = f"{family.user} {show(user)}" if row < len(profile.users) else "all users"
            at = "unknown time" if when is None else f"{when:%H:%M} UTC"
            values.append(at)
            typicals.append(span)
            texts.append(f"event at {at} while {who} is usually active {span}")
        return values, typicals, texts

    return describe


def _utc_times(ctx: Context, column: str, qs: Ints) -> list[datetime | None]:
    """The times in ``column`` of the explained events at ``qs``, in UTC."""
    values = ctx.pick(column, qs)
    series = ctx.events.get_column(column, default=None)
    if series is not None and series.dtype == UTC_MS:  # parsed already: no query to run
        return values
    parsed: list[datetime | None] = to_utc_datetime(pl.Series(column, values)).to_list()
    return parsed


def _day(when: datetime | None) -> str:
    return "unknown day" if when is None else f"{when:%A}"


# -- entity windows ------------------------------------------------------------------------------
_WINDOW_TEXT = {
    "events_1h": "{n} events for {who} in the hour up to this one",
    "failures_1h": "{field}: {n} failures for {who} in the hour up to this one",
    "distinct_ips_1d": "{n} distinct source IPs for {who} that day",
    "distinct_users_1d": "{n} distinct users from {who} that day",
}


def unscale(scaler: RobustScaler, scaled: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """Invert a :class:`RobustScaler` (up to its clipping): values in the column's own units.

    >>> s = RobustScaler(center=3.0, scale=2.0, log=False)
    >>> unscale(s, np.array([0.0, 1.0])).tolist()
    [3.0, 5.0]
    """
    x = scaler.center + scaler.scale * np.asarray(scaled, dtype=np.float64)
    return np.sign(x) * np.expm1(np.abs(x)) if scaler.log else x


def _window(family: WindowFeatures, name: str, entity: str, stat: str, field: str) -> Describer:
    scaler = family.scalers.get(name)

    def describe(ctx: Context, j: int, qs: Ints) -> Texts:
        who = [f"{entity} {show(v)}" for v in ctx.pick(entity, qs)]
        if scaler is None:  # the success-after-failures flag
            share = float(ctx.tails.mean[j])
            rule = (
                f"{field}: success after {BRUTE_FORCE_MIN_FAILURES}+ failures "
                f"within {BRUTE_FORCE_WINDOW}"
            )
            texts = [f"{rule} for {w} ({share:.1%} of baseline events)" for w in who]
            return ["yes"] * len(qs), [f"{share:.1%} of baseline events"] * len(qs), texts
        counts = np.rint(unscale(scaler, ctx.Xq[qs, j])).astype(np.int64).tolist()
        typical = f"typical: {scaler.raw_median:g}"
        template = _WINDOW_TEXT[stat]
        texts = [
            template.format(n=f"{c:,}", who=w, field=field) + f" ({typical})"
            for c, w in zip(counts, who, strict=True)
        ]
        return [f"{c:,}" for c in counts], [typical] * len(qs), texts

    return describe


# -- plain columns -------------------------------------------------------------------------------
def _column(family: NumericColumn | BooleanColumn | StringColumn, name: str) -> Describer:
    column = family.column

    def describe(ctx: Context, j: int, qs: Ints) -> Texts:
        values = ctx.pick(column, qs)
        if name.startswith("missing:"):
            share = float(ctx.tails.mean[j])
            state = ["missing" if _missing(v) else "present" for v in values]
            texts = [f"{column} is {s} ({share:.1%} of baseline events miss it)" for s in state]
            return state, [f"{share:.1%} missing"] * len(qs), texts
        if isinstance(family, BooleanColumn):
            share = float(ctx.tails.mean[j])
            typical = f"true in {share:.0%} of baseline events"
            texts = [f"{column} is {show(v)} ({typical})" for v in values]
            return [show(v) for v in values], [typical] * len(qs), texts
        if isinstance(family, NumericColumn):
            s = family.scaler
            typical = f"median {s.raw_median:g}, IQR {s.raw_iqr:g}"
            texts = [f"{column} = {show(v)} (baseline {typical})" for v in values]
            return [show(v) for v in values], [typical] * len(qs), texts
        stat = name.rsplit(":", 1)[-1]
        scaler = family.scalers[stat]
        raw = np.maximum(unscale(scaler, ctx.Xq[qs, j]), 0.0).tolist()
        unit = _STAT_FORMAT.get(stat, "{:.3g}")
        typical = "typical " + unit.format(scaler.raw_median)
        texts = [
            f"{column} has {unit.format(r)} ({typical}): {show(v)}"
            for r, v in zip(raw, values, strict=True)
        ]
        return [unit.format(r) for r in raw], [typical] * len(qs), texts

    return describe


def _fallback(featurizer: Featurizer, group: str) -> Describer:
    """Families this module does not know: the featurizer's own sentence, one event at a time."""

    def describe(ctx: Context, j: int, qs: Ints) -> Texts:
        rows = ctx.explained()[qs].to_dicts()
        texts = [featurizer.describe_value(j, row) for row in rows]
        values = [show(row.get(group)) for row in rows]
        return values, [""] * len(qs), texts

    return describe


# -- formatting ------------------------------------------------------------------------------
def show(value: Any) -> str:
    """A log value quoted for a sentence, shortened; control characters become ``?``."""
    if type(value) is not str:  # text, the common case, needs none of these checks
        if value is None:
            return "null"
        if isinstance(value, datetime):
            return f"{value:%Y-%m-%d %H:%M:%S}"
        if isinstance(value, bool | int | float):
            return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return f'"{text}"'


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count:,} times"


def _seen(count: int) -> str:
    return "never seen" if count == 0 else f"seen {_times(count)}"


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return not np.isfinite(float(value))
    except (TypeError, ValueError):
        return False
