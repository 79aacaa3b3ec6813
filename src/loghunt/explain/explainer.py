"""The Explainer: ranked, plain-words reasons and nearest normal events for findings.

For each explained event (every flagged event and the top ``top`` by combined score), every
feature gets a contribution (how far into its baseline tail it lies, see :mod:`.tails`); the
features of one input field are pooled (the best one speaks for the field) and the fields are
ranked. The top ``n_reasons`` fields become sentences naming the field, the event's value and
the baseline's typical value or range (see :mod:`.fields`); the detectors' votes close the
list. Other events get null reasons, which keeps a million-event hunt cheap.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa
from numpy.typing import NDArray

from loghunt.errors import NotFittedError
from loghunt.explain.fields import (
    DETECTORS,
    Context,
    FeatureMeta,
    describe_features,
    present_masks,
)
from loghunt.explain.nearest import nearest_normal
from loghunt.explain.tails import FeatureTails
from loghunt.features import Featurizer
from loghunt.index import NeighborIndex
from loghunt.output.findings import NEAREST_NORMAL, REASON_DETAILS, REASONS

Ints = NDArray[np.int64]
Float64s = NDArray[np.float64]

REASON_STRUCT = pl.Struct(
    {
        "kind": pl.String,
        "field": pl.String,
        "value": pl.String,
        "typical": pl.String,
        "score": pl.Float64,
        "text": pl.String,
    }
)
#: The columns :meth:`Explainer.explain` returns.
_COLUMNS = pl.Schema(
    {
        REASONS: pl.String(),
        REASON_DETAILS: pl.List(REASON_STRUCT),
        NEAREST_NORMAL: pl.List(pl.String),
    }
)
#: Ranking ties (equal contributions) are broken by the robust z-distance, scaled below 0.01.
_Z_TIEBREAK = 1e-4
_Z_CAP = 99.0
#: Decades a text statistic (length, entropy, digits) must beat its value's own rarity by to
#: speak for the field: "seen 3 times" says more to an analyst than "10% digits".
_SECONDARY_PENALTY = 1.0
#: The nearest normal event ids of events that have none.
_NO_IDS = pa.array([], pa.large_string())
#: Text fields of a structured reason before its score.
_TEXT_FIELDS = ("kind", "field", "value", "typical")


class Explainer:
    """Explain findings in terms of the input fields; fit on the baseline features.

    Parameters
    ----------
    n_reasons : int
        Field reasons per finding (the detectors' votes come on top).
    top : int
        Besides flagged events, explain this many of the highest-scored events.
    n_nearest : int
        Nearest unflagged events listed per finding.
    min_score : float
        Reasons after the first need a contribution of at least this many decades
        (1.0: at most one baseline event in ten is as extreme).
    max_rows : int
        Baseline rows sampled for the tail distributions.
    reference_size : int
        Unflagged rows sampled for the nearest-normal search when the ensemble's index cannot
        be used.
    random_state : int
        Seed of the samples.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from loghunt.features import Featurizer
    >>> events = pl.DataFrame({"event_id": [f"e{i}" for i in range(200)],
    ...                        "op": ["Get"] * 199 + ["DeleteTrail"]})
    >>> fz = Featurizer().fit(events)
    >>> X = fz.transform(events)
    >>> ex = Explainer().fit(fz, X)
    >>> cols = ex.explain(events, X, np.array([199]), {"d": np.linspace(0, 1, 200)},
    ...                   cut=0.99, flags=np.arange(200) == 199)
    >>> cols["reasons"][199].split(";")[0]
    'op "DeleteTrail" seen once in 200 baseline events (a typical event\\'s value: 199 times)'
    >>> cols["reasons"][0] is None
    True
    """

    def __init__(
        self,
        n_reasons: int = 3,
        top: int = 100,
        n_nearest: int = 3,
        min_score: float = 1.0,
        max_rows: int = 100_000,
        reference_size: int = 20_000,
        random_state: int = 0,
    ) -> None:
        self.n_reasons = n_reasons
        self.top = top
        self.n_nearest = n_nearest
        self.min_score = min_score
        self.max_rows = max_rows
        self.reference_size = reference_size
        self.random_state = random_state

    def fit(
        self, featurizer: Featurizer, X: NDArray[np.float32], events: pl.DataFrame | None = None
    ) -> Explainer:
        """Learn the baseline distribution of every feature of ``X`` (featurized baseline).

        With the baseline ``events``, text statistics and numbers are judged among the events
        where their field is present.
        """
        self.featurizer_ = featurizer
        self.features_: list[FeatureMeta] = describe_features(featurizer)
        judged = [(m.index, m.presence) for m in self.features_ if m.presence]
        self._presence_fields = list(dict.fromkeys(field for _, field in judged))
        self._judged = judged
        present = None
        if events is not None:
            present = self._presence(present_masks(events, self._presence_fields))
        self.tails_ = FeatureTails.fit(
            X, [m.side for m in self.features_], self.max_rows, self.random_state, present
        )
        self._penalty = np.array([_SECONDARY_PENALTY * m.secondary for m in self.features_])
        self.fields_ = list(dict.fromkeys(m.field for m in self.features_))
        field_of = {f: i for i, f in enumerate(self.fields_)}
        field_index = np.array([field_of[m.field] for m in self.features_], dtype=np.int64)
        # Features grouped by field (stable), and where each field's group starts.
        self._by_field = np.argsort(field_index, kind="stable")
        self._field_of_grouped = field_index[self._by_field]
        self._field_starts = np.flatnonzero(np.diff(self._field_of_grouped, prepend=-1))
        self._index_of = {m.name: m.index for m in self.features_}
        return self

    def _presence(self, masks: Mapping[str, NDArray[np.bool_]]) -> dict[int, NDArray[np.bool_]]:
        """Per feature judged among present values, the rows where its field has one."""
        return {j: masks[field] for j, field in self._judged}

    def rows_to_explain(self, combined: Float64s, flags: NDArray[np.bool_]) -> Ints:
        """Flagged rows and the ``top`` highest combined scores, highest first."""
        order = np.argsort(-np.asarray(combined), kind="stable")
        wanted = np.zeros(order.size, dtype=bool)
        wanted[order[: self.top]] = True
        wanted |= np.asarray(flags, dtype=bool)
        return order[wanted[order]]

    def explain(
        self,
        events: pl.DataFrame,
        X: NDArray[np.float32],
        rows: Ints,
        detectors: Mapping[str, Float64s],
        cut: float,
        flags: NDArray[np.bool_],
        index: NeighborIndex | None = None,
        metric: str = "l2",
        event_id: str = "event_id",
        space: NDArray[np.float32] | None = None,
        index_rows: Ints | None = None,
    ) -> dict[str, pl.Series]:
        """Full-length ``reasons``, ``reason_details`` and ``nearest_normal`` columns.

        ``detectors`` holds each detector's normalised scores in [0, 1] (a vote is a score at
        or above ``cut``); ``index`` is the ensemble's neighbour index when it indexes the rows
        ``index_rows`` (default: all) of ``space``, the matrix the neighbour search runs in
        (default: ``X``; the detectors' embeddings when they do not read features). Rows not in
        ``rows`` get nulls.
        """
        if not hasattr(self, "tails_"):
            raise NotFittedError("Explainer is not fitted; call fit first")
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            nulls = pl.DataFrame(schema=_COLUMNS).clear(X.shape[0])
            return {name: nulls.get_column(name) for name in _COLUMNS}
        _, first = np.unique(rows, return_index=True)
        if first.size < rows.size:  # a row asked for twice is explained once
            rows = rows[np.sort(first)]
        reasons = (self._field_reasons(events, X, rows), _detector_reasons(detectors, rows, cut))
        near = nearest_normal(
            X if space is None else space,
            rows,
            flags,
            self.n_nearest,
            index,
            metric,
            self.reference_size,
            self.random_state,
            index_rows,
        )
        nearest = _neighbour_ids(events.get_column(event_id), near, rows, X.shape[0])
        return {**_reason_columns(reasons, rows, X.shape[0]), NEAREST_NORMAL: nearest}

    def _field_reasons(self, events: pl.DataFrame, X: NDArray[np.float32], rows: Ints) -> Reasons:
        """One entry per (explained event, field reason): ``q`` (position in ``rows``), rank."""
        Xq = X[rows]
        ctx = Context(
            Xq=Xq,
            events=events,
            rows=rows,
            featurizer=self.featurizer_,
            tails=self.tails_,
            index_of=self._index_of,
        )
        present = None
        if self.tails_.conditional:
            present = self._presence(ctx.present(self._presence_fields))
        contrib, z = self.tails_.score(Xq, present)
        key = np.round(contrib - self._penalty, 2) + _Z_TIEBREAK * np.minimum(z, _Z_CAP)
        best_feature, field_key = self._best_per_field(key)
        k = min(self.n_reasons, len(self.fields_))
        top = np.argsort(-field_key, axis=1, kind="stable")[:, :k]
        chosen = np.take_along_axis(best_feature, top, axis=1).ravel()
        scores = np.take_along_axis(contrib, chosen.reshape(-1, k), axis=1).ravel()
        keep = scores >= self.min_score
        keep[::k] = True  # every explained event keeps its strongest reason
        cells = np.flatnonzero(keep)
        return self._describe(
            ctx, chosen, cells[np.argsort(chosen[cells], kind="stable")], k, scores
        )

    def _describe(
        self, ctx: Context, chosen: Ints, cells: Ints, k: int, scores: Float64s
    ) -> Reasons:
        """Sentences for the chosen (event, feature) cells, which arrive grouped by feature."""
        out = _no_reasons()
        # Describe feature by feature, so each describer runs once over all its events.
        bounds = np.flatnonzero(np.concatenate(([True], np.diff(chosen[cells]) != 0, [True])))
        for lo, hi in itertools.pairwise(bounds.tolist()):
            group = cells[lo:hi]
            meta = self.features_[int(chosen[group[0]])]
            v, t, x = meta.describe(ctx, meta.index, group // k)
            out.kind.extend([meta.kind] * group.size)
            out.field.extend([meta.field] * group.size)
            out.value.extend(v)
            out.typical.extend(t)
            out.text.extend(x)
        return out._replace(q=cells // k, rank=cells % k, score=scores[cells])

    def _best_per_field(self, key: Float64s) -> tuple[Ints, Float64s]:
        """For every row and field: the best feature of the field and its ranking key.

        The best is the field's first feature with the highest key (as ``argmax`` picks it).
        """
        grouped = key[:, self._by_field]
        value = np.maximum.reduceat(grouped, self._field_starts, axis=1)
        # NaN wins, as in argmax.
        hit = (grouped == value[:, self._field_of_grouped]) | np.isnan(grouped)
        position = np.where(hit, np.arange(grouped.shape[1]), grouped.shape[1])
        first = np.minimum.reduceat(position, self._field_starts, axis=1)
        best: Ints = self._by_field[first]
        return best, value


class Reasons(NamedTuple):
    """Reasons as flat columns; ``q`` is the explained event's position, ``rank`` its order."""

    q: Ints
    rank: Ints
    kind: list[str]
    field: list[str]
    value: list[str]
    typical: list[str]
    score: Float64s
    text: list[str]


def _no_reasons() -> Reasons:
    empty = np.zeros(0, dtype=np.int64)
    return Reasons(empty, empty, [], [], [], [], np.zeros(0), [])


def _reason_columns(parts: tuple[Reasons, ...], rows: Ints, n: int) -> dict[str, pl.Series]:
    """Length-``n`` ``reasons`` and ``reason_details``: the explained events' (``rows``)
    reasons joined into one text, and structured (fields by rank, the detectors last); null
    for the other events."""
    owner = rows[np.concatenate([p.q for p in parts])]  # the event row of each reason
    order = np.lexsort((np.concatenate([p.rank for p in parts]), owner))
    at = order.tolist()

    def strings(name: str) -> list[str]:
        values = [x for p in parts for x in getattr(p, name)]
        return [values[i] for i in at]

    texts = strings("text")
    # Built in pyarrow: polars builds a struct column, then converts it, several times slower.
    details = pa.StructArray.from_arrays(
        [
            *(pa.array(strings(name), pa.large_string()) for name in _TEXT_FIELDS),
            pa.array(np.concatenate([p.score for p in parts])[order], pa.float64()),
            pa.array(texts, pa.large_string()),
        ],
        names=[*_TEXT_FIELDS, "score", "text"],
    )
    lists, offsets = _lists(details, owner[order], n, rows)
    joined: list[str | None] = [None] * n
    starts = offsets[rows].tolist()
    for row, lo, hi in zip(rows.tolist(), starts, offsets[rows + 1].tolist(), strict=True):
        joined[row] = "; ".join(texts[lo:hi])
    return {
        REASONS: pl.Series(REASONS, joined, dtype=pl.String),
        REASON_DETAILS: pl.Series(REASON_DETAILS, lists),
    }


def _detector_reasons(detectors: Mapping[str, Float64s], rows: Ints, cut: float) -> Reasons:
    """Which detectors voted for each row (normalised score at or above ``cut``), ranked last."""
    names = list(detectors)
    n = rows.size
    if names:
        norm = np.column_stack([np.asarray(detectors[d], dtype=np.float64)[rows] for d in names])
    else:
        norm = np.zeros((n, 0))
    votes = (norm >= cut).sum(axis=1)
    order = np.argsort(-norm, axis=1, kind="stable")
    listed = [
        ", ".join(f"{names[i]} {row[i]:.3f}" for i in idx)
        for row, idx in zip(norm.tolist(), order.tolist(), strict=True)
    ]
    value = [f"{v} of {len(names)}" for v in votes.tolist()]
    text = [f"{v} detectors voted ({x})" for v, x in zip(value, listed, strict=True)]
    return Reasons(
        np.arange(n, dtype=np.int64),
        np.full(n, np.iinfo(np.int32).max, dtype=np.int64),
        [DETECTORS] * n,
        [""] * n,
        value,
        [f"a vote is a score >= {cut:.3f}"] * n,
        norm.max(axis=1, initial=0.0),
        text,
    )


def _neighbour_ids(event_ids: pl.Series, near: Ints, rows: Ints, n: int) -> pl.Series:
    """The nearest normal event ids of the explained rows ``rows``, in a length-``n`` column
    that is null for the other rows.

    ``near[q]`` holds the row numbers of row ``rows[q]``'s neighbours, -1 padding them.
    """
    by_row = np.argsort(rows, kind="stable")  # lists are cut in row order
    near, rows = near[by_row], rows[by_row]
    valid = near >= 0
    if not valid.any():  # no normal event to list (a batch of one): no gather
        return pl.Series(NEAREST_NORMAL, _lists(_NO_IDS, rows[:0], n, rows)[0])
    ids = event_ids[near[valid]].cast(pl.String)
    owner = rows[np.nonzero(valid)[0]]  # the explained row of each id
    if ids.null_count():  # events without an id are left out
        known = ids.is_not_null().to_numpy()
        ids, owner = ids.filter(known), owner[known]
    return pl.Series(NEAREST_NORMAL, _lists(ids.to_arrow(), owner, n, rows)[0])


def _lists(values: pa.Array, owner: Ints, n: int, rows: Ints) -> tuple[pa.LargeListArray, Ints]:
    """``n`` lists of ``values``, whose entries belong to the rows ``owner`` (ascending),
    null outside ``rows``; and the lists' offsets into ``values``.

    Cut from offsets with pyarrow: a polars group-by is a query to plan and run, and polars
    builds nested lists from Python objects about ten times slower.
    """
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=offsets[1:])
    absent = np.ones(n, dtype=bool)
    absent[rows] = False
    mask = pa.array(absent) if absent.any() else None
    return pa.LargeListArray.from_arrays(pa.array(offsets), values, mask=mask), offsets
