"""Where findings go: a JSON Lines file (fsync'd), an HTTP webhook (HMAC-signed), OCSF 2004.

A sink's ``write`` returns only once the findings are durable (on disk, or accepted by the
webhook's receiver); sources acknowledge messages after that, never before. Every record
carries its deterministic ``finding_id``: the file sink drops ids it already holds (also
across restarts), and a webhook receiver deduplicates by it (the ``Idempotency-Key`` header
names the batch).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import orjson

from loghunt.errors import ConfigError, LoghuntError, MissingExtraError
from loghunt.service.engine import ScoredBatch
from loghunt.service.ids import FINDING_ID

log = logging.getLogger(__name__)

Record = dict[str, Any]
SIGNATURE_HEADER = "X-Loghunt-Signature"
TIMESTAMP_HEADER = "X-Loghunt-Timestamp"
#: Statuses worth retrying: the receiver is overloaded or briefly down.
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class SinkError(LoghuntError):
    """Findings could not be delivered; the source must not acknowledge them."""


class Sink(Protocol):
    """Durable destination of findings."""

    def write(self, batch: ScoredBatch, flagged_only: bool = False) -> int:
        """Deliver the batch's findings durably; returns how many were new."""
        ...

    def close(self) -> None: ...


class JsonlSink:
    """Append finding records to a JSON Lines file, fsync'd, each ``finding_id`` once.

    Opening an existing file reads the ids it holds and cuts a torn last line (a crash in
    the middle of a write), so a restarted consumer that rescores redelivered events never
    writes a finding twice. Only the ``remember`` most recent ids are kept (about 100 bytes
    each): redelivered events are recent ones, and a sink that runs for months must not grow
    without bound.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "findings.jsonl"
    >>> sink = JsonlSink(path)
    >>> sink.write_records([{"finding_id": "a"}, {"finding_id": "b"}])
    2
    >>> sink.close()
    >>> again = JsonlSink(path)
    >>> again.write_records([{"finding_id": "a"}])
    0
    >>> again.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fsync: bool = True,
        key: Callable[[Record], str] = lambda record: str(record[FINDING_ID]),
        remember: int = 1_000_000,
    ) -> None:
        if remember < 1:
            raise ConfigError(f"remember must be at least 1, got {remember}")
        self.path = Path(path)
        self.fsync = fsync
        self.key = key
        self.remember = remember
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._order = deque(_recover(self.path, key, remember))
        self._seen = set(self._order)
        self._fh = self.path.open("ab")

    def __len__(self) -> int:
        return len(self._seen)

    def write(self, batch: ScoredBatch, flagged_only: bool = False) -> int:
        return self.write_records(batch.records(flagged_only))

    def write_records(self, records: list[Record]) -> int:
        """Append the records whose key is new; fsync; returns how many were written."""
        lines = []
        for record in records:
            fid = self.key(record)
            if fid not in self._seen:
                self._note(fid)
                lines.append(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))
        if lines:
            self._fh.write(b"\n".join(lines) + b"\n")
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
        return len(lines)

    def close(self) -> None:
        self._fh.close()

    def _note(self, fid: str) -> None:
        """Remember a new ``fid``, forgetting the oldest id past ``remember``."""
        self._seen.add(fid)
        self._order.append(fid)
        if len(self._order) > self.remember:
            self._seen.discard(self._order.popleft())


def _recover(path: Path, key: Callable[[Record], str], keep: int) -> deque[str]:
    """The ids of the file's last ``keep`` records, in order; a torn last line is cut off."""
    seen: deque[str] = deque(maxlen=keep)
    if not path.exists():
        return seen
    good = 0
    with path.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):
                break
            try:
                seen.append(key(orjson.loads(line)))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                break
            good += len(line)
    if good != path.stat().st_size:
        log.warning("%s: cutting a torn last record at byte %d", path, good)
        with path.open("r+b") as fh:
            fh.truncate(good)
            os.fsync(fh.fileno())
    return seen


class OcsfSink:
    """Flagged findings as OCSF Detection Finding (class 2004) objects, one per line.

    Deduplicated by ``finding_info.uid`` (the finding id), like :class:`JsonlSink`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from loghunt.output.ocsf import to_ocsf

        self._to_ocsf = to_ocsf
        self._inner = JsonlSink(path, key=lambda record: str(record["finding_info"]["uid"]))

    def write(self, batch: ScoredBatch, flagged_only: bool = True) -> int:
        if batch.findings is None:
            return 0
        return self._inner.write_records(list(self._to_ocsf(batch.findings)))

    def close(self) -> None:
        self._inner.close()


class WebhookSink:
    """POST finding records as a JSON array to ``url``, signed with HMAC-SHA256.

    The signature header is ``sha256=<hex>`` over ``"<timestamp>.<body>"`` (the timestamp is
    sent in its own header, so a receiver can refuse old replays). Timeouts, connection
    errors and 408/425/429/5xx answers are retried with exponential backoff and jitter;
    another 4xx is a permanent refusal.

    Parameters
    ----------
    url : str
        The receiver.
    secret : bytes
        The shared HMAC key.
    max_retries : int
        Retries after the first attempt before giving up with :class:`SinkError`.
    backoff_s : float
        First retry delay; each retry doubles it (capped at ``max_backoff_s``).
    """

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        max_retries: int = 6,
        backoff_s: float = 0.2,
        max_backoff_s: float = 30.0,
        timeout_s: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise MissingExtraError("httpx", "service") from exc

        if not secret:
            raise ConfigError("a webhook sink needs a secret (LOGHUNT_WEBHOOK_SECRET)")
        self.url = url
        self.secret = secret
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._client = httpx.Client(timeout=timeout_s)
        self._errors: tuple[type[Exception], ...] = (httpx.TransportError,)

    def write(self, batch: ScoredBatch, flagged_only: bool = False) -> int:
        return self.write_records(batch.records(flagged_only))

    def write_records(self, records: list[Record]) -> int:
        """POST the records (one request, retried); returns how many were delivered."""
        if not records:
            return 0
        body = orjson.dumps(records, option=orjson.OPT_SERIALIZE_NUMPY)
        key = hashlib.sha256("\n".join(r[FINDING_ID] for r in records).encode()).hexdigest()
        for attempt in range(self.max_retries + 1):
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "Idempotency-Key": key,
                TIMESTAMP_HEADER: stamp,
                SIGNATURE_HEADER: sign(self.secret, stamp, body),
            }
            try:
                response = self._client.post(self.url, content=body, headers=headers)
            except self._errors as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return len(records)
                if response.status_code not in _RETRY_STATUS:
                    raise SinkError(f"webhook refused the findings: HTTP {response.status_code}")
                reason = f"HTTP {response.status_code}"
            if attempt < self.max_retries:
                delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
                log.warning("webhook attempt %d failed (%s); retrying", attempt + 1, reason)
                self._sleep(delay * random.uniform(0.5, 1.0))
        raise SinkError(f"webhook failed after {self.max_retries + 1} attempts: {reason}")

    def close(self) -> None:
        self._client.close()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The webhook signature header value.

    Examples
    --------
    >>> sign(b"k", "1700000000", b"[]")[:7]
    'sha256='
    """
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is valid for ``body`` (constant-time), for receivers."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def make_sink(spec: str) -> Sink:
    """A sink from ``jsonl:PATH``, ``ocsf:PATH`` or ``webhook:URL`` (secret from the
    ``LOGHUNT_WEBHOOK_SECRET`` environment variable).

    Examples
    --------
    >>> import tempfile
    >>> sink = make_sink("jsonl:" + tempfile.mkdtemp() + "/f.jsonl")
    >>> type(sink).__name__
    'JsonlSink'
    >>> sink.close()
    """
    kind, _, target = spec.partition(":")
    if not target:
        raise ConfigError(f"sink must look like jsonl:PATH, ocsf:PATH or webhook:URL, got {spec!r}")
    if kind == "jsonl":
        return JsonlSink(target)
    if kind == "ocsf":
        return OcsfSink(target)
    if kind == "webhook":
        secret = os.environ.get("LOGHUNT_WEBHOOK_SECRET", "").encode()
        return WebhookSink(target, secret)
    raise ConfigError(f"unknown sink {kind!r}; use jsonl, ocsf or webhook")


def read_jsonl(path: str | os.PathLike[str]) -> Iterable[Record]:
    """The records of a JSON Lines sink file (for tests and tools)."""
    with Path(path).open("rb") as fh:
        for line in fh:
            if line.strip():
                yield orjson.loads(line)
