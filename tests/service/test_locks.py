"""The store's shared/exclusive lock, and batches scored side by side while others learn."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from loghunt.service.engine import Scorer
from loghunt.service.locks import SharedLock
from loghunt.service.store import OnlineStore


def _in_thread(target: object) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_shared_holders_overlap_and_exclusive_waits_for_them() -> None:
    lock = SharedLock()
    both_in = threading.Barrier(2, timeout=5)
    exclusive_at: list[float] = []
    released_at: list[float] = []

    def reader() -> None:
        with lock.shared():
            both_in.wait()  # fails unless two shared holders are inside at once
            time.sleep(0.1)
            released_at.append(time.monotonic())

    def writer() -> None:
        with lock:
            exclusive_at.append(time.monotonic())

    readers = [_in_thread(reader) for _ in range(2)]
    while lock.readers < 2:
        time.sleep(0.001)
    w = _in_thread(writer)
    for t in [*readers, w]:
        t.join(5)
    assert exclusive_at[0] >= max(released_at)


def test_a_waiting_exclusive_holder_goes_before_new_shared_ones() -> None:
    lock = SharedLock()
    order: list[str] = []
    first_in = threading.Event()
    leave = threading.Event()

    def long_reader() -> None:
        with lock.shared():
            first_in.set()
            leave.wait(5)

    def writer() -> None:
        with lock:
            order.append("exclusive")

    def late_reader() -> None:
        with lock.shared():
            order.append("shared")

    r = _in_thread(long_reader)
    first_in.wait(5)
    w = _in_thread(writer)
    while not lock._writers_waiting:
        time.sleep(0.001)
    late = _in_thread(late_reader)
    time.sleep(0.05)
    assert order == []  # the late reader queues behind the waiting writer
    leave.set()
    for t in (r, w, late):
        t.join(5)
    assert order == ["exclusive", "shared"]


def test_exclusive_is_reentrant_and_owned() -> None:
    lock = SharedLock()
    with lock, lock, lock.shared():
        assert lock.readers == 0
    with pytest.raises(RuntimeError):
        lock.release()


def test_batches_scored_side_by_side_learn_each_once(
    model_dir: Path, tmp_path: Path, new_records: list[dict[str, object]], to_ndjson: object
) -> None:
    bodies = [to_ndjson(new_records[i : i + 250]) for i in range(0, 2_000, 250)]  # type: ignore[operator]
    store = OnlineStore(model_dir, tmp_path / "state")
    base = store.pipeline.ensemble_.index_.n_reference_
    scorer = Scorer(store)

    def score_and_learn(body: bytes) -> int:
        return scorer.learn_batch(scorer.score_bytes(body))

    with ThreadPoolExecutor(4) as pool:
        learned = sum(pool.map(score_and_learn, bodies))
    assert 1_700 < learned < 2_000  # the flagged events are not learned
    assert store.size == learned
    assert store.pipeline.ensemble_.index_.n_reference_ == base + learned
    store.close()
    reopened = OnlineStore(model_dir, tmp_path / "state")
    assert reopened.pipeline.ensemble_.index_.n_reference_ == base + learned
    # Each learned event once, in memory and on disk (which events depends on the order the
    # batches learned in: a learned batch changes the next one's neighbours).
    assert len(reopened.learned_event_ids()) == learned
