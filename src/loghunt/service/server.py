"""Entry points of ``loghunt serve`` and ``loghunt consume``: wire the parts and run."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from loghunt.errors import MissingExtraError
from loghunt.service.auth import check_bind, load_token
from loghunt.service.consumer import ConsumerStats, StreamConsumer
from loghunt.service.engine import Scorer
from loghunt.service.sinks import make_sink
from loghunt.service.sources import make_source
from loghunt.service.store import OnlineStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreOptions:
    """How the online store learns and persists (shared by ``serve`` and ``consume``)."""

    state_dir: Path | None = None
    learn: bool = True
    max_events: int = 1_000_000
    max_age_s: float | None = None
    persist_every_s: float = 600.0
    #: Per batch, besides flagged events, explain this many of the highest scored.
    explain_top: int = 10


def default_state_dir(model_dir: Path) -> Path:
    """``<model>.state`` beside the model: a model directory must hold only its own files."""
    return model_dir.with_name(model_dir.name + ".state")


def open_store(model_dir: Path, options: StoreOptions) -> OnlineStore:
    state = None
    if options.learn:
        state = options.state_dir or default_state_dir(model_dir)
    store = OnlineStore(
        model_dir,
        state,
        max_events=options.max_events,
        max_age_s=options.max_age_s,
        persist_every_s=options.persist_every_s,
        explain_top=options.explain_top,
    )
    # The loaded model's objects live as long as the process: kept out of the garbage
    # collector's full passes, which otherwise stall a request now and then (a full pass
    # took 80-88 ms with a 1,000,000-vector model loaded; 0.0 ms after the freeze).
    gc.freeze()
    return store


def serve(
    model_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token_file: Path | None = None,
    sink: str | None = None,
    store: StoreOptions | None = None,
    max_body_bytes: int = 16 << 20,
    max_events: int = 10_000,
    queue_capacity: int = 32,
    workers: int = 2,
) -> None:
    """Run the HTTP API until SIGINT/SIGTERM; the store is saved on the way out."""
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingExtraError("uvicorn", "service") from exc
    from loghunt.service.app import ScoringService, ServiceSettings, make_app

    token = load_token(token_file)
    check_bind(host, token)
    online = open_store(model_dir, store or StoreOptions())
    settings = ServiceSettings(
        token=token,
        max_body_bytes=max_body_bytes,
        max_events=max_events,
        queue_capacity=queue_capacity,
        workers=workers,
    )
    out = make_sink(sink) if sink else None
    service = ScoringService(Scorer(online), settings, out)
    config = uvicorn.Config(
        make_app(service),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    uvicorn.Server(config).run()


def consume(
    source_url: str,
    model_dir: Path,
    sink: str,
    *,
    store: StoreOptions | None = None,
    dead_letters: Path | None = None,
    batch_size: int = 1_000,
    max_messages: int | None = None,
    idle_exit_s: float | None = None,
) -> ConsumerStats:
    """Consume a stream until SIGINT/SIGTERM (or the limits); the store is saved at the end."""
    online = open_store(model_dir, store or StoreOptions())
    consumer = StreamConsumer(
        make_source(source_url),
        Scorer(online),
        make_sink(sink),
        dead_letters=dead_letters,
        batch_size=batch_size,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current batch", signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    online.start()
    try:
        return consumer.run(stop, max_messages=max_messages, idle_exit_s=idle_exit_s)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        consumer.close()
        online.close()


__all__ = ["StoreOptions", "consume", "default_state_dir", "serve"]
