"""The HTTP API: scoring, auth, limits, backpressure, metrics, and hostile input."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from loghunt.errors import ConfigError
from loghunt.service.app import ScoringService, ServiceSettings, make_app
from loghunt.service.auth import check_bind
from loghunt.service.engine import Scorer
from loghunt.service.sinks import JsonlSink, read_jsonl
from loghunt.service.store import OnlineStore

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service")


@pytest.fixture(scope="module")
def service(model_dir: Path, folder: Path) -> ScoringService:
    """One service for the module (starting one takes a second); tests use deltas."""
    store = OnlineStore(model_dir, folder / "state")
    settings = ServiceSettings(
        token=TOKEN, max_body_bytes=2_000_000, max_events=1_500, queue_capacity=4
    )
    return ScoringService(Scorer(store), settings, JsonlSink(folder / "flagged.jsonl"))


@pytest.fixture(scope="module")
def client(service: ScoringService, serve_app: Any) -> Iterator[httpx.Client]:
    with serve_app(make_app(service)) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield http


def test_scores_every_body_format(
    client: httpx.Client, new_records: list[dict[str, Any]], to_ndjson: Any
) -> None:
    records = new_records[:300]
    answers = [
        client.post("/v1/score", content=to_ndjson(records), headers=AUTH),
        client.post("/v1/score", content=orjson.dumps(records), headers=AUTH),
    ]
    cloudtrail = [r for r in records if "eventName" in r]
    envelope = orjson.dumps({"Records": cloudtrail})
    answers.append(client.post("/v1/score", content=envelope, headers=AUTH))
    for answer, n in zip(answers, (300, 300, len(cloudtrail)), strict=True):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["n_events"] == n and len(body["results"]) == n and body["errors"] == []
        first = body["results"][0]
        assert set(first) >= {"finding_id", "combined_score", "flagged", "votes", "scores"}
        assert set(first["scores"]) == {"knn", "ecod"}
        assert all(r["reasons"] for r in body["results"] if r["flagged"])
    ids = [{r["event_id"]: r["finding_id"] for r in a.json()["results"]} for a in answers[:2]]
    assert ids[0] == ids[1]


def test_flagged_go_to_the_sink_and_normal_events_to_the_store(
    client: httpx.Client,
    service: ScoringService,
    folder: Path,
    new_records: list[dict[str, Any]],
    to_ndjson: Any,
) -> None:
    body = to_ndjson(new_records[1_000:1_500])
    answer = client.post("/v1/score", content=body, headers=AUTH).json()
    flagged = {r["finding_id"] for r in answer["results"] if r["flagged"]}
    normal = {r["event_id"] for r in answer["results"] if not r["flagged"]}
    assert flagged and normal
    assert flagged <= {r["finding_id"] for r in read_jsonl(folder / "flagged.jsonl")}
    assert normal <= service.scorer.store.learned_event_ids()
    sunk = {r["event_id"] for r in read_jsonl(folder / "flagged.jsonl")}
    assert not sunk & normal


def test_auth_is_required_except_for_probes(client: httpx.Client) -> None:
    assert client.post("/v1/score", content=b"{}").status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * len(TOKEN)}
    answer = client.post("/v1/score", content=b"{}", headers=wrong)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert client.get("/metrics").status_code == 401
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_a_public_address_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="without a token"):
        check_bind("0.0.0.0", None)
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(ConfigError, match="at least 16"):
        check_bind("0.0.0.0", "short")


def test_limits_answer_413(client: httpx.Client, to_ndjson: Any) -> None:
    big = b'{"a": "' + b"x" * 2_100_000 + b'"}'
    assert client.post("/v1/score", content=big, headers=AUTH).status_code == 413
    many = to_ndjson([{"eventName": "GetObject", "n": i} for i in range(1_501)])
    answer = client.post("/v1/score", content=many, headers=AUTH)
    assert answer.status_code == 413 and "1501 records" in answer.json()["error"]


def test_full_queue_answers_429_with_retry_after(
    client: httpx.Client, service: ScoringService, new_records: list[dict[str, Any]], to_ndjson: Any
) -> None:
    gate = threading.Event()
    blockers = [service.queue.submit(gate.wait) for _ in range(service.queue.capacity)]
    try:
        answer = client.post("/v1/score", content=to_ndjson(new_records[:5]), headers=AUTH)
        assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
    finally:
        gate.set()
    for blocker in blockers:
        blocker.result(timeout=10)
    answer = client.post("/v1/score", content=to_ndjson(new_records[:5]), headers=AUTH)
    assert answer.status_code == 200


def metrics(client: httpx.Client) -> dict[str, float]:
    text = client.get("/metrics", headers=AUTH).text
    pairs = (line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    return {name: float(value) for name, value in pairs}


def test_metrics_count_what_happened(
    client: httpx.Client, new_records: list[dict[str, Any]], to_ndjson: Any
) -> None:
    before = metrics(client)
    body = to_ndjson(new_records[2_000:2_200]) + b"{broken\n"
    answer = client.post("/v1/score", content=body, headers=AUTH).json()
    client.post("/v1/score", content=b"{}")  # unauthorised
    after = metrics(client)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert delta("loghunt_events_scored_total") == 200
    assert delta("loghunt_events_flagged_total") == answer["n_flagged"]
    assert delta("loghunt_records_rejected_total") == 1
    assert delta('loghunt_requests_rejected_total{reason="401"}') == 1
    assert delta("loghunt_request_seconds_count") == 1
    assert delta("loghunt_events_learned_total") == 200 - answer["n_flagged"]
    assert after["loghunt_queue_depth"] == 0
    assert after["loghunt_store_events"] >= 200 - answer["n_flagged"]
    assert after["loghunt_store_evicted_unforgotten"] == 0


def test_odd_values_are_read_as_unknown_and_still_scored(
    client: httpx.Client, new_records: list[dict[str, Any]]
) -> None:
    records = [dict(r) for r in new_records[2_500:2_560]]
    auth = [i for i, r in enumerate(records) if r.get("class_uid") == 3002]
    records[auth[0]]["class_uid"] = "x"  # not a class number: read as unknown
    records[auth[1]]["is_mfa"] = "maybe"  # text in a boolean field: read as unknown
    records[auth[2]]["time"] = 1e308  # past year 9999: read as unknown, the event still scores
    answer = client.post("/v1/score", content=orjson.dumps(records), headers=AUTH)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["n_events"] == 60 and len(body["results"]) == 60
    assert body["errors"] == []


HOSTILE = {
    "malformed JSON": b'{"eventName": "GetObject", ',
    "deep nesting (array)": b"[" * 10_000 + b"]" * 10_000,
    "deep nesting (object)": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "invalid UTF-8": b'{"eventName": "\xff\xfe"}\n{"eventName": "ok"}\n',
    "script tags": b'{"eventName": "<script>alert(1)</script>", "userAgent": "<img src=x>"}\n'
    b'{"eventName": "javascript:alert(1)"}\n',
    "binary": bytes(range(256)) * 4,
    "empty": b"",
    "not objects": b'[1, 2, null, "x"]',
    "NaN and huge numbers": b'{"a": NaN, "b": 1e999, "c": -Infinity}\n{"a": 1}\n',
    "type clash": b'{"eventName": 5, "eventTime": "not a time", "sourceIPAddress": [1, 2]}\n',
    "csv": b"a,b\n1,2\n3,4\n",
    "nul bytes": b'{"a": "\x00"}\n',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_never_gets_a_500(
    client: httpx.Client, name: str, new_records: list[dict[str, Any]], to_ndjson: Any
) -> None:
    answer = client.post("/v1/score", content=HOSTILE[name], headers=AUTH)
    assert answer.status_code < 500, answer.text
    if answer.status_code == 200:
        body = answer.json()
        assert body["n_events"] + len(body["errors"]) >= 0
        assert "<script>" not in answer.headers.get("content-type", "")
        assert answer.headers["content-type"] == "application/json"
    good = client.post("/v1/score", content=to_ndjson(new_records[:3]), headers=AUTH)
    assert good.status_code == 200  # and it keeps serving
