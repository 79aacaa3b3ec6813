"""Prometheus metrics of the service, in a registry of its own (one per app)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from loghunt.errors import MissingExtraError

try:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
except ImportError as exc:  # pragma: no cover - the service extra installs it
    raise MissingExtraError("prometheus-client", "service") from exc

#: Request latency buckets, seconds: a 1-event request takes milliseconds, 10,000 seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


#: Gauges read from the online store at each scrape: name, help, the store's attribute.
STORE_GAUGES = (
    ("loghunt_store_events", "Learned events in the store.", "size"),
    (
        "loghunt_store_pending_batches",
        "Learned batches buffered on disk, not yet in a snapshot.",
        "pending",
    ),
    ("loghunt_store_persist_failures", "Snapshots that failed.", "persist_failures"),
    (
        "loghunt_store_evicted_unforgotten",
        "Evicted events the model still holds until its rebuild ends.",
        "forgetting",
    ),
    ("loghunt_store_rebuild_failures", "Store rebuilds that failed.", "rebuild_failures"),
)


class ServiceMetrics:
    """Counters, the latency histogram and live gauges (queue depth, store size).

    Examples
    --------
    >>> m = ServiceMetrics()
    >>> m.scored.inc(3)
    >>> b"loghunt_events_scored_total 3.0" in m.render()
    True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.scored = Counter("loghunt_events_scored", "Events scored.", registry=r)
        self.flagged = Counter("loghunt_events_flagged", "Events flagged.", registry=r)
        self.rejected = Counter(
            "loghunt_records_rejected", "Records that could not be read.", registry=r
        )
        self.requests_rejected = Counter(
            "loghunt_requests_rejected",
            "Requests refused, by reason.",
            ["reason"],
            registry=r,
        )
        self.learned = Counter(
            "loghunt_events_learned", "Normal events added to the store.", registry=r
        )
        self.latency = Histogram(
            "loghunt_request_seconds",
            "Seconds to answer a scoring request, queueing included.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("loghunt_queue_depth", "Jobs queued or running.", registry=r)

    def watch(self, queue_depth: Callable[[], float], store: object) -> None:
        """Read the queue depth and the store's gauges (:data:`STORE_GAUGES`) at each scrape."""
        self.queue_depth.set_function(queue_depth)
        for name, text, attribute in STORE_GAUGES:
            Gauge(name, text, registry=self.registry).set_function(
                functools.partial(_read_float, store, attribute)
            )

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return bytes(generate_latest(self.registry))


def _read_float(owner: object, attribute: str) -> float:
    return float(getattr(owner, attribute))
