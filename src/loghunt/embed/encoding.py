"""Model inputs: categorical values as embedding-table codes, numeric features rescaled.

No torch here: these are fitted on polars and numpy and saved as JSON and arrays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.errors import ConfigError, SchemaMismatchError

#: Reserved codes at the start of every table: the training mask, values not in the
#: vocabulary (unseen or too rare) and nulls.
MASK, UNKNOWN, NULL = 0, 1, 2
N_RESERVED = 3


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
        text = column.cast(pl.String)
        start = N_RESERVED + len(self.values)
        lookup = dict(zip(self.values, range(N_RESERVED, start), strict=True))
        if self.n_hash:
            uniques = text.drop_nulls().unique()
            others = uniques.filter(~uniques.is_in(list(self.values)))
            lookup.update({v: start + _bucket(v, self.n_hash) for v in others.to_list()})
        codes = text.replace_strict(
            list(lookup), list(lookup.values()), default=UNKNOWN, return_dtype=pl.Int64
        ).to_numpy(writable=True)
        codes[text.is_null().to_numpy()] = NULL  # replace_strict sends nulls to the default
        return codes.astype(np.int64, copy=False)

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
