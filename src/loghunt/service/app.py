"""The HTTP API (FastAPI): ``POST /v1/score``, ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from loghunt.errors import LoghuntError, MissingExtraError
from loghunt.index.threads import idle_cores
from loghunt.service.auth import check_bearer
from loghunt.service.clients import RecentClients
from loghunt.service.engine import RecordError, Scorer
from loghunt.service.metrics import ServiceMetrics
from loghunt.service.sinks import Sink, SinkError
from loghunt.service.workqueue import QueueFullError, WorkQueue

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
except ImportError as exc:  # pragma: no cover - the service extra installs it
    raise MissingExtraError("fastapi", "service") from exc

log = logging.getLogger(__name__)
_JSON = "application/json"


@dataclass(frozen=True)
class ServiceSettings:
    """Limits and security of the HTTP API.

    Parameters
    ----------
    token : str, optional
        Bearer token required on ``/v1/*`` and ``/metrics`` (``/healthz`` and ``/readyz``
        stay open for probes).
    max_body_bytes : int
        Larger request bodies get 413 without being read whole.
    max_events : int
        A body holding more records gets 413.
    queue_capacity : int
        Requests queued or being scored; past it, 429 with ``Retry-After``.
    flagged_to_sink : bool
        Write only flagged findings to the sink (normal events go to the store instead).
    workers : int
        Threads handling requests. Batches are scored side by side (learning takes turns):
        one batch's FAISS search, which runs without the GIL, overlaps another's parsing.
        With 2 clients sending 1,000-event batches at a 1,000,000-vector store, 2 threads
        served 6,103-6,650 events/s and 1 thread 4,883-4,900 (same command, interleaved).
    """

    token: str | None = None
    max_body_bytes: int = 16 << 20
    max_events: int = 10_000
    queue_capacity: int = 32
    flagged_to_sink: bool = True
    workers: int = 2


class HTTPError(LoghuntError):
    """An answer other than 200, with its status and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers or {}
        super().__init__(message)


class ScoringService:
    """What the API runs: read, score, deliver flagged findings, learn, answer.

    A request gets 200 only after its flagged findings are durable in the sink (when one is
    configured) and its normal events in the store's on-disk window (when learning).
    """

    def __init__(self, scorer: Scorer, settings: ServiceSettings, sink: Sink | None = None) -> None:
        self.scorer = scorer
        self.settings = settings
        self.sink = sink
        self.metrics = ServiceMetrics()
        self.queue = WorkQueue(settings.queue_capacity, workers=settings.workers)
        self._sink_lock = threading.Lock()  # sinks write one batch at a time
        self.metrics.watch(lambda: self.queue.depth, scorer.store)

    def handle(self, body: bytes, alone: bool = False) -> bytes:
        """Score one request body; runs on the work queue's thread. ``alone``: no other
        client sends requests at present, so this one's search may use every core."""
        table, errors = self.scorer.read(body)
        self.metrics.rejected.inc(len(errors))
        n_records = table.height + len(errors)
        if n_records > self.settings.max_events:
            raise HTTPError(413, f"{n_records} records; at most {self.settings.max_events}")
        store = self.scorer.store
        try:
            # Side by side with other requests, or alone with every core for the search.
            with idle_cores(alone and self.queue.depth == 1):
                parts = self.scorer.score_parts(table, errors)
            for part in parts:
                if self.sink is not None:
                    with self._sink_lock:
                        self.sink.write(part, self.settings.flagged_to_sink)
                self.metrics.learned.inc(self.scorer.learn_batch(part))
        except (OSError, SinkError) as exc:
            log.error("could not make the findings durable: %s", exc)
            retry = {"Retry-After": "5"}
            raise HTTPError(503, "findings could not be stored; retry", retry) from exc
        n_events = sum(p.n_events for p in parts)
        n_flagged = sum(p.n_flagged for p in parts)
        all_errors = [e for p in parts for e in p.errors]
        self.metrics.scored.inc(n_events)
        self.metrics.flagged.inc(n_flagged)
        self.metrics.rejected.inc(len(all_errors) - len(errors))  # events the model refused
        versions = [p.model_version for p in parts if p.n_events]
        answer = {
            "model_version": versions[0] if versions else store.model_version,
            "n_events": n_events,
            "n_flagged": n_flagged,
            "results": [r for p in parts for r in p.results()],
            "errors": [_error_json(e) for e in all_errors],
        }
        return orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)

    def start(self) -> None:
        self.scorer.store.start()

    def close(self) -> None:
        self.queue.shutdown(wait=True)
        if self.sink is not None:
            self.sink.close()
        self.scorer.store.close()


def make_app(service: ScoringService) -> FastAPI:
    """The FastAPI application around ``service``; its lifespan starts and closes it."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            await asyncio.to_thread(service.close)

    app = FastAPI(
        title="loghunt", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    settings = service.settings
    metrics = service.metrics
    clients = RecentClients()

    @app.post("/v1/score")
    async def score(request: Request) -> Response:
        started = time.perf_counter()
        try:
            _authorize(request, settings.token)
            body = await _read_body(request, settings.max_body_bytes)
            alone = clients.only(request.client)
            try:
                future = service.queue.submit(lambda: service.handle(body, alone))
            except QueueFullError as exc:
                headers = {"Retry-After": str(exc.retry_after)}
                raise HTTPError(429, "busy; retry later", headers) from exc
            content = await asyncio.wrap_future(future)
        except HTTPError as exc:
            metrics.requests_rejected.labels(reason=str(exc.status)).inc()
            return _error(exc.status, str(exc), exc.headers)
        except LoghuntError as exc:
            # Records that parse but cannot be scored (values the model cannot read).
            metrics.requests_rejected.labels(reason="422").inc()
            return _error(422, str(exc))
        metrics.latency.observe(time.perf_counter() - started)
        return Response(content, media_type=_JSON, headers=_SAFE)

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=_JSON, headers=_SAFE)

    @app.get("/readyz")
    async def readyz() -> Response:
        store = service.scorer.store
        ready = store.pipeline is not None and store.healthy()
        answer = {
            "ready": ready,
            "model_version": store.model_version,
            "store_events": store.size,
            "store_pending_batches": store.pending,
            "last_persist_error": store.last_persist_error,
        }
        return Response(orjson.dumps(answer), 200 if ready else 503, media_type=_JSON)

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        try:
            _authorize(request, settings.token)
        except HTTPError as exc:
            return _error(exc.status, str(exc), exc.headers)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


_SAFE = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _authorize(request: Request, token: str | None) -> None:
    if token is not None and not check_bearer(request.headers.get("authorization"), token):
        raise HTTPError(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPError(400, "invalid Content-Length")
        if int(declared) > limit:
            raise HTTPError(413, f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error_json(error: RecordError) -> dict[str, Any]:
    """A record error for the client: where and why (the internal source name left out)."""
    return {"line": error.line, "offset": error.offset, "reason": error.reason}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    content: Any = orjson.dumps({"error": message})
    return Response(content, status, media_type=_JSON, headers={**_SAFE, **(headers or {})})
