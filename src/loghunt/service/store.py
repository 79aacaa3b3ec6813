"""The online store: the pipeline the service scores with, and the normal events it learned.

Novelty mode: events that are not flagged join the pipeline's neighbour reference, so that
tomorrow's normal looks like today's. Memory stays bounded (``max_events`` learned events and
an optional ``max_age_s`` window, oldest out) and the state survives restarts.

On disk, under ``state_dir``::

    state.json                  which base model this state belongs to (written once)
    window/<seq>-<ms>-<n>-<digest>.arrow
                                every learned batch, fsync'd before the request or message
                                that carried it is acknowledged (the write-ahead buffer):
                                its events and, when the service learned it, their rows
                                in the detectors' space as they were scored
    snapshot-<seq>/             the learned rows after batch <seq> (rows.npy, their IVF
                                lists, snapshot.json), added to the base model on restart;
                                or, for a model whose rows cannot be read back, the
                                pipeline saved whole with ``save_model``

A restart loads the newest snapshot and replays the window files after it: their rows as
they were learned (files without rows: their events learned anew). When saving a
snapshot fails (the store is unavailable), scoring goes on with the state in memory and the
window files keep every addition until a later snapshot succeeds. Evicting the oldest batches
rebuilds the pipeline on a background thread, the base model plus the rows of the batches
still in the window, while the old one serves; no snapshot is saved until it is done.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import orjson
import polars as pl
from numpy.typing import NDArray

from loghunt.errors import ConfigError, LoghuntError
from loghunt.output.findings import Findings
from loghunt.schema import ocsf
from loghunt.service.locks import SharedLock

log = logging.getLogger(__name__)

STATE_FORMAT = "loghunt.online-store"
_STATE_FILE = "state.json"
_LOCK_FILE = "lock"
_WINDOW = "window"
_SNAPSHOT = re.compile(r"^snapshot-(\d{12})$")
_BATCH = re.compile(r"^(\d{12})-(\d+)-(\d+)-([0-9a-f]{16})\.arrow$")
#: The learned rows' column in a window file.
_ROWS = "_loghunt_learned_row"
#: Eviction goes down to this share of ``max_events``, so that it does not run every batch.
_LOW_WATER = 0.9
#: What a snapshot of learned rows holds.
_SNAPSHOT_FORMAT = "loghunt.online-store-snapshot"
_SNAPSHOT_META = "snapshot.json"
_ROWS_FILE = "rows.npy"
_LISTS_FILE = "lists.npy"
#: Seconds before a failed rebuild is tried again.
_REBUILD_RETRY_S = 30
#: Learned rows a rebuild reads from the old model in one hold of the store.
_REBUILD_ROWS = 65_536


class Model(Protocol):
    """What the store needs of a fitted pipeline: score, learn, and its input columns."""

    def score(self, data: Any) -> Findings: ...

    def learn(self, data: Any) -> int: ...


@dataclass(frozen=True)
class LearnedBatch:
    """One batch of learned events on disk (a window file)."""

    seq: int
    learned_ms: int
    n_events: int
    digest: str
    path: Path

    @classmethod
    def parse(cls, path: Path) -> LearnedBatch | None:
        match = _BATCH.match(path.name)
        if match is None:
            return None
        seq, ms, n, digest = match.groups()
        return cls(int(seq), int(ms), int(n), digest, path)


class OnlineStore:
    """A fitted pipeline plus a bounded, persisted window of learned normal events.

    Parameters
    ----------
    model_dir : path
        The base model written by :func:`loghunt.model.save_model`; never modified.
    state_dir : path, optional
        Where learned batches and snapshots live; without it nothing is learned or saved.
    max_events : int
        Most learned events kept; the oldest batches go first.
    max_age_s : float, optional
        Learned batches older than this are evicted too, once the oldest is a tenth past it
        (so that eviction, and the rebuild it starts, does not run every batch).
    persist_every_s : float
        Seconds between snapshots (only when something was learned since the last one). The
        fsync'd window already makes learning durable; a snapshot only shortens the replay
        on restart (see :meth:`persist`).
    explain_top : int, optional
        Per scored batch, besides the flagged events, explain this many of the highest scored
        (the model's own setting when None). A hunt explains its top 100 of a whole run; a
        live batch of 100 would explain every event, which costs ~10 ms a batch.

    Examples
    --------
    Opened without a state directory the store only scores (see the tests for learning)::

        store = OnlineStore("model/", "state/", max_events=1_000_000)
        findings = store.pipeline.score(events)
        store.learn(normal_events)
        store.close()  # writes a final snapshot
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        state_dir: str | os.PathLike[str] | None = None,
        *,
        max_events: int = 1_000_000,
        max_age_s: float | None = None,
        persist_every_s: float = 600.0,
        explain_top: int | None = None,
    ) -> None:
        if max_events < 1:
            raise ConfigError(f"max_events must be at least 1, got {max_events}")
        if max_age_s is not None and max_age_s <= 0:
            raise ConfigError(f"max_age_s must be positive, got {max_age_s}")
        self.model_dir = Path(model_dir)
        self.state_dir = None if state_dir is None else Path(state_dir)
        self.max_events = max_events
        self.max_age_s = max_age_s
        self.persist_every_s = persist_every_s
        self.explain_top = explain_top
        #: Shared while scoring (which only reads the pipeline), exclusive while learning,
        #: rebuilding and saving: a snapshot must not see half a batch.
        self.lock = SharedLock()
        self.persist_failures = 0
        self.last_persist_error: str | None = None
        self._window: list[LearnedBatch] = []
        self._digests: set[str] = set()
        self._snapshot_seq = 0
        self._next_seq = 1
        #: Learned rows in the model whose batches were evicted: a rebuild forgets them.
        self._forgotten = 0
        self._rebuilder: threading.Thread | None = None
        self._rebuilding = False
        self._evictions = 0
        self.rebuild_failures = 0
        self._retry_rebuild_at = 0.0
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._unlock: Any = None
        self.model_digest = model_digest(self.model_dir)
        #: Rows the base model itself learned before it was saved (``score --learn``).
        self._base_learned = _saved_n_learned(self.model_dir)
        self.pipeline: Any = None
        self._open()

    # -- opening -------------------------------------------------------------------------
    def _open(self) -> None:
        if self.state_dir is None:
            self.pipeline = _load(self.model_dir, need_learn=False)
            self._after_load()
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Unlocked by close(), or when the store is garbage-collected unclosed.
        self._unlock = weakref.finalize(self, _unlock, _lock_state_dir(self.state_dir))
        (self.state_dir / _WINDOW).mkdir(exist_ok=True)
        self._check_state_file()
        self._window = _scan_window(self.state_dir / _WINDOW)
        self._digests = {b.digest for b in self._window}
        snapshot = self._newest_snapshot()
        # Older snapshots, and the staging folders of saves that a crash interrupted.
        self._remove_snapshots(keep=snapshot[1] if snapshot else None, staging=True)
        if snapshot is None:
            self.pipeline, self._snapshot_seq = _load(self.model_dir), 0
        else:
            seq, path = snapshot
            try:
                self.pipeline, self._snapshot_seq = self._load_snapshot(path), seq
            except LoghuntError as exc:
                # A damaged snapshot is not fatal: the base model and the window rebuild it.
                log.warning("snapshot %s unusable (%s); rebuilding from the base model", path, exc)
                self.pipeline, self._snapshot_seq = _load(self.model_dir), 0
        self._after_load()
        self._next_seq = max([self._snapshot_seq, *(b.seq for b in self._window)]) + 1
        for batch in self._window:
            if batch.seq > self._snapshot_seq:
                _learn_file(self.pipeline, batch)
        self._evict(time.time())

    def _after_load(self) -> None:
        if self.explain_top is not None:  # a threshold setting: the model version stays
            self.pipeline.config = replace(self.pipeline.config, explain_top=self.explain_top)
            explainer = getattr(self.pipeline, "explainer_", None)
            if explainer is not None:
                explainer.top = self.explain_top
        featurizer = getattr(self.pipeline, "featurizer_", None)
        schema = getattr(featurizer, "schema_", None)
        #: The model's input columns and their feature kinds (what scoring needs).
        self.input_kinds: dict[str, str] = (
            {c.name: c.kind for c in schema.columns} if schema is not None else {}
        )

    def _check_state_file(self) -> None:
        assert self.state_dir is not None
        path = self.state_dir / _STATE_FILE
        if path.exists():
            state = orjson.loads(path.read_bytes())
            if state.get("format") != STATE_FORMAT:
                raise ConfigError(f"{path} is not an online-store state file")
            if state.get("model_digest") != self.model_digest:
                raise ConfigError(
                    f"{self.state_dir} holds the state of model {state.get('model_digest')}, "
                    f"not of {self.model_dir} ({self.model_digest}); use another state directory"
                )
            return
        state = {"format": STATE_FORMAT, "model_digest": self.model_digest}
        _write_atomic(path, orjson.dumps(state, option=orjson.OPT_INDENT_2))

    def _newest_snapshot(self) -> tuple[int, Path] | None:
        assert self.state_dir is not None
        found = [
            (int(m.group(1)), p)
            for p in self.state_dir.iterdir()
            if (m := _SNAPSHOT.match(p.name)) and p.is_dir()
        ]
        return max(found) if found else None

    # -- learning ------------------------------------------------------------------------
    @property
    def model_version(self) -> str:
        """The pipeline's model version (what finding ids derive from; learning keeps it)."""
        return str(self.pipeline.model_version())

    @property
    def size(self) -> int:
        """Learned events currently in the window."""
        return sum(b.n_events for b in self._window)

    @property
    def pending(self) -> int:
        """Learned batches not yet in a snapshot (buffered on disk only)."""
        return sum(1 for b in self._window if b.seq > self._snapshot_seq)

    @property
    def forgetting(self) -> int:
        """Evicted events the model still holds: a rebuild is due or running."""
        return self._forgotten

    @property
    def learning(self) -> bool:
        return self.state_dir is not None

    def append(self, events: pl.DataFrame, rows: NDArray[np.float32] | None = None) -> int:
        """Record normal events in the window; ``rows``: learn them now as well.

        ``rows`` are the events' rows from ``Pipeline.score_unlearned``; without them the
        pipeline is assumed to have learned the events already (``score(..., learn=True)``).
        Learning and writing happen in one hold of the lock, so a snapshot sees both or
        neither. The batch is written and fsync'd to the window before this returns, so a
        request or message acknowledged afterwards survives a crash; the size and age limits
        are then applied. A batch with exactly the event ids of one already in the window (a
        redelivery) is neither learned nor written again. Returns the events recorded.
        """
        if self.state_dir is None or events.height == 0:
            return 0
        if rows is not None and (rows.ndim != 2 or rows.shape[0] != events.height):
            raise ValueError(f"{events.height} events but rows of shape {rows.shape}")
        digest = _digest(events)
        with self.lock:
            if digest in self._digests:
                return 0
            if rows is not None:
                self.pipeline.learn_rows(rows)
            seq, self._next_seq = self._next_seq, self._next_seq + 1
            now = time.time()
            name = f"{seq:012d}-{int(now * 1000)}-{events.height}-{digest}.arrow"
            path = self.state_dir / _WINDOW / name
            _write_batch(events, path, rows)
            batch = LearnedBatch.parse(path)
            assert batch is not None
            self._window.append(batch)
            self._digests.add(digest)
            self._evict(now)
        return events.height

    def learn(self, events: pl.DataFrame) -> int:
        """Learn normal events (normalised) and record them in the window; returns how many
        joined the neighbour reference (0 for a batch already learned)."""
        if self.state_dir is None or events.height == 0:
            return 0
        with self.lock:
            if _digest(events) in self._digests:
                return 0
            # Learned first: an eviction in append rebuilds from the window, this batch included.
            added = int(self.pipeline.learn(events))
            self.append(events)
            return added

    def learned_event_ids(self) -> set[str]:
        """Event ids of every learned event still in the window (read from disk)."""
        ids: set[str] = set()
        for batch in list(self._window):
            events = _read_batch(batch.path, columns=[ocsf.EVENT_ID])
            ids.update(events.get_column(ocsf.EVENT_ID).cast(pl.Utf8).to_list())
        return ids

    def _evict(self, now: float) -> None:
        """Drop the oldest batches over the size or age limit; the model forgets them in a
        rebuild on another thread (see :meth:`_rebuild`)."""
        total, cut = self.size, 0
        if total > self.max_events:
            low = int(self.max_events * _LOW_WATER)
            while cut < len(self._window) and total > low:
                total -= self._window[cut].n_events
                cut += 1
        if self.max_age_s is not None and self._window:
            oldest_ms = (now - self.max_age_s) * 1000
            if self._window[0].learned_ms < (now - self.max_age_s / _LOW_WATER) * 1000:
                while cut < len(self._window) and self._window[cut].learned_ms < oldest_ms:
                    cut += 1
        if cut:
            gone, self._window = self._window[:cut], self._window[cut:]
            self._forgotten += sum(b.n_events for b in gone)
            self._evictions += 1
            # The snapshots hold the evicted events: gone for good before the batches are.
            assert self.state_dir is not None
            self._remove_snapshots(keep=None)
            _fsync_dir(self.state_dir)
            self._snapshot_seq = 0
            for batch in gone:
                self._digests.discard(batch.digest)
                batch.path.unlink(missing_ok=True)
        if self._forgotten and not self._rebuilding and time.monotonic() >= self._retry_rebuild_at:
            self._rebuilding = True
            self._rebuilder = threading.Thread(
                target=self._rebuild, name="loghunt-store-rebuild", daemon=True
            )
            self._rebuilder.start()

    def _rebuild(self) -> None:
        """Replace the model by the base model plus the batches still in the window (the learn
        API cannot forget), while the old one goes on scoring.

        The kept rows come from the old model with their IVF lists: nothing is read,
        featurized or searched again, and they are the rows the events had when scored. With
        the 1,000,000-vector model that takes 2.4 s for 900,000 kept rows (1.3 s of it
        loading the base), where learning the window anew took 37 us an event and held the
        store meanwhile. Only rows learned during the rebuild are added with the store held.
        A model whose learned rows cannot be read back as learned (a member with its own index
        beside a shared one that normalises or rounds them) learns the window's files instead.
        A failed rebuild is logged, counted in ``rebuild_failures`` and tried again 30 s
        later; the old model serves meanwhile.
        """
        started = time.perf_counter()
        try:
            self._rebuild_model()
            log.info(
                "store rebuilt in %.1f s (%d events)", time.perf_counter() - started, self.size
            )
        except Exception:  # anything: a dead thread would leave the evicted rows for good
            self.rebuild_failures += 1
            self._retry_rebuild_at = time.monotonic() + _REBUILD_RETRY_S
            log.exception("store rebuild failed; tried again in %d s", _REBUILD_RETRY_S)
        finally:
            with self.lock:
                self._rebuilding = False
                self._evict(time.time())  # evicted meanwhile: the next rebuild

    def _rebuild_model(self) -> None:
        if model_digest(self.model_dir) != self.model_digest:
            raise ConfigError(f"{self.model_dir} no longer holds the model this store belongs to")
        pipeline = _load(self.model_dir)
        base_learned = getattr(pipeline, "n_learned_", 0)
        with self.lock.shared():  # learning waits, scoring goes on
            old, forgotten, window = self.pipeline, self._forgotten, list(self._window)
            learned = getattr(old, "n_learned_", 0)
            kept = self._rows_are_the_window(base_learned + forgotten)
        if learned == base_learned:  # no rows learned (no neighbour detector): none to forget
            with self.lock:
                self._forgotten -= forgotten
            return
        skipped = 0
        if kept:
            for part in self._learned_parts(old, base_learned + forgotten, learned):
                pipeline.learn_rows(*part)
        else:
            for batch in window:
                skipped += _learn_file(pipeline, batch)
        with self.lock:
            if not kept:
                last = window[-1].seq if window else 0
                for batch in self._window:
                    if batch.seq > last:
                        skipped += _learn_file(pipeline, batch)
            elif old.n_learned_ > learned:  # rows learned during the rebuild
                pipeline.learn_rows(*old.learned_rows(learned))
            self.pipeline = pipeline
            self._after_load()
            # What was evicted during the rebuild is in the new model too (still to forget),
            # unless its file went before it was read.
            self._forgotten -= forgotten + skipped
        del old
        if gc.get_freeze_count():  # the process keeps its model out of the collector
            gc.freeze()

    def _rows_are_the_window(self, skip: int) -> bool:
        """Whether the pipeline's learned rows past the first ``skip`` (the base model's own
        and the evicted ones) are the window's events, one row each, readable in order."""
        pipeline = self.pipeline
        learned = getattr(pipeline, "n_learned_", None)
        if not hasattr(pipeline, "learned_rows") or learned != skip + self.size:
            return False
        return pipeline.learned_rows(learned, 0) is not None  # an empty read: None or not

    def _learned_parts(self, pipeline: Any, start: int, stop: int) -> Iterator[Any]:
        """``pipeline``'s learned rows ``start:stop`` with their lists, in parts, each read
        with the store shared: learning waits for a part, not for all of them."""
        for first in range(start, stop, _REBUILD_ROWS):
            with self.lock.shared():
                part = pipeline.learned_rows(first, min(_REBUILD_ROWS, stop - first))
            yield part

    def wait_rebuilt(self) -> None:
        """Wait for the rebuild in progress, and the ones it starts for evictions meanwhile."""
        while (rebuilder := self._rebuilder) is not None and rebuilder.is_alive():
            rebuilder.join()

    # -- persistence ---------------------------------------------------------------------
    def persist(self) -> bool:
        """Save a snapshot if anything was learned since the last; False when saving failed.

        A snapshot holds the window's learned rows and their IVF lists, read from the model
        a part at a time with the store shared and written with it free; a restart adds them
        to the base model. With the 1,000,000-vector model and 18,811 learned events: 27 ms,
        0.4 ms of it holding the store, 6 MB; saving the whole model held it 2.3 s (690 MB).
        A model whose rows cannot be read so is saved whole, with the store held. A snapshot
        staged while an eviction happened is dropped: it would hold evicted events.
        """
        if self.state_dir is None:
            return True
        staged = None
        try:
            with self.lock:
                seq = self._window[-1].seq if self._window else 0
                if seq == self._snapshot_seq or self._forgotten:
                    return True  # nothing new, or evicted events not forgotten yet: not saved
                if not self._rows_are_the_window(self._base_learned):
                    self._save_snapshot(seq, None)
                    return True
                evictions, count, pipeline = self._evictions, self.size, self.pipeline
            staged = self._stage_rows(pipeline, seq, count)
            with self.lock:
                if self._evictions == evictions:  # else it would hold evicted events: dropped
                    self._save_snapshot(seq, staged)
        except (OSError, LoghuntError) as exc:
            self.persist_failures += 1
            self.last_persist_error = str(exc)
            log.warning("snapshot failed, additions stay buffered on disk: %s", exc)
            return False
        finally:
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)  # gone unless dropped or failed
        return True

    def _stage_rows(self, pipeline: Any, seq: int, count: int) -> Path:
        """Write the window's ``count`` learned rows, read from ``pipeline`` a part at a time
        with the store shared, and their lists into a staging folder, fsync'd."""
        assert self.state_dir is not None
        staging = Path(
            tempfile.mkdtemp(prefix=f".snapshot-{seq:012d}.", suffix=".saving", dir=self.state_dir)
        )
        first = self._base_learned
        parts = list(self._learned_parts(pipeline, first, first + count))
        rows = np.concatenate([r for r, _ in parts]) if parts else np.empty((0, 0), np.float32)
        np.save(staging / _ROWS_FILE, rows)
        if parts and parts[0][1] is not None:
            np.save(staging / _LISTS_FILE, np.concatenate([lists for _, lists in parts]))
        meta = {"format": _SNAPSHOT_FORMAT, "model_digest": self.model_digest, "rows": count}
        (staging / _SNAPSHOT_META).write_bytes(orjson.dumps(meta))
        _fsync_tree(staging)
        return staging

    def _save_snapshot(self, seq: int, staged: Path | None) -> None:
        """Put the staged rows (or, without them, the whole model) in place as ``seq``'s."""
        from loghunt.model import save_model

        assert self.state_dir is not None
        final = self.state_dir / f"snapshot-{seq:012d}"
        if final.is_dir():  # one of the same batch, unusable at the last start: replaced
            shutil.rmtree(final)
        if staged is None:
            save_model(self.pipeline, final)  # written beside, then renamed into place
            _fsync_tree(final)
        else:
            os.replace(staged, final)
        _fsync_dir(self.state_dir)
        self._remove_snapshots(keep=final)
        self._snapshot_seq = seq
        self.last_persist_error = None

    def _load_snapshot(self, path: Path) -> Any:
        """The model a snapshot holds: the base model plus its rows, or a whole saved model."""
        meta_path = path / _SNAPSHOT_META
        if not meta_path.exists():
            return _load(path)
        try:
            meta = orjson.loads(meta_path.read_bytes())
            rows = np.load(path / _ROWS_FILE, allow_pickle=False)
            lists_path = path / _LISTS_FILE
            lists = np.load(lists_path, allow_pickle=False) if lists_path.exists() else None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"unreadable snapshot: {exc}") from exc
        described = (meta.get("format"), meta.get("model_digest")) if isinstance(meta, dict) else ()
        if described != (_SNAPSHOT_FORMAT, self.model_digest) or rows.ndim != 2:
            raise ConfigError("the snapshot is not one of this store's model")
        if len(rows) != meta.get("rows"):
            raise ConfigError(f"the snapshot holds {len(rows)} rows, not {meta.get('rows')}")
        pipeline = _load(self.model_dir)
        if len(rows):
            pipeline.learn_rows(np.asarray(rows, dtype=np.float32), lists)
        return pipeline

    def _remove_snapshots(self, keep: Path | None, staging: bool = False) -> None:
        """Every snapshot but ``keep``; with ``staging``, also the staging folders of saves
        that a crash interrupted (at open: none is being written)."""
        assert self.state_dir is not None
        for path in self.state_dir.iterdir():
            stale = staging and path.name.startswith(".snapshot-") and path.name.endswith(".saving")
            if (_SNAPSHOT.match(path.name) and path != keep) or stale:
                shutil.rmtree(path, ignore_errors=True)

    def healthy(self) -> bool:
        """The state directory is writable (the store is reachable)."""
        if self.state_dir is None:
            return True
        return os.access(self.state_dir / _WINDOW, os.W_OK)

    def start(self) -> None:
        """Start the periodic snapshot thread."""
        if self.state_dir is None or self._timer is not None:
            return
        self._timer = threading.Thread(target=self._run_timer, name="loghunt-store", daemon=True)
        self._timer.start()

    def _run_timer(self) -> None:
        while not self._stop.wait(self.persist_every_s):
            try:
                with self.lock:
                    self._evict(time.time())
                self.persist()
            except Exception:  # the timer must outlive any one failure
                log.exception("store timer: eviction or snapshot failed")

    def close(self) -> None:
        """Stop the timer and write a final snapshot."""
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
            self._timer = None
        self.wait_rebuilt()
        self.persist()
        if self._unlock is not None:
            self._unlock()


def _lock_state_dir(state_dir: Path) -> int | None:
    """Hold an exclusive lock on ``state_dir`` while the store is open; returns its descriptor.

    Two processes appending to one window would interleave their batches and snapshots. The
    operating system drops the lock when the process ends, even on ``kill -9``, so a crash
    never leaves a stale lock behind. Where ``fcntl`` is missing (Windows) nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX
        return None
    fd = os.open(state_dir / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"{state_dir} is in use by another loghunt store (pid {holder}); "
            "give each service or consumer its own --state-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # releases the lock


def model_digest(model_dir: Path) -> str:
    """A short id of one saved model artifact: a digest of its manifest."""
    manifest = model_dir / "manifest.json"
    if not manifest.is_file():
        raise ConfigError(f"{model_dir} is not a saved model (no manifest.json)")
    return hashlib.sha256(manifest.read_bytes()).hexdigest()[:16]


def _saved_n_learned(model_dir: Path) -> int:
    """How many rows a saved model had learned (novelty mode) when it was saved."""
    manifest = orjson.loads((model_dir / "manifest.json").read_bytes())
    return int(manifest.get("training", {}).get("n_learned", 0))


def _load(path: Path, need_learn: bool = True) -> Any:
    from loghunt.model import load_model

    pipeline = load_model(path)
    if need_learn and not callable(getattr(pipeline, "learn", None)):
        raise ConfigError("this loghunt's Pipeline has no learn(); novelty mode is unavailable")
    return pipeline


def _digest(events: pl.DataFrame) -> str:
    ids = sorted(events.get_column(ocsf.EVENT_ID).cast(pl.Utf8).fill_null("").to_list())
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _scan_window(folder: Path) -> list[LearnedBatch]:
    batches = []
    for path in folder.iterdir():
        if path.name.startswith(".tmp"):
            path.unlink(missing_ok=True)  # a write the crash interrupted: never acknowledged
            continue
        batch = LearnedBatch.parse(path)
        if batch is not None:
            batches.append(batch)
    return sorted(batches, key=lambda b: b.seq)


def _write_batch(events: pl.DataFrame, path: Path, rows: NDArray[np.float32] | None) -> None:
    if rows is not None:
        flat = pl.Series(_ROWS, np.ascontiguousarray(rows, dtype=np.float32).reshape(-1))
        events = events.with_columns(flat.reshape(rows.shape))
    tmp = path.with_name(".tmp-" + path.name)
    with tmp.open("wb") as fh:
        events.write_ipc(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _read_batch(path: Path, columns: list[str] | None = None) -> pl.DataFrame:
    # Bytes, not a mapping: evicted files get deleted.
    return pl.read_ipc(path.read_bytes(), columns=columns)


def _learn_file(pipeline: Any, batch: LearnedBatch) -> int:
    """Learn a window file again (its rows as scored, else its events featurized anew);
    returns the events of a file evicted meanwhile instead, 0 when it was learned."""
    try:
        table = _read_batch(batch.path)
    except FileNotFoundError:
        return batch.n_events
    if _ROWS in table.columns:
        pipeline.learn_rows(np.ascontiguousarray(table.get_column(_ROWS).to_numpy()))
    else:
        pipeline.learn(table)
    return 0


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(".tmp-" + path.name)
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(root))
