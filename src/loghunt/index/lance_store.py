"""The persistent vector store: LanceDB on disk, mutable, searched with metadata filters."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Self

import numpy as np
import polars as pl
import pyarrow as pa
from numpy.typing import ArrayLike

from loghunt.errors import ConfigError, MissingExtraError
from loghunt.index._validation import check_matrix
from loghunt.index.store import (
    Float32s,
    SearchResult,
    StoreFilter,
    VectorStore,
    check_ids,
    check_metadata,
    check_metric,
    prepare,
    read_state,
    write_state,
)

_BACKEND = "lance"
#: LanceDB's distance for each store metric; cosine rows are stored normalised and searched by
#: inner product, so that zero rows sit at distance 1 as in the FAISS store.
_LANCE_METRIC = {"l2": "l2", "cosine": "dot", "ip": "dot"}
#: Ids per ``IN (...)`` clause when deleting or checking ids.
_ID_CHUNK = 2_000


def _lancedb() -> Any:
    try:
        import lancedb
    except ImportError as exc:
        raise MissingExtraError("lancedb", "store") from exc
    return lancedb


class LanceStore(VectorStore):
    """Vectors, ids and metadata in a LanceDB table under ``uri`` (persistent and mutable).

    Every change is written to disk at once; a later process opens the same ``uri`` with
    :meth:`load`. Searches are exact (LanceDB's flat scan) and can be limited by metadata
    (time window, ``class_uid``, entity) with a :class:`~loghunt.index.store.StoreFilter`,
    applied before the nearest neighbours are chosen. Needs ``pip install 'loghunt[store]'``.

    Parameters
    ----------
    uri : str or path
        Folder of the LanceDB database (created when missing).
    metric : {"l2", "cosine", "ip"}, default="l2"
    table : str, default="vectors"
        Table name inside the database.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> X = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    >>> store = LanceStore(tempfile.mkdtemp(), metric="cosine")
    >>> store.add(X, ids=np.arange(20), metadata={"entity": ["alice", "bob"] * 10})
    >>> store.search(X[:1], k=2, filter=StoreFilter(entity="bob")).ids.shape
    (1, 2)
    """

    def __init__(self, uri: str | os.PathLike[str], metric: str = "l2", table: str = "vectors"):
        self.uri = Path(uri)
        self.metric = check_metric(metric)
        self.table = table
        self._db = _lancedb().connect(str(self.uri))
        self._table: Any = self._db.open_table(table) if self._exists() else None
        self._dim: int | None = None
        if self._table is not None:
            self._dim = int(self._table.schema.field("vector").type.list_size)

    def _exists(self) -> bool:
        listing = self._db.list_tables()
        names = getattr(listing, "tables", listing)
        return self.table in list(names)

    # -- mutation --------------------------------------------------------------------------
    def add(self, vectors: ArrayLike, ids: ArrayLike, metadata: Any = None) -> None:
        data = check_matrix(vectors)
        n, d = data.shape
        new_ids = check_ids(ids, n)
        meta = check_metadata(metadata, n)
        if self._dim is not None and d != self._dim:
            raise ConfigError(f"the store holds {self._dim}-dimensional vectors, got {d}")
        if self._table is not None and self._count_ids(new_ids):
            raise ConfigError("some ids are already stored")
        stored = prepare(data, self.metric)
        columns: dict[str, Any] = {
            "id": pa.array(new_ids, pa.int64()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(stored.reshape(-1)), d),
        }
        batch = pa.table(columns)
        if meta is not None:
            for name in meta.columns:
                batch = batch.append_column(name, meta.get_column(name).to_arrow())
        if self._table is None:
            self._table = self._db.create_table(self.table, data=batch)
            self._dim = d
        else:
            self._table.add(self._conform(batch))

    def _conform(self, batch: pa.Table) -> pa.Table:
        """The batch with the table's columns and types (absent metadata becomes null)."""
        schema: pa.Schema = self._table.schema
        extra = set(batch.column_names) - set(schema.names)
        if extra:
            raise ConfigError(f"the store has no metadata column(s) {sorted(extra)}")
        arrays = [
            batch.column(f.name).cast(f.type)
            if f.name in batch.column_names
            else pa.nulls(batch.num_rows, f.type)
            for f in schema
        ]
        return pa.Table.from_arrays(arrays, schema=schema)

    def _count_ids(self, ids: np.ndarray[Any, Any]) -> int:
        total = 0
        for start in range(0, len(ids), _ID_CHUNK):
            chunk = ids[start : start + _ID_CHUNK]
            total += int(self._table.count_rows(f"id IN ({', '.join(map(str, chunk))})"))
        return total

    def delete(self, ids: ArrayLike) -> int:
        if self._table is None:
            return 0
        doomed = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        before = len(self)
        for start in range(0, len(doomed), _ID_CHUNK):
            chunk = doomed[start : start + _ID_CHUNK]
            self._table.delete(f"id IN ({', '.join(map(str, chunk))})")
        return before - len(self)

    def __len__(self) -> int:
        return 0 if self._table is None else int(self._table.count_rows())

    # -- search ----------------------------------------------------------------------------
    def search(self, Q: ArrayLike, k: int, filter: StoreFilter | None = None) -> SearchResult:
        if k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        queries = prepare(check_matrix(Q), self.metric)
        n = queries.shape[0]
        ids = np.full((n, k), -1, dtype=np.int64)
        dist = np.full((n, k), np.inf, dtype=np.float32)
        if self._table is None or n == 0:
            return SearchResult(ids, dist)
        if queries.shape[1] != self._dim:
            raise ConfigError(
                f"the store holds {self._dim}-dimensional vectors, got {queries.shape[1]} columns"
            )
        query = self._table.search(queries).distance_type(_LANCE_METRIC[self.metric])
        if filter is not None:
            query = query.where(filter.sql(), prefilter=True)
        found = pl.from_arrow(query.select(["id", "vector"]).limit(k).to_arrow())
        assert isinstance(found, pl.DataFrame)
        if found.height == 0:
            return SearchResult(ids, dist)
        if "query_index" not in found.columns:  # a single query comes back without it
            found = found.with_columns(pl.lit(0, pl.Int64).alias("query_index"))
        rows = found.get_column("query_index").to_numpy()
        vectors = np.asarray(found.get_column("vector").to_list(), dtype=np.float32)
        # Distances recomputed in float32 from the stored rows: the graph's conventions.
        found = found.with_columns(pl.Series("d", self._distance(queries[rows], vectors)))
        found = found.sort(["query_index", "d", "id"]).with_columns(
            pl.int_range(pl.len()).over("query_index").alias("rank")
        )
        q, r = found.get_column("query_index").to_numpy(), found.get_column("rank").to_numpy()
        ids[q, r] = found.get_column("id").to_numpy()
        dist[q, r] = found.get_column("d").to_numpy()
        return SearchResult(ids, dist)

    def _distance(self, queries: Float32s, rows: Float32s) -> Float32s:
        out: Float32s
        if self.metric == "l2":
            diff = queries - rows
            out = np.sqrt(np.einsum("ij,ij->i", diff, diff)).astype(np.float32)
        else:
            dot = np.einsum("ij,ij->i", queries, rows).astype(np.float32)
            out = np.clip(1.0 - dot, 0.0, 2.0) if self.metric == "cosine" else -dot
        return out

    # -- persistence -----------------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ``store.json`` beside the data; another folder gets a copy of the database."""
        path = Path(directory)
        if path.resolve() != self.uri.resolve():
            if path.exists() and any(path.iterdir()):
                raise ConfigError(f"{path} is not empty; save a LanceStore into an empty folder")
            shutil.copytree(self.uri, path, dirs_exist_ok=True)
        write_state(path, _BACKEND, {"params": {"metric": self.metric, "table": self.table}})

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Self:
        state = read_state(Path(directory), _BACKEND)
        return cls(directory, **state["params"])
