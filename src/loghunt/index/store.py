"""One interface for vector stores: add with ids and metadata, search, delete, persist.

Two backends implement it: :class:`~loghunt.index.faiss_store.FaissStore` (embedded, in
memory, wraps :class:`~loghunt.index.NeighborIndex`; the default) and
:class:`~loghunt.index.lance_store.LanceStore` (LanceDB: on disk, mutable, filtered by
metadata; ``pip install 'loghunt[store]'``). :func:`store_graph` turns any store into the
neighbour graph the detectors share.

Distances follow :class:`~loghunt.index.NeighborGraph`: l2 is Euclidean, cosine is ``1 - cos``
(zero rows at distance 1 from everything), ip is ``-<q, r>``; smaller is always nearer.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import faiss
import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from loghunt.errors import ConfigError
from loghunt.index._validation import check_matrix
from loghunt.index.graph import METRICS, NeighborGraph
from loghunt.index.neighbors import CHUNK_ROWS, _drop_self

Int64s = NDArray[np.int64]
Float32s = NDArray[np.float32]

#: Metadata columns that :class:`StoreFilter` reads.
TIME_COLUMN = "time"
CLASS_COLUMN = "class_uid"
ENTITY_COLUMN = "entity"
STATE_FILE = "store.json"
STATE_FORMAT = "loghunt.vector_store"
STATE_VERSION = 1


@dataclass(frozen=True)
class SearchResult:
    """The ``k`` nearest stored vectors of each query, nearest first.

    ``ids`` are the ids given to :meth:`VectorStore.add`; where fewer than ``k`` vectors
    qualify (a small store, a narrow filter) the row is padded with id ``-1`` at distance
    ``inf``.
    """

    ids: Int64s
    distances: Float32s

    @property
    def k(self) -> int:
        """Results per query."""
        return int(self.ids.shape[1])


@dataclass(frozen=True)
class StoreFilter:
    """Which stored vectors a search may return, by their metadata.

    ``start`` is inclusive and ``end`` exclusive (naive datetimes are UTC); ``class_uid`` and
    ``entity`` match one value or any of several. Metadata columns: ``time``, ``class_uid``
    and ``entity``.

    Examples
    --------
    >>> from datetime import datetime
    >>> StoreFilter(start=datetime(2024, 1, 1), class_uid=(6003, 3002), entity="alice").sql()
    "time >= timestamp '2024-01-01 00:00:00' AND class_uid IN (6003, 3002) AND entity IN ('alice')"
    """

    start: datetime | None = None
    end: datetime | None = None
    class_uid: int | Sequence[int] | None = None
    entity: str | Sequence[str] | None = None

    def classes(self) -> list[int] | None:
        """The class_uid values allowed, or None for any."""
        if self.class_uid is None:
            return None
        values = [self.class_uid] if isinstance(self.class_uid, int) else self.class_uid
        return [int(v) for v in values]

    def entities(self) -> list[str] | None:
        """The entity values allowed, or None for any."""
        if self.entity is None:
            return None
        return [self.entity] if isinstance(self.entity, str) else [str(v) for v in self.entity]

    def columns(self) -> list[str]:
        """Metadata columns this filter needs."""
        needed = [TIME_COLUMN] if self.start is not None or self.end is not None else []
        needed += [CLASS_COLUMN] if self.class_uid is not None else []
        return needed + ([ENTITY_COLUMN] if self.entity is not None else [])

    def expr(self) -> pl.Expr:
        """The filter as a polars predicate over the metadata columns."""
        parts: list[pl.Expr] = []
        if self.start is not None:
            parts.append(pl.col(TIME_COLUMN) >= pl.lit(_utc(self.start)))
        if self.end is not None:
            parts.append(pl.col(TIME_COLUMN) < pl.lit(_utc(self.end)))
        classes, entities = self.classes(), self.entities()
        if classes is not None:
            parts.append(pl.col(CLASS_COLUMN).is_in(classes))
        if entities is not None:
            parts.append(pl.col(ENTITY_COLUMN).is_in(entities))
        return pl.all_horizontal(parts) if parts else pl.lit(True)

    def sql(self) -> str:
        """The filter as a SQL predicate (LanceDB); values are quoted, never interpolated raw."""
        parts: list[str] = []
        if self.start is not None:
            parts.append(f"{TIME_COLUMN} >= timestamp '{_sql_time(self.start)}'")
        if self.end is not None:
            parts.append(f"{TIME_COLUMN} < timestamp '{_sql_time(self.end)}'")
        classes, entities = self.classes(), self.entities()
        if classes is not None:
            parts.append(f"{CLASS_COLUMN} IN ({', '.join(str(c) for c in classes) or 'NULL'})")
        if entities is not None:
            quoted = ", ".join("'" + e.replace("'", "''") + "'" for e in entities)
            parts.append(f"{ENTITY_COLUMN} IN ({quoted or 'NULL'})")
        return " AND ".join(parts) if parts else "TRUE"


class VectorStore(ABC):
    """Vectors with int64 ids and optional metadata, searched by nearest neighbours.

    Subclasses implement :meth:`add`, :meth:`search`, :meth:`delete`, ``__len__``,
    :meth:`save` and :meth:`load`. ``search`` returns ids and distances in the conventions of
    :class:`~loghunt.index.NeighborGraph`.
    """

    metric: str

    @abstractmethod
    def add(self, vectors: ArrayLike, ids: ArrayLike, metadata: Any = None) -> None:
        """Store ``vectors`` under ``ids`` (unique, not yet stored) with optional metadata.

        ``metadata`` is a polars (or pandas) DataFrame or a mapping of columns, one row per
        vector; the columns ``time``, ``class_uid`` and ``entity`` can be filtered on.
        """

    @abstractmethod
    def search(self, Q: ArrayLike, k: int, filter: StoreFilter | None = None) -> SearchResult:
        """The ``k`` nearest stored vectors of each row of ``Q`` that pass ``filter``."""

    @abstractmethod
    def delete(self, ids: ArrayLike) -> int:
        """Remove the vectors with these ids; returns how many were stored."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of stored vectors."""

    @abstractmethod
    def save(self, directory: str | os.PathLike[str]) -> None:
        """Persist the store into ``directory`` (no pickle)."""

    @classmethod
    @abstractmethod
    def load(cls, directory: str | os.PathLike[str]) -> Self:
        """Read a store written by :meth:`save`."""


def store_graph(store: VectorStore, X: ArrayLike, k: int, own: ArrayLike) -> NeighborGraph:
    """Neighbours of every row of ``X`` among the store's vectors, each row's own id excluded.

    ``own[i]`` is the id under which row ``i`` is stored, or -1 when it is not stored. The
    graph's ``indices`` are store ids: store rows under ids ``0..n-1`` to get row numbers, as
    :func:`~loghunt.index.build_graph` does.

    Examples
    --------
    >>> import numpy as np
    >>> from loghunt.index.faiss_store import FaissStore
    >>> X = np.random.default_rng(0).normal(size=(30, 3)).astype("float32")
    >>> store = FaissStore()
    >>> store.add(X, np.arange(30))
    >>> store_graph(store, X, k=4, own=np.arange(30)).indices.shape
    (30, 4)
    """
    data = check_matrix(X)
    own_ids = np.asarray(own, dtype=np.int64)
    if own_ids.shape != (data.shape[0],):
        raise ConfigError(f"own must hold one id per row of X, got shape {own_ids.shape}")
    n = data.shape[0]
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(n, start + CHUNK_ROWS)
        found = store.search(data[start:stop], k + 1)
        if (found.ids < 0).any():
            raise ConfigError(f"the store holds too few vectors for {k} neighbours per row")
        indices[start:stop], distances[start:stop] = _drop_self(
            found.ids, found.distances, own_ids[start:stop]
        )
    return NeighborGraph(indices, distances, store.metric)


# -- helpers shared by the backends ------------------------------------------------------------
def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
    return metric


def check_ids(ids: ArrayLike, n: int) -> Int64s:
    """``n`` unique, non-negative int64 ids."""
    try:
        out = np.asarray(ids).astype(np.int64, casting="safe").reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"ids must be integers: {exc}") from exc
    if out.shape[0] != n:
        raise ConfigError(f"got {out.shape[0]} ids for {n} vectors")
    if n and out.min() < 0:
        raise ConfigError("ids must be non-negative (-1 marks a missing result)")
    if np.unique(out).shape[0] != n:
        raise ConfigError("ids must be unique")
    return out


def check_metadata(metadata: Any, n: int) -> pl.DataFrame | None:
    """Metadata as a polars frame of ``n`` rows, its ``time`` column as UTC datetimes."""
    if metadata is None:
        return None
    if isinstance(metadata, Mapping):
        frame = pl.DataFrame(dict(metadata))
    elif isinstance(metadata, pl.DataFrame):
        frame = metadata
    else:
        try:
            frame = pl.from_pandas(metadata)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"metadata must be a DataFrame or a mapping: {exc}") from exc
    if frame.height != n:
        raise ConfigError(f"metadata has {frame.height} rows for {n} vectors")
    if "id" in frame.columns or "vector" in frame.columns:
        raise ConfigError("metadata columns 'id' and 'vector' are reserved")
    if TIME_COLUMN in frame.columns:
        time = frame.get_column(TIME_COLUMN)
        if not isinstance(time.dtype, pl.Datetime):
            raise ConfigError(f"metadata column {TIME_COLUMN!r} must hold datetimes")
        utc = time.dt.replace_time_zone("UTC") if time.dtype.time_zone is None else time
        frame = frame.with_columns(utc.dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    return frame


def prepare(data: Float32s, metric: str) -> Float32s:
    """Rows as searched: cosine normalises them (zero rows stay zero)."""
    if metric != "cosine":
        return data
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    out: Float32s = np.divide(data, norms, out=np.zeros_like(data), where=norms > 0)
    return out


def to_distance(raw: Float32s, metric: str) -> Float32s:
    """FAISS scores (squared L2 or inner product) to graph distances."""
    out: Float32s
    if metric == "l2":
        out = np.sqrt(np.maximum(raw, 0.0))
    elif metric == "cosine":
        out = np.clip(1.0 - raw, 0.0, 2.0).astype(np.float32)
    else:
        out = np.negative(raw)
    return out


def exact_search(Q: Float32s, R: Float32s, k: int, metric: str) -> tuple[Int64s, Float32s]:
    """Exact ``k``-NN of prepared queries among prepared rows; row numbers and distances."""
    k_found = min(k, R.shape[0])
    ids = np.full((Q.shape[0], k), -1, dtype=np.int64)
    dist = np.full((Q.shape[0], k), np.inf, dtype=np.float32)
    if k_found == 0 or Q.shape[0] == 0:
        return ids, dist
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    raw_d, raw_i = faiss.knn(Q, R, k_found, metric=faiss_metric)
    ids[:, :k_found] = raw_i
    dist[:, :k_found] = to_distance(raw_d, metric)
    return ids, dist


def write_state(directory: Path, backend: str, state: Mapping[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"format": STATE_FORMAT, "version": STATE_VERSION, "backend": backend, **state}
    (directory / STATE_FILE).write_text(json.dumps(payload, indent=2), encoding="utf-8")


def read_state(directory: Path, backend: str) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{directory} does not hold a saved vector store: {exc}") from exc
    if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
        raise ConfigError(f"{directory}: not a loghunt vector store, or an unsupported version")
    if state.get("backend") != backend:
        raise ConfigError(f"{directory} holds a {state.get('backend')!r} store, not {backend!r}")
    return state


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sql_time(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")


__all__ = ["SearchResult", "StoreFilter", "VectorStore", "store_graph"]
