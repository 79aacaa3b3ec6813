"""Model inputs: categorical values as embedding-table codes, numeric features rescaled.

No torch here: these are fitted on polars and numpy and saved as JSON and arrays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.errors import ConfigError, SchemaMismatchError
from loghunt.features.lookup import KeyIndex, has_null

#: Reserved codes at the start of every table: the training mask, values not in the
#: vocabulary (unseen or too rare) and nulls.
MASK, UNKNOWN, NULL = 0, 1, 2
N_RESERVED = 3
_VALUE = "value"


@dataclass(frozen=True)
class FieldCodes:
    """Codes of one categorical field: reserved slots, a vocabulary, then hash buckets.

    Values seen at least ``min_count`` times get their own slot, the most frequent
    ``max_categories`` of them; in a field with more distinct values than that, the rest are
    hashed (stable BLAKE2b) into ``n_hash`` shared buckets, so that a user id column of a
    million values still costs a bounded table. Other values (seen once, or unseen when the
    field is not hashed) share the UNKNOWN slot, which training sees through the rare ones.

    Examples
    --------
    >>> codes = FieldCodes.fit(pl.Series(["a", "a", "b", "b", "c", None]), "f", 10, 0)
    >>> codes.encode(pl.Series(["a", "b", "zzz", None])).tolist()
    [3, 4, 1, 2]
    """

    field: str
    values: tuple[str, ...]
    n_hash: int

    @property
    def cardinality(self) -> int:
        """Rows of this field's embedding table."""
        return N_RESERVED + len(self.values) + self.n_hash

    @classmethod
    def fit(
        cls,
        column: pl.Series,
        field: str,
        max_categories: int,
        n_hash_buckets: int,
        min_count: int = 2,
    ) -> FieldCodes:
        counts = (
            column.cast(pl.String)
            .rename("value")
            .drop_nulls()
            .value_counts(name="n")
            .sort(["n", "value"], descending=[True, False])
        )
        hashed = counts.height > max_categories and n_hash_buckets > 0
        kept = counts.filter(pl.col("n") >= min_count).head(max_categories)
        values = tuple(kept.get_column("value").to_list())
        return cls(field, values, n_hash_buckets if hashed else 0)

    def encode(self, column: pl.Series) -> NDArray[np.int64]:
        # Positions in the vocabulary from an index built once: a per-call lookup table cost
        # ~0.8 ms a field however few the rows (31 of the 40 ms of a one-event batch).
        values = column.cast(pl.String).rename(_VALUE).to_frame()
        found = self._vocabulary.positions(values)
        codes = np.where(found >= 0, found + N_RESERVED, UNKNOWN)
        nulls = has_null(values, (_VALUE,))
        codes[nulls] = NULL
        others = (found < 0) & ~nulls
        if self.n_hash and others.any():
            start = N_RESERVED + len(self.values)
            text = values.get_column(_VALUE).filter(pl.Series(others)).to_list()
            buckets = {v: start + _bucket(v, self.n_hash) for v in set(text)}
            codes[others] = [buckets[v] for v in text]
        return codes.astype(np.int64, copy=False)

    @cached_property
    def _vocabulary(self) -> KeyIndex:
        return KeyIndex(pl.DataFrame({_VALUE: list(self.values)}, schema={_VALUE: pl.String}))

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "values": list(self.values), "n_hash": self.n_hash}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> FieldCodes:
        return cls(
            str(state["field"]), tuple(str(v) for v in state["values"]), int(state["n_hash"])
        )


def _bucket(value: str, n: int) -> int:
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % n


def encode_categories(
    frame: pl.DataFrame | None, codes: Sequence[FieldCodes], n_rows: int
) -> NDArray[np.int64]:
    """The ``(n_rows, n_fields)`` code matrix of ``frame``'s categorical fields."""
    if not codes:
        return np.zeros((n_rows, 0), dtype=np.int64)
    if frame is None:
        raise SchemaMismatchError(
            f"the embedder reads categorical fields {[c.field for c in codes]}; pass them"
        )
    missing = [c.field for c in codes if c.field not in frame.columns]
    if missing:
        raise SchemaMismatchError(f"the data lacks categorical field(s) {missing}")
    if frame.height != n_rows:
        raise ConfigError(f"{frame.height} rows of categories for {n_rows} rows of features")
    return np.column_stack([c.encode(frame.get_column(c.field)) for c in codes]).astype(np.int64)


@dataclass(frozen=True)
class NumericScaler:
    """Standardise then compress: ``sign(z) * log1p(|z|)``, so that outliers stay ordered but
    cannot dominate the network's inputs (the Featurizer leaves robust-scaled counts large).
    """

    mean: NDArray[np.float32]
    scale: NDArray[np.float32]

    @classmethod
    def fit(cls, X: NDArray[np.float32]) -> NumericScaler:
        mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        return cls(mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32))

    def transform(self, X: NDArray[np.float32]) -> NDArray[np.float32]:
        if X.shape[1] != self.mean.shape[0]:
            raise SchemaMismatchError(
                f"the embedder was fitted on {self.mean.shape[0]} features, got {X.shape[1]}"
            )
        z = (X - self.mean) / self.scale
        out: NDArray[np.float32] = (np.sign(z) * np.log1p(np.abs(z))).astype(np.float32)
        return out
