"""The Redis Streams source against a real redis-server: at-least-once, exactly once in the sink."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from loghunt.service.consumer import StreamConsumer
from loghunt.service.engine import Scorer
from loghunt.service.sinks import JsonlSink, read_jsonl
from loghunt.service.sources import RedisStreamSource, make_source
from loghunt.service.store import OnlineStore

BAD = [b"{oops", b"", b"[1, 2]", b'{"eventName": "\xff"}', b'{"a": "\x01"}', b"   "]


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()


@pytest.fixture
def stream() -> str:
    return f"events-{uuid.uuid4().hex[:8]}"


def produce(client: redis.Redis, stream: str, payloads: list[bytes]) -> None:
    pipe = client.pipeline(transaction=False)
    for payload in payloads:
        pipe.xadd(stream, {"event": payload})
    pipe.execute()


def consumer(
    url: str, model_dir: Path, tmp_path: Path, name: str = "c1", claim_ms: int = 60_000
) -> StreamConsumer:
    source = RedisStreamSource.from_url(f"{url}&consumer={name}&claim_idle_ms={claim_ms}")
    scorer = Scorer(OnlineStore(model_dir, tmp_path / "state"))
    sink = JsonlSink(tmp_path / "findings.jsonl")
    return StreamConsumer(
        source, scorer, sink, dead_letters=tmp_path / "dead.jsonl", batch_size=400
    )


def test_every_message_is_scored_once_and_acknowledged(
    client: redis.Redis,
    redis_url: str,
    stream: str,
    model_dir: Path,
    tmp_path: Path,
    new_records: list[dict[str, Any]],
) -> None:
    records = new_records[:1_000]
    # A time past year 9999 is read as unknown: the event is still scored, not dead-lettered.
    odd = dict(next(r for r in records if r.get("class_uid") == 3002), time=1e308)
    odd["metadata"] = {**odd["metadata"], "uid": "odd-time"}
    produce(client, stream, [orjson.dumps(r) for r in records[:500]] + BAD)
    produce(client, stream, [orjson.dumps(odd)])
    produce(client, stream, [orjson.dumps(r) for r in records[500:]])
    client.xadd(stream, {"other": b"no event field"})
    url = f"{redis_url}/{stream}?group=hunters"
    worker = consumer(url, model_dir, tmp_path)
    stats = worker.run(idle_exit_s=0.5)
    worker.close()
    assert stats.messages == 1_000 + len(BAD) + 2 and stats.events == 1_001
    findings = list(read_jsonl(tmp_path / "findings.jsonl"))
    assert sorted(f["event_id"] for f in findings) == sorted(
        [*(r.get("eventID") or r["metadata"]["uid"] for r in records), "odd-time"]
    )
    assert len({f["finding_id"] for f in findings}) == 1_001
    dead = list(read_jsonl(tmp_path / "dead.jsonl"))
    assert len(dead) == len(BAD) + 1 and all(d["key"] for d in dead)
    assert {d["reason"] for d in dead} >= {"empty message", "not a JSON object", "invalid UTF-8"}
    assert client.xpending(stream, "hunters")["pending"] == 0


def test_restarted_consumer_reclaims_pending_entries(
    client: redis.Redis,
    redis_url: str,
    stream: str,
    model_dir: Path,
    tmp_path: Path,
    new_records: list[dict[str, Any]],
) -> None:
    records = new_records[:900]
    produce(client, stream, [orjson.dumps(r) for r in records])
    url = f"{redis_url}/{stream}?group=g"
    # c1 reads two batches and dies before acknowledging them (one was even written).
    crashed = consumer(url, model_dir, tmp_path, "c1")
    for part in crashed.score(crashed.source.poll(300, 1.0))[0]:
        crashed.sink.write(part)
    crashed.source.poll(300, 1.0)
    crashed.close()
    crashed.scorer.store.close()  # its process ends: the state directory's lock is free again
    assert client.xpending(stream, "g")["pending"] == 600
    # c2 takes the rest, and, once c1's entries are idle long enough, those too.
    other = consumer(url, model_dir, tmp_path, "c2", claim_ms=0)
    other.run(idle_exit_s=0.5)
    other.close()
    assert client.xpending(stream, "g")["pending"] == 0
    findings = list(read_jsonl(tmp_path / "findings.jsonl"))
    assert len(findings) == 900 == len({f["event_id"] for f in findings})


def test_same_consumer_resumes_its_own_pending_entries_first(
    client: redis.Redis, redis_url: str, stream: str
) -> None:
    produce(client, stream, [orjson.dumps({"n": i}) for i in range(10)])
    url = f"{redis_url}/{stream}?group=g&consumer=me"
    first = make_source(url)
    taken = first.poll(4, 1.0)
    first.close()
    again = make_source(url)
    assert [m.key for m in again.poll(10, 1.0)] == [m.key for m in taken]
    assert len(again.poll(10, 1.0)) == 6
    again.close()
