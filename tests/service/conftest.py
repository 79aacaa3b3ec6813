"""Fixtures of the service tests: a saved model, raw events, and a real redis-server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from loghunt.io import parse_bytes
from loghunt.model import save_model
from loghunt.pipeline import Pipeline
from loghunt.synth import ScenarioConfig, generate_scenario

Record = dict[str, Any]


def scenario_records(n_events: int, seed: int, days: int = 3) -> list[Record]:
    """CloudTrail and OCSF authentication records of a synthetic organisation, time-ordered."""
    scenario = generate_scenario(ScenarioConfig(n_events=n_events, days=days, seed=seed))
    return sorted(scenario.cloudtrail + scenario.auth, key=_epoch_ms)


def _epoch_ms(record: Record) -> int:
    if "eventTime" in record:
        when = datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00"))
        return int(when.timestamp() * 1000)
    return int(record["time"])


def ndjson(records: list[Record]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


@pytest.fixture(scope="session")
def to_ndjson() -> Any:
    """The JSON Lines body of a list of records."""
    return ndjson


@pytest.fixture(scope="session")
def all_records() -> list[Record]:
    """Four days of a synthetic organisation: 9,000 events, attacks included."""
    return scenario_records(9_000, seed=1, days=4)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, all_records: list[Record]) -> Path:
    """A default pipeline fitted on the first 6,000 events and saved."""
    table = parse_bytes(ndjson(all_records[:6_000])).table
    path = tmp_path_factory.mktemp("model") / "model"
    save_model(Pipeline().fit(table), path)
    return path


@pytest.fixture(scope="session")
def new_records(all_records: list[Record]) -> list[Record]:
    """The 3,000 later events of the same organisation, to score against the model."""
    return all_records[6_000:]


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a thread; yield its URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


@pytest.fixture(scope="session")
def serve_app() -> Any:
    """``with serve_app(app) as url:`` runs the app on a real loopback socket."""
    return running


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    # CI installs it in .ci/run; a root dev box can install it the same way.
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "redis-server"], check=False, capture_output=True
        )
        found = shutil.which("redis-server")
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("redis-server is missing in CI: .ci/run must install it")
    pytest.skip("redis-server not installed (apt-get install redis-server)")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, stopped after the session."""
    binary = _redis_binary()
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    args += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
    log = (folder / "redis.log").open("wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None:
                    pytest.fail(f"redis-server exited: {(folder / 'redis.log').read_text()}")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
