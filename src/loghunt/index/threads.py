"""Run small FAISS calls on one thread.

Starting FAISS's OpenMP threads costs more than a small search: a live batch of 100 events
against 100 rows took 0.15 ms on one thread and 6 to 12 ms on two busy cores, and adding 1,000
rows to an IVF index (which assigns them to lists with a search) 25 ms instead of ~3 ms.
Results are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import faiss

#: Searches of at most this many (query, reference) pairs run on one thread.
ONE_THREAD_PAIRS = 5_000_000


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
