"""A bounded work queue: scoring runs on worker threads; a full queue is refused, not grown."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from loghunt.errors import LoghuntError

T = TypeVar("T")
#: Weight of the newest job in the moving average of job seconds.
_EWMA = 0.2


class QueueFullError(LoghuntError):
    """The work queue holds ``capacity`` jobs already; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"work queue full; retry after {retry_after} s")


class WorkQueue:
    """Run jobs on ``workers`` threads, holding at most ``capacity`` jobs (queued + running).

    Examples
    --------
    >>> queue = WorkQueue(capacity=2)
    >>> queue.submit(lambda: 6 * 7).result()
    42
    >>> queue.shutdown()
    """

    def __init__(self, capacity: int = 64, workers: int = 1) -> None:
        if capacity < 1 or workers < 1:
            raise ValueError("capacity and workers must be at least 1")
        self.capacity = capacity
        self.workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="loghunt-score")
        self._lock = threading.Lock()
        self._depth = 0
        self._job_seconds = 0.05

    @property
    def depth(self) -> int:
        """Jobs queued or running."""
        return self._depth

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue ``job``; raise :class:`QueueFullError` when ``capacity`` jobs are waiting."""
        with self._lock:
            if self._depth >= self.capacity:
                raise QueueFullError(self.retry_after())
            self._depth += 1
        try:
            return self._pool.submit(self._run, job)
        except RuntimeError:
            self._finished(0.0)
            raise

    def retry_after(self) -> int:
        """Whole seconds until the queue has likely drained by one job's worth of room."""
        return max(1, math.ceil(self._depth * self._job_seconds / self.workers))

    def _run(self, job: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return job()
        finally:
            self._finished(time.perf_counter() - started)

    def _finished(self, seconds: float) -> None:
        with self._lock:
            self._depth -= 1
            self._job_seconds += _EWMA * (seconds - self._job_seconds)

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting jobs; with ``wait``, finish those queued."""
        self._pool.shutdown(wait=wait)
