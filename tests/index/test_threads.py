from __future__ import annotations

import threading

import faiss
import pytest

from loghunt.index.threads import (
    ONE_THREAD_PAIRS,
    blas_distances,
    idle_cores,
    one_faiss_thread,
    search_threads,
)


def test_blas_setting_is_restored_after_nested_and_concurrent_blocks() -> None:
    before = faiss.cvar.distance_compute_blas_threshold
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with blas_distances():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other)
    worker.start()
    inside.wait(5)
    with blas_distances(), blas_distances():
        assert faiss.cvar.distance_compute_blas_threshold == 20
    # The other block is still open: the setting stays until it ends too.
    assert faiss.cvar.distance_compute_blas_threshold == 20
    release.set()
    worker.join()
    assert faiss.cvar.distance_compute_blas_threshold == before


def test_one_thread_block_restores_the_thread_count() -> None:
    before = faiss.omp_get_max_threads()
    with one_faiss_thread():
        assert faiss.omp_get_max_threads() == 1
    with one_faiss_thread(small=False):
        assert faiss.omp_get_max_threads() == before
    assert faiss.omp_get_max_threads() == before


def _threads_for(pairs: int) -> int:
    with search_threads(pairs):
        return int(faiss.omp_get_max_threads())


@pytest.mark.skipif(faiss.omp_get_max_threads() < 2, reason="needs 2 OpenMP threads")
def test_idle_cores_split_small_searches_too() -> None:
    every = faiss.omp_get_max_threads()
    sizes = (10_000, ONE_THREAD_PAIRS, ONE_THREAD_PAIRS + 1)
    assert [_threads_for(p) for p in sizes] == [1, 1, every]
    with idle_cores():
        assert [_threads_for(p) for p in sizes] == [every, every, every]
        with idle_cores(False):
            assert _threads_for(10_000) == 1
        assert _threads_for(10_000) == every
    assert _threads_for(10_000) == 1


def test_idle_cores_is_declared_per_thread() -> None:
    seen: list[int] = []
    with idle_cores():
        other = threading.Thread(target=lambda: seen.append(_threads_for(10_000)))
        other.start()
        other.join()
    assert seen == [1]
