"""A shared/exclusive lock: batches are scored side by side, learning and saving alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


class SharedLock:
    """Many holders in :meth:`shared` mode, or one (reentrant) holder in exclusive mode.

    ``with lock:`` is exclusive, like an ``RLock``; ``with lock.shared():`` admits every
    other shared holder. A waiting exclusive holder goes first: new shared holders wait for
    it, so a stream of batches cannot starve learning. The exclusive holder may take the
    lock again in either mode, a shared holder only in shared mode (an upgrade would wait
    for itself).

    Examples
    --------
    >>> lock = SharedLock()
    >>> with lock.shared(), lock.shared():  # nested in one thread: one holder
    ...     lock.readers
    1
    >>> with lock:
    ...     with lock.shared():
    ...         lock.readers
    0
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self.readers = 0
        self._owner: int | None = None
        self._depth = 0
        self._writers_waiting = 0
        self._mine = threading.local()  # this thread's shared depth

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the lock alongside other shared holders."""
        depth = getattr(self._mine, "depth", 0)
        if self._owner == threading.get_ident() or depth:
            # The exclusive holder excludes everyone already; a nested shared hold must not
            # queue behind a waiting exclusive one that waits for this very thread.
            yield
            return
        with self._cond:
            while self._owner is not None or self._writers_waiting:
                self._cond.wait()
            self.readers += 1
        self._mine.depth = 1
        try:
            yield
        finally:
            self._mine.depth = 0
            with self._cond:
                self.readers -= 1
                if self.readers == 0:
                    self._cond.notify_all()

    def acquire(self) -> None:
        """Take the lock exclusively (reentrant)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            self._writers_waiting += 1
            try:
                while self._owner is not None or self.readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._owner, self._depth = me, 1

    def release(self) -> None:
        """Release one exclusive hold."""
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a SharedLock this thread does not hold")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def __enter__(self) -> SharedLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
