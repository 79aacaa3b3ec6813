"""Sinks: the JSONL file (fsync, dedup across restarts) and the signed, retrying webhook."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from loghunt.errors import ConfigError
from loghunt.service.engine import Scorer
from loghunt.service.sinks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    JsonlSink,
    SinkError,
    WebhookSink,
    make_sink,
    read_jsonl,
    verify,
)
from loghunt.service.store import OnlineStore

SECRET = b"webhook-secret"


def test_jsonl_sink_writes_each_id_once_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "out" / "findings.jsonl"
    sink = JsonlSink(path)
    assert sink.write_records([{"finding_id": "a", "x": 1}, {"finding_id": "b"}]) == 2
    assert sink.write_records([{"finding_id": "a", "x": 2}]) == 0
    sink.close()
    with path.open("ab") as fh:  # a crash in the middle of a write
        fh.write(b'{"finding_id": "c", "x"')
    reopened = JsonlSink(path)
    assert len(reopened) == 2
    assert reopened.write_records([{"finding_id": "b"}, {"finding_id": "c"}]) == 1
    reopened.close()
    assert [r["finding_id"] for r in read_jsonl(path)] == ["a", "b", "c"]
    assert next(iter(read_jsonl(path)))["x"] == 1


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver: fails the first ``fail`` requests with ``status``, then accepts."""

    server: Any

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        state = self.server.state
        state["attempts"] += 1
        if state["attempts"] <= state["fail"]:
            self.send_response(state["status"])
            self.end_headers()
            return
        ok = verify(SECRET, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER])
        state["received"].append((ok, self.headers["Idempotency-Key"], orjson.loads(body)))
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, dict[str, Any]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.state = {"attempts": 0, "fail": 0, "status": 503, "received": []}  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", server.state  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_webhook_signs_and_retries_with_backoff(
    receiver: tuple[str, dict[str, Any]],
) -> None:
    url, state = receiver
    state["fail"] = 3
    delays: list[float] = []
    sink = WebhookSink(url, SECRET, backoff_s=0.1, sleep=delays.append)
    records = [{"finding_id": "f1", "combined_score": 0.9}, {"finding_id": "f2"}]
    assert sink.write_records(records) == 2
    assert state["attempts"] == 4
    ok, key, body = state["received"][0]
    assert ok and body == records and len(key) == 64
    assert len(delays) == 3 and delays[2] > delays[0]  # exponential, with jitter
    assert all(0.05 <= d <= 0.4 for d in delays)
    sink.close()


def test_webhook_gives_up_on_refusal_and_on_exhaustion(
    receiver: tuple[str, dict[str, Any]],
) -> None:
    url, state = receiver
    dead = "http://127.0.0.1:9/hook"  # discard port: connection refused
    cases = [(url, 1, 400, 6, "HTTP 400"), (url, 10, 503, 2, "after 3 attempts")]
    cases.append((dead, 0, 0, 1, "ConnectError"))
    for target, fail, status, retries, error in cases:
        state["attempts"], state["fail"], state["status"] = 0, fail, status
        hook = WebhookSink(target, SECRET, max_retries=retries, sleep=lambda s: None)
        with pytest.raises(SinkError, match=error):
            hook.write_records([{"finding_id": "x"}])
        hook.close()
    assert state["received"] == []


def test_sink_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = make_sink(f"jsonl:{tmp_path}/f.jsonl")
    assert isinstance(sink, JsonlSink)
    sink.close()
    monkeypatch.delenv("LOGHUNT_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="secret"):
        make_sink("webhook:http://127.0.0.1:9/")
    monkeypatch.setenv("LOGHUNT_WEBHOOK_SECRET", "s")
    hook = make_sink("webhook:http://127.0.0.1:9/")
    assert isinstance(hook, WebhookSink)
    hook.close()
    with pytest.raises(ConfigError, match="unknown sink"):
        make_sink("kafka:x")


def test_ocsf_sink_writes_detection_findings_once(
    model_dir: Path, tmp_path: Path, new_records: list[dict[str, Any]], to_ndjson: Any
) -> None:
    scorer = Scorer(OnlineStore(model_dir), learn=False)
    batch = scorer.score_bytes(to_ndjson(new_records[:400]))
    sink = make_sink(f"ocsf:{tmp_path}/ocsf.jsonl")
    assert sink.write(batch) == batch.n_flagged > 0
    assert sink.write(scorer.score_bytes(to_ndjson(new_records[:400]))) == 0  # redelivery
    sink.close()
    findings = list(read_jsonl(tmp_path / "ocsf.jsonl"))
    assert {f["class_uid"] for f in findings} == {2004}
    flagged = {r["finding_id"] for r in batch.results() if r["flagged"]}
    assert {f["finding_info"]["uid"] for f in findings} == flagged


def test_jsonl_sink_remembers_only_the_most_recent_ids(tmp_path: Path) -> None:
    path = tmp_path / "findings.jsonl"
    sink = JsonlSink(path, remember=3)
    assert sink.write_records([{"finding_id": f"f{i}"} for i in range(5)]) == 5
    assert sink.write_records([{"finding_id": "f4"}, {"finding_id": "f2"}]) == 0  # recent
    assert len(sink) == 3
    sink.close()
    again = JsonlSink(path, remember=3)  # reopened: the file's last ids are remembered
    assert again.write_records([{"finding_id": "f3"}, {"finding_id": "f9"}]) == 1
    again.close()
