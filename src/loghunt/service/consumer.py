"""The stream consumer: poll a source, score, write findings durably, learn, acknowledge.

At-least-once: a batch is acknowledged only after its findings are fsync'd in the sink and
its normal events are in the store's on-disk window. A consumer killed at any point
re-reads the unacknowledged batch on restart; the rescored findings keep their ids, so the
sink holds each event once.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import polars as pl

from loghunt.index.threads import idle_cores
from loghunt.io import parse_bytes
from loghunt.schema import ocsf
from loghunt.service.engine import ScoredBatch, Scorer
from loghunt.service.sinks import Sink
from loghunt.service.sources import Message, Source

log = logging.getLogger(__name__)

# Bytes that never appear in a one-line JSON object; a message holding them would make the
# reader take the whole joined batch for binary data.
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass
class ConsumerStats:
    """Counts since the consumer started."""

    messages: int = 0
    events: int = 0
    flagged: int = 0
    written: int = 0
    dead: int = 0
    batches: int = 0
    seconds: float = 0.0
    last_batch: dict[str, float] = field(default_factory=dict)


class StreamConsumer:
    """Score a stream batch by batch (see the module docstring for the guarantees).

    Parameters
    ----------
    source : Source
        Where messages come from (:mod:`loghunt.service.sources`).
    scorer : Scorer
        The shared scoring core (and its online store).
    sink : Sink
        Where every event's finding record goes (flagged or not).
    dead_letters : path, optional
        JSON Lines file for messages that could not be read (fsync'd before the ack).
    batch_size : int
        Most messages scored together.
    """

    def __init__(
        self,
        source: Source,
        scorer: Scorer,
        sink: Sink,
        *,
        dead_letters: str | os.PathLike[str] | None = None,
        batch_size: int = 1_000,
        poll_timeout_s: float = 1.0,
    ) -> None:
        self.source = source
        self.scorer = scorer
        self.sink = sink
        self.batch_size = batch_size
        self.poll_timeout_s = poll_timeout_s
        self.dead_path = None if dead_letters is None else Path(dead_letters)
        self.stats = ConsumerStats()

    def run(
        self,
        stop: threading.Event | None = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
    ) -> ConsumerStats:
        """Consume until ``stop`` is set, ``max_messages`` were handled, or the stream has been
        idle for ``idle_exit_s``."""
        stop = stop or threading.Event()
        idle_since = time.monotonic()
        while not stop.is_set():
            if max_messages is not None and self.stats.messages >= max_messages:
                break
            handled = self.run_once()
            now = time.monotonic()
            if handled:
                idle_since = now
            elif idle_exit_s is not None and now - idle_since >= idle_exit_s:
                break
        return self.stats

    def run_once(self) -> int:
        """Poll one batch and handle it; returns how many messages it held."""
        messages = self.source.poll(self.batch_size, self.poll_timeout_s)
        if not messages:
            return 0
        started = time.perf_counter()
        batches, dead = self.score(messages)
        t_scored = time.perf_counter()
        written = sum(self.sink.write(batch) for batch in batches)
        self._write_dead(dead)
        t_written = time.perf_counter()
        for batch in batches:
            self.scorer.learn_batch(batch)
        t_learned = time.perf_counter()
        self.source.ack(messages)
        done = time.perf_counter()
        s = self.stats
        s.messages += len(messages)
        s.events += sum(b.n_events for b in batches)
        s.flagged += sum(b.n_flagged for b in batches)
        s.written += written
        s.dead += len(dead)
        s.batches += 1
        s.seconds += done - started
        s.last_batch = {
            "score": t_scored - started,
            "sink": t_written - t_scored,
            "learn": t_learned - t_written,
            "ack": done - t_learned,
        }
        return len(messages)

    def score(self, messages: list[Message]) -> tuple[list[ScoredBatch], list[dict[str, object]]]:
        """Read and score a batch of messages; returns the scored parts and the dead letters.

        One part normally; more when the model refused some events, which are then isolated
        and dead-lettered (:meth:`Scorer.score_parts`), so a poisoned message cannot stall
        the stream.
        """
        good: list[Message] = []
        dead: list[dict[str, object]] = []
        for m in messages:
            reason = _refuse(m.payload)
            if reason:
                dead.append({"source": self.source.name, "key": m.key, "reason": reason})
            else:
                good.append(m)
        if not good:
            return [], dead
        # One line per message: whitespace inside a JSON document can be newlines, nothing
        # else can, so replacing them keeps every document valid.
        body = b"\n".join(
            (m.payload or b"").replace(b"\n", b" ").replace(b"\r", b" ") for m in good
        )
        read = parse_bytes(body, source=self.source.name, limits=self.scorer.limits)
        keys = [m.key for m in good]
        for d in read.dead_letters:
            key = keys[d.line - 1] if d.line is not None and 0 < d.line <= len(keys) else None
            dead.append({"source": self.source.name, "key": key, "reason": d.reason})
        with idle_cores():  # one batch at a time: nothing else wants the cores meanwhile
            parts = self.scorer.score_parts(_locate(read.table, self.source.name, keys))
        for part in parts:
            for error in part.errors:  # events the model refused
                key = (error.source or "").partition("@")[2] or None
                dead.append({"source": self.source.name, "key": key, "reason": error.reason})
        return parts, dead

    def _write_dead(self, dead: list[dict[str, object]]) -> None:
        if not dead or self.dead_path is None:
            return
        self.dead_path.parent.mkdir(parents=True, exist_ok=True)
        with self.dead_path.open("ab") as fh:
            fh.write(b"".join(orjson.dumps(d) + b"\n" for d in dead))
            fh.flush()
            os.fsync(fh.fileno())

    def close(self) -> None:
        self.source.close()
        self.sink.close()


def _refuse(payload: bytes | None) -> str | None:
    """Why a message cannot be part of a JSON Lines batch, or None."""
    if not payload or not payload.strip():
        return "empty message"
    if not payload.lstrip().startswith(b"{"):
        return "not a JSON object"
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid UTF-8"
    if _CONTROL.search(payload):
        return "control characters outside JSON strings"
    return None


def _locate(table: pl.DataFrame, name: str, keys: list[str]) -> pl.DataFrame:
    """Name each event's message (``<source>@<key>``): the stable location its id falls
    back to, instead of the line within this batch, which changes on redelivery."""
    if table.height == 0 or ocsf.SOURCE_LINE not in table.columns:
        return table
    where = pl.Series(ocsf.SOURCE_FILE, [f"{name}@{k}" for k in keys], dtype=pl.Utf8)
    lines = table.get_column(ocsf.SOURCE_LINE).cast(pl.Int64) - 1
    return table.with_columns(
        where.gather(lines).alias(ocsf.SOURCE_FILE),
        pl.lit(1, dtype=pl.Int64).alias(ocsf.SOURCE_LINE),
    )
