from __future__ import annotations

import threading

import faiss

from loghunt.index.threads import blas_distances, one_faiss_thread


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
