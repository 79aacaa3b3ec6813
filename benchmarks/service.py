"""The streaming service under load: HTTP latency and throughput, consumer rate, hot-path profile.

    python benchmarks/service.py                         # model fitted on 100,000 events
    python benchmarks/service.py --fit-events 20000 --seconds 5     # smoke run
    python benchmarks/service.py --model saved-model/    # reuse a model (fitted elsewhere)

What it measures, on this machine:

* **HTTP**: ``loghunt serve`` runs in its own process (learning on, so every request also
  writes its normal events to the store's window, fsync'd); this process drives it over
  loopback with ``--clients`` concurrent connections and batches of 1, 100 and 1,000 events,
  and reports events/s and p50/p95/p99 request latency (client side, queueing included).
* **Consumer**: events/s of :class:`~loghunt.service.consumer.StreamConsumer` reading a Redis
  stream (a private redis-server) into a fsync'd JSONL sink, learning as it goes.
* **Hot path**: where the time of one batch goes (parse, normalise, featurize, search +
  detectors, explanations, findings table, response, store), in this process: batches of 1,
  100 and 1,000 events searched on every core (as the service does for a lone client) and
  1,000 searched on one core (as for two clients).

Events come from the synthetic organisation (``loghunt.synth``): the model is fitted on the
first ``--fit-events`` of a scenario and scored with the events after them. Writes
``benchmarks/results/service.md`` and ``service.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import redis

from loghunt.index import measure_recall
from loghunt.index.threads import idle_cores
from loghunt.io import parse_bytes
from loghunt.model import save_model
from loghunt.pipeline import Pipeline
from loghunt.schema import normalize
from loghunt.service.consumer import StreamConsumer
from loghunt.service.engine import Scorer, conform
from loghunt.service.server import StoreOptions
from loghunt.service.sinks import JsonlSink
from loghunt.service.sources import RedisStreamSource
from loghunt.service.store import OnlineStore
from loghunt.synth import ScenarioConfig, generate_scenario

RESULTS = Path(__file__).resolve().parent / "results"
TOKEN = "benchmark-token-0123456789"
#: What `loghunt serve` and `loghunt consume` explain per batch by default.
EXPLAIN_TOP = StoreOptions().explain_top
Record = dict[str, Any]


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="loghunt-bench-service-"))
    try:
        report = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.write_text(to_markdown(report))
    print(to_markdown(report))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit-events", type=int, default=100_000)
    parser.add_argument("--score-events", type=int, default=50_000)
    parser.add_argument("--model", type=Path, help="use this saved model instead of fitting")
    parser.add_argument("--save-model", type=Path, help="keep the fitted model here")
    parser.add_argument(
        "--score-file", type=Path, help="with --model: NDJSON events to score (else generated)"
    )
    parser.add_argument("--batches", default="1,100,1000")
    parser.add_argument(
        "--clients", default="1,2", help="concurrent HTTP connections, one table per count"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per batch size")
    parser.add_argument("--workers", type=int, default=2, help="the service's request threads")
    parser.add_argument(
        "--max-store-events",
        type=int,
        help="the service's store limit (steady state: evictions and rebuilds while serving)",
    )
    parser.add_argument("--no-consumer", dest="consumer", action="store_false")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--consumer-events", type=int, default=30_000)
    parser.add_argument("--out", default=str(RESULTS / "service.md"))
    return parser.parse_args()


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    if args.model is not None and args.score_file is not None:
        base, new = [], [orjson.loads(line) for line in args.score_file.read_bytes().splitlines()]
    else:
        base, new = generate(args.fit_events, args.score_events)
    model = args.model
    fit_seconds = None
    if model is None:
        model = args.save_model or work / "model"
        started = time.perf_counter()
        fit_model(base, new, model)
        fit_seconds = time.perf_counter() - started
        print(f"fitted and saved in {fit_seconds:.1f} s", flush=True)
    manifest = json.loads((model / "manifest.json").read_text())
    config = manifest["config"]
    report: dict[str, Any] = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "load_before": os.getloadavg()[0],
        "fit_events": manifest["training"]["n_events"],
        "pipeline": f"{' + '.join(config['detectors'])} on {config['space']}",
        "fit_seconds": fit_seconds,
        "clients": [int(c) for c in args.clients.split(",")],
        "store": describe_store(model, new, work),
        "workers": args.workers,
        "max_store_events": args.max_store_events,
        "profile": profile(model, new, work) if args.profile else {},
    }
    report["http"] = bench_http(model, new, work, args)
    report["consumer"] = (
        bench_consumer(model, new[: args.consumer_events], work) if args.consumer else None
    )
    report["load_after"] = os.getloadavg()[0]
    return report


def fit_model(base: list[Record], new: list[Record], path: Path, tune_events: int = 2_000) -> None:
    """The default pipeline with every training event in its store, tuned on live events.

    ``fit`` tunes the index's search on indexed rows; later events need more effort for the
    same recall, so it is re-tuned on the last ``tune_events`` events to score (the recall
    reported is measured on the first 1,000).
    """
    pipeline = Pipeline(reference_size=len(base)).fit(parse_bytes(_ndjson(base)).table)
    index = pipeline.ensemble_.index_
    if index is not None:
        kinds = {c.name: c.kind for c in pipeline.featurizer_.schema_.columns}
        live = conform(normalize(parse_bytes(_ndjson(new[-tune_events:])).table), kinds)
        index.retune(pipeline.featurizer_.transform(live))
    save_model(pipeline, path)


def generate(fit_events: int, score_events: int) -> tuple[list[Record], list[Record]]:
    """The synthetic organisation's first ``fit_events`` events, and the ones after them."""
    total = fit_events + score_events
    started = time.perf_counter()
    scenario = generate_scenario(
        ScenarioConfig(n_events=total, days=max(14, total // 20_000), seed=0)
    )
    records = sorted(scenario.cloudtrail + scenario.auth, key=_epoch_ms)
    print(f"generated {total:,} events in {time.perf_counter() - started:.1f} s", flush=True)
    return records[:fit_events], records[fit_events:]


# -- HTTP --------------------------------------------------------------------------------------
def describe_store(
    model: Path, new: list[Record], work: Path, queries: int = 1_000
) -> dict[str, Any]:
    """The model's neighbour index: vectors, columns, method, and recall against exact search."""
    store = OnlineStore(model)
    try:
        pipeline, index = store.pipeline, store.pipeline.ensemble_.index_
        if index is None:
            return {"vectors": 0}
        events = conform(normalize(parse_bytes(_ndjson(new[:queries])).table), store.input_kinds)
        X = pipeline.featurizer_.transform(events)
        if getattr(pipeline, "embedder_", None) is not None:  # the index holds embeddings
            from loghunt.embed.space import embed_events

            X = embed_events(pipeline.embedder_, events, X)
        k = pipeline.ensemble_.k_
        started = time.perf_counter()
        recall = measure_recall(index, X, k=k)
    finally:
        store.close()
    return {
        "vectors": index.n_reference_,
        "columns": index.n_features_in_,
        "method": index.method_,
        "nlist": getattr(index.index_, "nlist", None),
        "nprobe": index.nprobe_,
        "k": k,
        "recall": recall,
        "recall_seconds": time.perf_counter() - started,
    }


def bench_http(
    model: Path, new: list[Record], work: Path, args: argparse.Namespace
) -> dict[int, list[Any]]:
    port = _free_port()
    log = work / "serve.log"
    env = {**os.environ, "LOGHUNT_TOKEN": TOKEN}
    command = [sys.executable, "-m", "loghunt.cli", "serve", str(model), "--port", str(port)]
    command += ["--state-dir", str(work / "state"), "--queue", "64"]
    command += ["--workers", str(args.workers)]
    if args.max_store_events is not None:
        command += ["--max-store-events", str(args.max_store_events)]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=out, env=env)
    url = f"http://127.0.0.1:{port}"
    rows: dict[int, list[Any]] = {}
    try:
        _wait_ready(url, server, log)
        for clients in (int(c) for c in args.clients.split(",")):
            for size in (int(b) for b in args.batches.split(",")):
                row = drive(url, new, size, clients, args.seconds)
                rows.setdefault(clients, []).append(row)
                print(
                    f"{clients} client(s), batch {size}: {row['events_per_s']:,.0f} events/s, "
                    f"p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, "
                    f"p99 {row['p99_ms']:.1f} ms, max {row['max_ms']:.1f} ms",
                    flush=True,
                )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
    return rows


def drive(url: str, new: list[Record], size: int, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` connections posting ``size``-event batches for ``seconds``."""
    bodies = [_ndjson(new[i : i + size]) for i in range(0, len(new) - size + 1, size)][:2_000]
    latencies: list[float] = []
    events = 0
    refused = 0
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def client(offset: int) -> None:
        nonlocal events, refused
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            i = offset
            while time.perf_counter() < stop:
                body = bodies[i % len(bodies)]
                i += clients
                t0 = time.perf_counter()
                answer = http.post("/v1/score", content=body)
                elapsed = time.perf_counter() - t0
                with lock:
                    if answer.status_code == 200:
                        latencies.append(elapsed)
                        events += size
                    else:
                        refused += 1

    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        http.post("/v1/score", content=bodies[0])  # warm-up
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000
    return {
        "batch": size,
        "requests": len(latencies),
        "refused": refused,
        "events_per_s": events / wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


# -- consumer ----------------------------------------------------------------------------------
def bench_consumer(model: Path, records: list[Record], work: Path) -> dict[str, Any]:
    with _redis_server(work) as url:
        client = redis.Redis.from_url(url)
        stream = f"bench-{uuid.uuid4().hex[:8]}"
        for start in range(0, len(records), 10_000):
            pipe = client.pipeline(transaction=False)
            for record in records[start : start + 10_000]:
                pipe.xadd(stream, {"event": orjson.dumps(record)})
            pipe.execute()
        source = RedisStreamSource.from_url(f"{url}/{stream}?group=bench&consumer=c1")
        store = OnlineStore(model, work / "consumer-state", explain_top=EXPLAIN_TOP)
        consumer = StreamConsumer(source, Scorer(store), JsonlSink(work / "findings.jsonl"))
        parts: dict[str, float] = {}
        started = time.perf_counter()
        while consumer.stats.messages < len(records):
            if consumer.run_once():
                for key, value in consumer.stats.last_batch.items():
                    parts[key] = parts.get(key, 0.0) + value
        wall = time.perf_counter() - started
        consumer.close()
        client.close()
    stats = consumer.stats
    print(f"consumer: {stats.events / wall:,.0f} events/s", flush=True)
    return {
        "events": stats.events,
        "batches": stats.batches,
        "seconds": wall,
        "events_per_s": stats.events / wall,
        "parts_s": parts,
    }


@contextmanager
def _redis_server(work: Path) -> Iterator[str]:
    port = _free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(work)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


# -- hot path ----------------------------------------------------------------------------------
def profile(model: Path, new: list[Record], work: Path, repeats: int = 7) -> dict[str, Any]:
    """Median seconds per step of one batch: 1, 100 and 1,000 events scored as one client's
    request is (the search on every core), and 1,000 as with two clients (on one core)."""
    out: dict[str, Any] = {}
    setups = [("1 event", 1, True), ("100 events", 100, True), ("1,000 events", 1_000, True)]
    setups.append(("1,000 events, search on one core", 1_000, False))
    for label, size, idle in setups:
        store = OnlineStore(model, work / f"profile-{size}-{idle}", explain_top=EXPLAIN_TOP)
        scorer = Scorer(store)
        steps: dict[str, list[float]] = {}
        for i in range(repeats):
            body = _ndjson(new[i * size : (i + 1) * size])
            with idle_cores(idle):
                for name, seconds in _one_batch(scorer, body).items():
                    steps.setdefault(name, []).append(seconds)
        out[label] = {k: statistics.median(v) for k, v in steps.items()}
        store.close()
    return out


def _one_batch(scorer: Scorer, body: bytes) -> dict[str, float]:
    """One batch through the same calls as the service, timed step by step."""
    pipeline = scorer.store.pipeline
    timer = _Timer()
    with timer("parse (loghunt.io)"):
        table, errors = scorer.read(body)
    with timer("normalize + conform (measured apart)"):
        conform(normalize(table), scorer.store.input_kinds)
    pipeline.timings_ = {}
    with timer("score (Scorer.score_table)"):
        batch = scorer.score_table(table, errors)
    with timer("response (results + JSON)"):
        orjson.dumps({"results": batch.results()}, option=orjson.OPT_SERIALIZE_NUMPY)
    with timer("learn + store window (fsync)"):
        scorer.learn_batch(batch)
    t = timer.seconds
    inner = {n: pipeline.timings_.get(n, 0.0) for n in ("featurize", "detect", "explain")}
    mine = t["normalize + conform (measured apart)"]
    score = t["score (Scorer.score_table)"]
    steps = {"parse (loghunt.io)": t["parse (loghunt.io)"], "score (Scorer.score_table)": score}
    steps["  service normalize + conform"] = mine
    steps.update({f"  Pipeline {name}": seconds for name, seconds in inner.items()})
    # What is left: the pipeline's own normalize, the findings table and ids.
    steps["  Pipeline rest (normalize, findings, ids)"] = score - mine - sum(inner.values())
    steps["response (results + JSON)"] = t["response (results + JSON)"]
    steps["learn + store window (fsync)"] = t["learn + store window (fsync)"]
    steps["total"] = sum(v for k, v in steps.items() if not k.startswith("  "))
    return steps


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - started


# -- helpers -----------------------------------------------------------------------------------
def _ndjson(records: list[Record]) -> bytes:
    return b"\n".join(orjson.dumps(r) for r in records) + b"\n"


def _epoch_ms(record: Record) -> int:
    if "eventTime" in record:
        when = datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00"))
        return int(when.timestamp() * 1000)
    return int(record["time"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the service exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service did not become ready")


def store_line(store: dict[str, Any]) -> str:
    if not store.get("vectors"):
        return "The model has no neighbour index."
    method = store["method"]
    if method == "ivf":
        method = f"IVF, {store['nlist']:,} lists, nprobe {store['nprobe']}"
    return (
        f"The model's neighbour index holds **{store['vectors']:,} vectors** of "
        f"{store['columns']} columns ({method}); recall@{store['k']} of 1,000 scored events "
        f"against exact search: **{store['recall']:.3f}** (measured in "
        f"{store['recall_seconds']:.1f} s)."
    )


def to_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Service benchmark",
        "",
        f"`python benchmarks/service.py` on {report['date']} ({report['machine']}); model "
        f"fitted on {report['fit_events']:,} synthetic events ({report['pipeline']}). "
        f"Load average {report['load_before']:.1f} before, {report['load_after']:.1f} after "
        "(the machine is shared; timings move with it).",
        "",
        store_line(report["store"]),
        "",
        f"## HTTP (`loghunt serve --workers {report['workers']}`, learning on, loopback, "
        "clients in a second process)",
        "",
        "With one client, latency is the service's time per request, and its searches use both",
        "cores; with two, requests are scored side by side (one thread per request up to",
        "--workers, each search on one core; learning takes turns).",
        "",
        *store_limit_lines(report.get("max_store_events")),
        "| clients | batch | requests | events/s | p50 ms | p95 ms | p99 ms | max ms | 429s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients, rows in report["http"].items():
        for row in rows:
            lines.append(
                f"| {clients} | {row['batch']:,} | {row['requests']:,} | "
                f"{row['events_per_s']:,.0f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
                f"{row['p99_ms']:.1f} | {row['max_ms']:.1f} | {row['refused']} |"
            )
    lines += consumer_lines(report["consumer"]) + profile_lines(report["profile"])
    return "\n".join(lines) + "\n"


def store_limit_lines(limit: int | None) -> list[str]:
    if limit is None:
        return []
    return [
        f"The service's store keeps at most {limit:,} learned events (`--max-store-events`):",
        "past it, each eviction rebuilds the model while the service serves.",
        "",
    ]


def consumer_lines(consumer: dict[str, Any] | None) -> list[str]:
    if not consumer:
        return []
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in consumer["parts_s"].items())
    return [
        "",
        "## Consumer (Redis Streams -> JSONL sink, fsync, learning on, 1,000-message batches)",
        "",
        f"{consumer['events']:,} events in {consumer['seconds']:.1f} s: "
        f"**{consumer['events_per_s']:,.0f} events/s** ({parts}).",
    ]


def profile_lines(profile: dict[str, Any]) -> list[str]:
    if not profile:
        return []
    lines = ["", "## Where one batch spends its time (in-process, median of 7 batches, ms)", ""]
    names = list(next(iter(profile.values())))
    lines += [f"| step | {' | '.join(profile)} |", "|---|" + "---:|" * len(profile)]
    for name in names:
        cells = " | ".join(f"{v[name] * 1000:.1f}" for v in profile.values())
        lines.append(f"| {name.replace('  ', '&nbsp;&nbsp;')} | {cells} |")
    lines += [
        "",
        "Scores come from the model's own `Pipeline.score` (the batch CLI's code); the service",
        "adds the reader, a normalisation that fills the columns a batch lacks, the response and",
        "one fsync per batch for the learned events. Per request it also pays uvicorn, the work",
        "queue hand-off and, for a 1-event batch, the pipeline's fixed cost per call",
        "(benchmarks/score_latency.py measures it: about 14 ms in-process).",
    ]
    return lines


if __name__ == "__main__":
    main()
