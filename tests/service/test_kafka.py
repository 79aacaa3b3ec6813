"""The Kafka source against librdkafka's built-in mock cluster: commit only after the sink."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer

from loghunt.service.consumer import StreamConsumer
from loghunt.service.engine import Scorer
from loghunt.service.sinks import JsonlSink, read_jsonl
from loghunt.service.sources import KafkaSource, Message
from loghunt.service.store import OnlineStore

TOPIC = "cloudtrail"
#: The next-generation group protocol (KIP-848) joins in milliseconds on the mock cluster; the
#: classic one waits seconds for each rebalance. KafkaSource itself keeps librdkafka's default.
FAST = {"group.protocol": "consumer"}


@pytest.fixture
def brokers() -> Iterator[tuple[str, Producer]]:
    """A one-broker mock cluster (owned by the producer) and its address."""
    producer = Producer({"test.mock.num.brokers": 1, "logger": logging.getLogger("kafka")})
    address = producer.list_topics(timeout=10).brokers
    yield ",".join(f"{b.host}:{b.port}" for b in address.values()), producer
    producer.flush(10)


def poll_until(source: KafkaSource, n: int, timeout_s: float = 30) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        got += source.poll(n - len(got), 0.5)
    return got


def test_offsets_are_committed_only_for_acknowledged_messages(
    brokers: tuple[str, Producer],
) -> None:
    servers, producer = brokers
    for i in range(30):
        producer.produce(TOPIC, orjson.dumps({"n": i}))
    producer.flush(10)
    url = f"kafka://{servers}/{TOPIC}?group=g1"
    first = KafkaSource({**_config(url), **FAST}, TOPIC)
    taken = poll_until(first, 30)
    assert len(taken) == 30
    first.ack(taken[:10])  # the first ten were made durable, then the consumer died
    first.close()
    second = KafkaSource({**_config(url), **FAST}, TOPIC)
    again = poll_until(second, 20)
    assert sorted(_n(again)) == sorted(_n(taken[10:]))
    second.ack(again)
    second.close()


def test_consumer_scores_a_kafka_topic_into_the_sink(
    brokers: tuple[str, Producer],
    model_dir: Path,
    tmp_path: Path,
    new_records: list[dict[str, Any]],
) -> None:
    servers, producer = brokers
    records = new_records[:600]
    for record in records:
        producer.produce("events", orjson.dumps(record))
    producer.flush(10)
    source = KafkaSource.from_url(f"kafka://{servers}/events?group=hunt&group.protocol=consumer")
    scorer = Scorer(OnlineStore(model_dir, tmp_path / "state"))
    worker = StreamConsumer(source, scorer, JsonlSink(tmp_path / "f.jsonl"), batch_size=250)
    deadline = time.monotonic() + 60
    while worker.stats.events < 600 and time.monotonic() < deadline:
        worker.run_once()
    worker.close()
    findings = list(read_jsonl(tmp_path / "f.jsonl"))
    assert len(findings) == 600 == len({f["finding_id"] for f in findings})


def _n(messages: list[Message]) -> list[int]:
    return [orjson.loads(m.payload or b"")["n"] for m in messages]


def _config(url: str) -> dict[str, Any]:
    servers = url.split("//", 1)[1].split("/", 1)[0]
    return {"bootstrap.servers": servers, "group.id": url.rsplit("=", 1)[1]}
