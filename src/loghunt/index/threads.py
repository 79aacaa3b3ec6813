"""How FAISS computes: small calls on one thread, coarse quantizers with BLAS.

Starting FAISS's OpenMP threads costs more than a small search: a live batch of 100 events
against 100 rows took 0.15 ms on one thread and 6 to 12 ms on two busy cores, and adding 1,000
rows to an IVF index (which assigns them to lists with a search) 25 ms instead of ~3 ms.
When the other cores are idle, a small search against many rows is worth splitting after
all: see :func:`idle_cores`. Results are the same either way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import faiss

#: Searches of at most this many (query, reference) pairs run on one thread, unless the
#: caller declared the cores idle (:func:`idle_cores`).
ONE_THREAD_PAIRS = 5_000_000

_this_thread = threading.local()


@contextmanager
def idle_cores(idle: bool = True) -> Iterator[None]:
    """Declare, inside the block (when ``idle``), that this thread's searches may use the
    cores other work would: for a service scoring one batch at a time. Against 1,000,000
    rows, median wall time in-process: a live batch of 100 events 43.6 -> 35.2 ms, of one
    event 11.6 -> 9.5 ms.
    """
    before = getattr(_this_thread, "idle", False)
    _this_thread.idle = idle
    try:
        yield
    finally:
        _this_thread.idle = before


def search_threads(pairs: int) -> AbstractContextManager[None]:
    """FAISS's threads for a search of ``pairs`` (query, reference) pairs: one when small.

    >>> every = faiss.omp_get_max_threads()
    >>> with search_threads(1_000):
    ...     faiss.omp_get_max_threads()
    1
    >>> with idle_cores(), search_threads(1_000):
    ...     faiss.omp_get_max_threads() == every
    True
    """
    return one_faiss_thread(pairs <= ONE_THREAD_PAIRS and not getattr(_this_thread, "idle", False))


@contextmanager
def one_faiss_thread(small: bool = True) -> Iterator[None]:
    """Run FAISS on one thread (this thread's OpenMP setting) inside the block when ``small``.

    >>> with one_faiss_thread():
    ...     faiss.omp_get_max_threads()
    1
    """
    if not small:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved = 0


@contextmanager
def blas_distances() -> Iterator[None]:
    """Let FAISS compute exact distances with BLAS (a matrix product) inside the block.

    FAISS 1.15 does so only from 128,000 queries on; below, it scans row by row. An IVF
    index's coarse quantizer (each query against every list centre, a few kept) is such a
    search: with BLAS, 1,000 live queries against 1,000,000 rows in 4,000 lists took 101 ms
    instead of 130 ms. BLAS distances differ by rounding, harmless for choosing lists; the
    distances of the neighbours found are computed row by row either way. Nested and
    concurrent blocks share one setting, restored when the last one ends.
    """
    global _blas_users, _blas_saved
    with _blas_lock:
        if _blas_users == 0:
            _blas_saved = faiss.cvar.distance_compute_blas_threshold
            faiss.cvar.distance_compute_blas_threshold = 20
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                faiss.cvar.distance_compute_blas_threshold = _blas_saved
