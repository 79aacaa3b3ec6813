"""Per-feature contributions: how far into its baseline tail each feature value lies.

ECOD's per-feature idea (Li et al. 2022) with the side chosen by meaning rather than by
skewness: rarities, first-seen flags, off-hours and window counts are unusual only when high
(an IP address seen in every event is not a finding), numbers and string statistics in either
direction. A contribution is ``-log10`` of the tail probability, in decades: 2 means one event
in a hundred is as extreme. Ties between equally extreme features are broken by the robust
z-distance from the baseline median.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

#: Sides of the tail a feature can be unusual in.
RIGHT, BOTH, SKIP = "right", "both", "skip"
#: A value beyond every baseline value counts as half a baseline row (as in ECOD).
_UNSEEN_COUNT = 0.5
_MAD_TO_SD = 1.4826
#: Low 33 bits of the key that closes each feature's block in the value index.
_BLOCK_END = (1 << 33) - 1

Float64s = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class FeatureTails:
    """Empirical distributions of the baseline features, for scoring single events.

    A feature can be judged among the baseline events where its field is present only
    (``present``): the length of an error message is compared with other error messages, and an
    event without one contributes nothing, since its features hold the median for "absent".

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(1000, 2)).astype("float32")
    >>> tails = FeatureTails.fit(X, ["both", "right"])
    >>> contrib, z = tails.score(np.array([[0.0, 4.0]], dtype="float32"))
    >>> bool(contrib[0, 1] > 2.5 > contrib[0, 0])
    True
    """

    columns: tuple[NDArray[np.float32], ...]  # each feature's baseline values, sorted
    sides: tuple[str, ...]
    median: Float64s
    scale: Float64s
    mean: Float64s
    conditional: tuple[int, ...] = ()  # features judged among present values only

    @classmethod
    def fit(
        cls,
        X: NDArray[np.float32],
        sides: list[str],
        max_rows: int = 100_000,
        random_state: int = 0,
        present: Mapping[int, NDArray[np.bool_]] | None = None,
    ) -> FeatureTails:
        """Learn from (a random sample of at most ``max_rows`` rows of) the baseline ``X``.

        ``present`` maps a feature index to the baseline rows where its field is present.
        """
        present = dict(present or {})
        rows = np.arange(X.shape[0])
        if X.shape[0] > max_rows:
            rng = np.random.default_rng(random_state)
            rows = np.sort(rng.choice(X.shape[0], max_rows, replace=False))
        sample = np.ascontiguousarray(X[rows], dtype=np.float32)
        columns = []
        for j in range(sample.shape[1]):
            values = sample[:, j]
            if j in present and present[j][rows].any():
                values = values[present[j][rows]]
            columns.append(np.sort(values))
        stats = np.array([_location_scale(c) for c in columns]).reshape(-1, 3)
        return cls(
            columns=tuple(columns),
            sides=tuple(sides),
            median=stats[:, 0],
            scale=stats[:, 1],
            mean=stats[:, 2],
            conditional=tuple(sorted(present)),
        )

    def score(
        self, Xq: NDArray[np.float32], present: Mapping[int, NDArray[np.bool_]] | None = None
    ) -> tuple[Float64s, Float64s]:
        """Contribution (decades) and robust z-distance of every feature of every query row.

        ``Xq`` is compared in float32, the featurizer's type. ``present`` (for the conditional
        features) marks the query rows whose field is present; the others contribute 0.
        """
        Xq = np.asarray(Xq, dtype=np.float32)
        index = self._index
        # Two binary searches for all features at once instead of one or two per feature.
        keys = _keys(Xq.T[index.scored], index.block[:, None])
        at = index.keys.searchsorted(keys)
        below = index.below[at]  # baseline values < the query's
        through = below + np.where(index.keys[at] == keys, index.equal[at], 0)  # values <=
        tail = np.maximum(index.sizes[:, None] - below, _UNSEEN_COUNT)
        both = index.both
        tail[both] = np.minimum(tail[both], np.maximum(through[both], _UNSEEN_COUNT))
        contrib = np.zeros(Xq.shape, dtype=np.float64)
        contrib[:, index.scored] = (0.0 - np.log10(np.minimum(tail / index.sizes[:, None], 1.0))).T
        z = np.abs(Xq.astype(np.float64) - self.median) / self.scale
        z[:, index.skipped] = 0.0
        if present:
            judged = list(present)
            absent = ~np.column_stack([present[j] for j in judged])
            contrib[:, judged] = np.where(absent, 0.0, contrib[:, judged])
            z[:, judged] = np.where(absent, 0.0, z[:, judged])
        return contrib, z

    @cached_property
    def _index(self) -> _ValueIndex:
        """The distinct baseline values of every scored feature, in one sorted array.

        Built on first use from the sorted columns, which never change once fitted. It holds
        each distinct value once with two counts (24 bytes against a column's 4 per value):
        small for rarities, flags and counts, at most six times the columns' size when every
        value differs.
        """
        scored = [j for j, c in enumerate(self.columns) if self.sides[j] != SKIP and c.size]
        keys: list[NDArray[np.uint64]] = [np.zeros(0, dtype=np.uint64)]
        below: list[Ints] = [np.zeros(0, dtype=np.int64)]
        equal: list[Ints] = [np.zeros(0, dtype=np.int64)]
        for block, j in enumerate(scored):
            column = self.columns[j]
            same = (column[1:] == column[:-1]) | (np.isnan(column[1:]) & np.isnan(column[:-1]))
            starts = np.flatnonzero(np.concatenate(([True], ~same)))  # of each distinct value
            # A last key above every value of the block: a search never leaves its block.
            ends = np.array([(block << 33) | _BLOCK_END], dtype=np.uint64)
            keys += [_keys(column[starts], np.int64(block)), ends]
            below += [starts, np.array([column.size])]
            equal += [np.diff(starts, append=column.size), np.zeros(1, dtype=np.int64)]
        return _ValueIndex(
            scored=np.array(scored, dtype=np.int64),
            block=np.arange(len(scored), dtype=np.int64),
            both=np.array([self.sides[j] == BOTH for j in scored], dtype=bool),
            sizes=np.array([self.columns[j].size for j in scored], dtype=np.int64),
            keys=np.concatenate(keys),
            below=np.concatenate(below).astype(np.int64),
            equal=np.concatenate(equal).astype(np.int64),
            skipped=np.array([s == SKIP for s in self.sides], dtype=bool),
        )


class _ValueIndex(NamedTuple):
    """Per scored feature (a block), its distinct baseline values as sorted :func:`_keys`,
    how many baseline values lie below each and how many equal it."""

    scored: Ints  # the features searched (not skipped, with a baseline)
    block: Ints
    both: NDArray[np.bool_]  # which of them are two-sided
    sizes: Ints  # their baseline sizes
    keys: NDArray[np.uint64]
    below: Ints
    equal: Ints
    skipped: NDArray[np.bool_]  # over all features


def _keys(values: NDArray[np.float32], block: NDArray[np.int64] | np.int64) -> NDArray[np.uint64]:
    """Integer keys ordered by (block, value) as ``searchsorted`` orders float32 values.

    -0.0 equals 0.0 and every NaN is the same value, above +inf. The value's bits are mapped
    to an unsigned integer in the same order and shifted left by one, so that the odd
    :data:`_BLOCK_END` sorts after every value of its block.
    """
    canonical = np.asarray(values, dtype=np.float32) + np.float32(0.0)  # -0.0 becomes 0.0
    canonical = np.where(np.isnan(canonical), np.float32(np.nan), canonical)
    bits = canonical.view(np.uint32)
    ordered = np.where(bits >> np.uint32(31), ~bits, bits | np.uint32(0x80000000))
    value_key = ordered.astype(np.uint64) << np.uint64(1)
    return (np.asarray(block, dtype=np.uint64) << np.uint64(33)) | value_key


def _location_scale(column: NDArray[np.float32]) -> tuple[float, float, float]:
    """Median, robust spread (MAD, else IQR, else standard deviation, else 1) and mean."""
    if column.size == 0:
        return 0.0, 1.0, 0.0
    values = column.astype(np.float64)
    n = values.size
    median = float(values[n // 2])
    scale = _MAD_TO_SD * float(np.median(np.abs(values - median)))
    for fallback in ((values[(3 * n) // 4] - values[n // 4]) / 1.349, values.std()):
        scale = scale if scale > 0 else float(fallback)
    return median, scale if scale > 0 else 1.0, float(values.mean())
