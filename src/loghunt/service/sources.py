"""Stream sources: Redis Streams (consumer group) and Kafka, both at-least-once.

A source hands out messages and is told afterwards which ones to acknowledge; the consumer
acknowledges a batch only after its findings are durable in the sink. Each message is one
JSON event (or a ``{"Records": [...]}`` envelope) and has a stable ``key`` (the stream entry
id, or topic:partition:offset) from which events without an id of their own get one.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from loghunt.errors import ConfigError, LoghuntError, MissingExtraError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One message: its stable key, its payload (None when it had none) and its ack handle."""

    key: str
    payload: bytes | None
    handle: Any = None


class Source(Protocol):
    """What the consumer needs of a stream."""

    name: str

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]: ...

    def ack(self, messages: list[Message]) -> None: ...

    def close(self) -> None: ...


class SourceError(LoghuntError):
    """The stream cannot be read or acknowledged."""


class RedisStreamSource:
    """Read a Redis stream through a consumer group (XREADGROUP), acknowledging with XACK.

    On start the consumer first re-reads its own pending entries (delivered before a crash,
    never acknowledged), then claims entries idle for ``claim_idle_ms`` from consumers that
    died (XAUTOCLAIM), and only then reads new entries. Claiming is repeated every
    ``claim_idle_ms`` while running.

    Parameters
    ----------
    client : redis.Redis
        A connection.
    stream, group : str
        The stream key and consumer group (created, with the stream, when missing).
    consumer : str
        This consumer's name; keep it across restarts to resume its own pending entries.
    field : str
        The entry field holding the event's JSON.
    claim_idle_ms : int
        How long another consumer's entry must sit unacknowledged before it is taken over.
    """

    def __init__(
        self,
        client: Any,
        stream: str,
        group: str,
        consumer: str,
        *,
        field: str = "event",
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.field = field.encode()
        self.claim_idle_ms = claim_idle_ms
        self.name = f"redis:{stream}"
        self._pending_from: str | None = "0"
        self._claim_from: str | None = "0-0"
        self._next_claim = 0.0
        self._create_group()

    @classmethod
    def from_url(cls, url: str) -> RedisStreamSource:
        """``redis://[:password@]host:port/STREAM?group=G&consumer=C&field=event&claim_idle_ms=N``"""
        try:
            import redis
        except ImportError as exc:
            raise MissingExtraError("redis", "service") from exc
        parts = urlsplit(url)
        stream = unquote(parts.path.lstrip("/"))
        if parts.scheme not in ("redis", "rediss") or not stream:
            raise ConfigError(f"expected redis://host:port/STREAM?group=G, got {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        client = redis.Redis(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            password=unquote(parts.password) if parts.password else None,
            ssl=parts.scheme == "rediss",
            socket_timeout=30,
        )
        return cls(
            client,
            stream,
            query.get("group", "loghunt"),
            query.get("consumer", _default_consumer()),
            field=query.get("field", "event"),
            claim_idle_ms=int(query.get("claim_idle_ms", 60_000)),
        )

    def _create_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise SourceError(f"cannot create consumer group {self.group}: {exc}") from exc

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]:
        """Own pending entries first, then idle entries of dead consumers, then new ones."""
        if self._pending_from is not None:
            entries = self._read(self._pending_from, max_messages, None)
            if entries:
                self._pending_from = entries[-1][0].decode()
                return self._messages(entries)
            self._pending_from = None
        now = time.monotonic()
        if now >= self._next_claim:
            claimed = self._claim(max_messages)
            if claimed:
                return claimed
            self._next_claim = now + self.claim_idle_ms / 1000
        entries = self._read(">", max_messages, max(1, int(timeout_s * 1000)))
        return self._messages(entries)

    def _read(self, start: str, count: int, block_ms: int | None) -> list[Any]:
        reply = self.client.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=count, block=block_ms
        )
        return list(reply[0][1]) if reply else []

    def _claim(self, count: int) -> list[Message]:
        start = self._claim_from or "0-0"
        reply = self.client.xautoclaim(
            self.stream, self.group, self.consumer, self.claim_idle_ms, start, count=count
        )
        cursor, entries = reply[0], reply[1]
        deleted = reply[2] if len(reply) > 2 else []
        if deleted:
            # Trimmed away before anyone acknowledged them: nothing left to score.
            self.client.xack(self.stream, self.group, *deleted)
        cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        self._claim_from = None if cursor == "0-0" else cursor
        if entries:
            log.info("claimed %d idle entries from other consumers", len(entries))
        return self._messages(entries)

    def _messages(self, entries: list[Any]) -> list[Message]:
        out = []
        for entry_id, fields in entries:
            key = entry_id.decode()
            payload = fields.get(self.field) if fields else None
            out.append(Message(key, payload, entry_id))
        return out

    def ack(self, messages: list[Message]) -> None:
        if messages:
            self.client.xack(self.stream, self.group, *[m.handle for m in messages])

    def close(self) -> None:
        self.client.close()


class KafkaSource:
    """Read a Kafka topic with confluent-kafka; offsets are committed only after ``ack``.

    Auto-commit is off: the offset after each acknowledged message is committed
    synchronously, so a consumer killed before that re-reads the batch (at-least-once).

    Parameters
    ----------
    config : dict
        librdkafka configuration (``bootstrap.servers``, ``group.id``, ...).
    topic : str
        The topic.
    """

    def __init__(self, config: dict[str, Any], topic: str) -> None:
        try:
            from confluent_kafka import Consumer
        except ImportError as exc:
            raise MissingExtraError("confluent-kafka", "service") from exc
        settings = {
            "group.id": "loghunt",
            "auto.offset.reset": "earliest",
            **config,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
        }
        self.topic = topic
        self.name = f"kafka:{topic}"
        self._consumer = Consumer(settings)
        self._consumer.subscribe([topic])

    @classmethod
    def from_url(cls, url: str) -> KafkaSource:
        """``kafka://broker1:9092,broker2:9092/TOPIC?group=G`` (other query keys pass through
        as librdkafka settings)."""
        parts = urlsplit(url)
        topic = unquote(parts.path.lstrip("/"))
        if parts.scheme != "kafka" or not topic or not parts.netloc:
            raise ConfigError(f"expected kafka://brokers/TOPIC?group=G, got {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        config: dict[str, Any] = {"bootstrap.servers": parts.netloc}
        config["group.id"] = query.pop("group", "loghunt")
        config.update(query)
        return cls(config, topic)

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]:
        out = []
        for msg in self._consumer.consume(num_messages=max_messages, timeout=timeout_s):
            error = msg.error()
            if error is not None:
                if error.fatal():
                    raise SourceError(f"kafka: {error.str()}")
                log.warning("kafka: %s", error.str())
                continue
            key = f"{msg.topic()}:{msg.partition()}:{msg.offset()}"
            out.append(Message(key, msg.value(), (msg.topic(), msg.partition(), msg.offset())))
        return out

    def ack(self, messages: list[Message]) -> None:
        from confluent_kafka import TopicPartition

        last: dict[tuple[str, int], int] = {}
        for m in messages:
            topic, partition, offset = m.handle
            last[(topic, partition)] = max(offset, last.get((topic, partition), -1))
        if last:
            offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
            self._consumer.commit(offsets=offsets, asynchronous=False)

    def close(self) -> None:
        self._consumer.close()


def make_source(url: str) -> Source:
    """A source from a ``redis://`` or ``kafka://`` URL."""
    scheme = urlsplit(url).scheme
    if scheme in ("redis", "rediss"):
        return RedisStreamSource.from_url(url)
    if scheme == "kafka":
        return KafkaSource.from_url(url)
    raise ConfigError(f"unknown source {url!r}; use redis://host:port/STREAM or kafka://...")


def _default_consumer() -> str:
    """Stable across restarts on the same host, so pending entries are resumed."""
    return os.environ.get("LOGHUNT_CONSUMER") or socket.gethostname() or "loghunt"
