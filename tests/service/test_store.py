"""The online store: learns normal events, stays bounded, survives restarts and save failures."""

from __future__ import annotations

import gc
import shutil
import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loghunt.errors import ConfigError
from loghunt.service.engine import Scorer
from loghunt.service.store import OnlineStore


def n_reference(store: OnlineStore) -> int:
    return int(store.pipeline.ensemble_.index_.n_reference_)


def feed(store: OnlineStore, bodies: list[bytes]) -> int:
    """Score and learn each body as the service does; returns the events learned."""
    scorer = Scorer(store)
    learned = 0
    for body in bodies:
        learned += scorer.learn_batch(scorer.score_bytes(body))
    return learned


@pytest.fixture
def bodies(new_records: list[dict[str, Any]], to_ndjson: Any) -> list[bytes]:
    return [to_ndjson(new_records[i : i + 400]) for i in range(0, 1_200, 400)]


def test_learns_unflagged_events_and_resumes_after_restart(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    store = OnlineStore(model_dir, tmp_path / "state")
    base = n_reference(store)
    learned = feed(store, bodies[:2])
    assert 700 <= learned < 800  # 800 events, the flagged ones are not learned
    assert store.size == learned and n_reference(store) == base + learned
    store.close()  # final snapshot
    assert store.pending == 0
    reopened = OnlineStore(model_dir, tmp_path / "state")
    assert reopened.size == learned and n_reference(reopened) == base + learned
    # A crash after the next batch: its window file is replayed over the snapshot.
    more = feed(reopened, bodies[2:])
    assert reopened.pending == 1
    del reopened
    after_crash = OnlineStore(model_dir, tmp_path / "state")
    assert n_reference(after_crash) == base + learned + more
    assert len(after_crash.learned_event_ids()) == learned + more


def test_a_restart_replays_the_rows_as_they_were_learned(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    """Featurized anew, a learned event would lose the flagged events of its batch (entity
    windows); the window keeps its rows, so the state after a crash is the state before."""
    store = OnlineStore(model_dir, tmp_path / "state")
    base = n_reference(store)
    feed(store, bodies[:2])
    live = store.pipeline.ensemble_.index_.reconstruct(base, base + store.size)
    del store  # a crash: no snapshot
    replayed = OnlineStore(model_dir, tmp_path / "state")
    assert replayed.pending == 2 and n_reference(replayed) == base + len(live)
    np.testing.assert_array_equal(
        replayed.pipeline.ensemble_.index_.reconstruct(base, base + len(live)), live
    )


def test_redelivered_batch_is_recorded_once(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    store = OnlineStore(model_dir, tmp_path / "state")
    first = feed(store, bodies[:1])
    assert feed(store, bodies[:1]) == 0
    assert store.size == first


def test_oldest_batches_are_evicted_past_max_events(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    store = OnlineStore(model_dir, tmp_path / "state", max_events=600)
    base = n_reference(store)
    feed(store, bodies)
    assert 0 < store.size <= 600
    store.wait_rebuilt()
    assert n_reference(store) == base + store.size  # rebuilt: base model + the window
    store.close()
    assert n_reference(OnlineStore(model_dir, tmp_path / "state")) == base + store.size


def test_time_window_evicts_old_batches(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    store = OnlineStore(model_dir, tmp_path / "state", max_age_s=0.5)
    base = n_reference(store)
    feed(store, bodies[:1])
    time.sleep(0.6)
    second = feed(store, bodies[1:2])
    store.wait_rebuilt()
    assert store.size == second and n_reference(store) == base + second


def test_scoring_goes_on_when_saving_fails_and_the_buffer_is_replayed(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    state = tmp_path / "state"
    store = OnlineStore(model_dir, state)
    base = n_reference(store)
    learned = feed(store, bodies[:1])
    # The store becomes unavailable: the snapshot path is taken by a plain file.
    blocker = state / "snapshot-000000000001"
    blocker.write_text("not a model")
    assert store.persist() is False and store.persist_failures == 1
    assert store.last_persist_error and store.pending == 1
    learned += feed(store, bodies[1:2])  # scoring and learning go on
    blocker.unlink()
    # Restart (on a copy of the state a crash would leave: the store holds its directory's
    # lock) while the snapshot is still missing: the on-disk buffer is replayed.
    crashed = shutil.copytree(state, tmp_path / "crashed")
    assert n_reference(OnlineStore(model_dir, crashed)) == base + learned
    assert store.persist() is True and store.pending == 0
    store.close()
    assert n_reference(OnlineStore(model_dir, state)) == base + learned


def test_a_state_directory_serves_one_store_at_a_time(model_dir: Path, tmp_path: Path) -> None:
    store = OnlineStore(model_dir, tmp_path / "state")
    with pytest.raises(ConfigError, match=r"in use by another loghunt store \(pid \d+\)"):
        OnlineStore(model_dir, tmp_path / "state")
    store.close()
    OnlineStore(model_dir, tmp_path / "state").close()  # free again once closed


def test_state_of_another_model_is_refused(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    state = tmp_path / "state"
    OnlineStore(model_dir, state)
    (state / "state.json").write_text('{"format": "loghunt.online-store", "model_digest": "x"}')
    with pytest.raises(Exception, match="state of model x"):
        OnlineStore(model_dir, state)


def test_explain_top_bounds_the_explained_events_of_a_batch(
    model_dir: Path, bodies: list[bytes]
) -> None:
    default = OnlineStore(model_dir)
    store = OnlineStore(model_dir, explain_top=3)
    assert store.pipeline.config.explain_top == 3
    assert store.model_version == default.model_version  # finding ids do not change
    batch = Scorer(store).score_bytes(bodies[0])
    results = batch.results()
    explained = [r for r in results if r["reasons"]]
    assert len(explained) <= batch.n_flagged + 3
    assert all(r["reasons"] for r in results if r["flagged"])
    scores = {
        r["event_id"]: r["combined_score"] for r in Scorer(default).score_bytes(bodies[0]).results()
    }
    assert all(scores[r["event_id"]] == r["combined_score"] for r in results)


def test_window_and_memory_learn_the_same_events_under_an_alert_budget(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    from dataclasses import replace

    store = OnlineStore(model_dir, tmp_path / "state")
    # A budget of one alert unflags most events the scores flagged: still not learned.
    store.pipeline.config = replace(store.pipeline.config, budget="1")
    base = n_reference(store)
    scorer = Scorer(store)
    batch = scorer.score_bytes(bodies[0])
    assert batch.n_flagged == 1
    learned = scorer.learn_batch(batch)
    assert learned < 400 - 1  # more than the one alert stayed out
    assert store.size == learned == n_reference(store) - base
    store.close()
    assert n_reference(OnlineStore(model_dir, tmp_path / "state")) == base + learned


def test_a_replaced_model_is_freed_by_reference_counts(
    model_dir: Path, bodies: list[bytes]
) -> None:
    """`serve` and `consume` freeze the loaded model out of the garbage collector, so a model
    that a rebuild replaces must be freed without it: no reference cycles, caches included."""
    store = OnlineStore(model_dir)
    Scorer(store, learn=False).score_bytes(bodies[0])  # fills the per-model caches
    pipeline = store.pipeline
    parts = [pipeline, pipeline.ensemble_, pipeline.featurizer_, pipeline.explainer_]
    parts += [pipeline.ensemble_.index_, *pipeline.ensemble_.detectors_.values()]
    refs = [weakref.ref(part) for part in parts]
    del parts, pipeline
    gc.disable()
    try:
        store.pipeline = None
        assert [r() for r in refs] == [None] * len(refs)
    finally:
        gc.enable()
        store.close()


def test_eviction_keeps_the_learned_rows_instead_of_learning_the_window_again(
    model_dir: Path, tmp_path: Path, bodies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuilt model holds the kept events' rows as they were scored and learned; the
    window's files are not read (nor featurized) again."""
    import loghunt.service.store as store_module

    store = OnlineStore(model_dir, tmp_path / "state", max_events=600, explain_top=3)
    base = n_reference(store)
    kept_before, kept_after = [], []
    rebuild = store._rebuild

    def checked_rebuild() -> None:
        index = store.pipeline.ensemble_.index_
        kept_before.append(index.reconstruct(index.n_reference_ - store.size, index.n_reference_))
        rebuild()
        kept_after.append(store.pipeline.ensemble_.index_.reconstruct(base, base + store.size))

    monkeypatch.setattr(store, "_rebuild", checked_rebuild)
    monkeypatch.setattr(store_module, "_read_batch", lambda path: pytest.fail("window read"))
    monkeypatch.setattr(store_module, "_REBUILD_ROWS", 100)  # read in parts of 100 rows
    for body in bodies:
        feed(store, [body])
        store.wait_rebuilt()
    assert len(kept_after) == 2 and 0 < store.size <= 600  # two evictions
    assert n_reference(store) == base + store.size == base + store.pipeline.n_learned_
    for before, after in zip(kept_before, kept_after, strict=True):
        np.testing.assert_array_equal(before, after)
    assert store.pipeline.config.explain_top == 3  # the rebuilt model keeps the store's setting


def test_scoring_and_learning_go_on_during_a_rebuild(
    model_dir: Path, tmp_path: Path, bodies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import loghunt.service.store as store_module

    store = OnlineStore(model_dir, tmp_path / "state", max_events=500)
    base = n_reference(store)
    load, release = store_module._load, threading.Event()

    def slow_load(path: Path, need_learn: bool = True) -> Any:
        assert release.wait(60)
        return load(path, need_learn)

    monkeypatch.setattr(store_module, "_load", slow_load)
    try:
        feed(store, bodies[:2])  # the second batch evicts the first: a rebuild starts, waits
        old = store.pipeline
        learned = feed(store, bodies[2:])  # scored and learned by the old model meanwhile
        assert learned > 0 and store.pipeline is old and store.forgetting > 0
        assert store.persist()  # nothing to save yet: the model still holds evicted events
        assert not any(store.state_dir.glob("snapshot-*"))  # type: ignore[union-attr]
    finally:
        release.set()
    store.wait_rebuilt()
    assert store.pipeline is not old and store.forgetting == 0
    # The base model, the kept batch and the one learned during the rebuild; then the
    # third batch's eviction was forgotten by a second rebuild.
    assert n_reference(store) == base + store.size == base + store.pipeline.n_learned_
    store.close()
    assert n_reference(OnlineStore(model_dir, tmp_path / "state")) == base + store.size


def test_a_failed_rebuild_keeps_the_old_model_and_is_tried_again(
    model_dir: Path, tmp_path: Path, bodies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import loghunt.service.store as store_module

    store = OnlineStore(model_dir, tmp_path / "state", max_events=500)
    base = n_reference(store)
    load = store_module._load

    def broken(path: Path, need_learn: bool = True) -> Any:
        raise RuntimeError("out of memory, say")

    monkeypatch.setattr(store_module, "_load", broken)
    feed(store, bodies[:2])
    store.wait_rebuilt()
    assert store.rebuild_failures == 1 and store.forgetting > 0  # the old model still serves
    assert n_reference(store) > base + store.size
    monkeypatch.setattr(store_module, "_load", load)
    feed(store, bodies[2:])  # within the retry delay: no new attempt
    store.wait_rebuilt()
    assert store.rebuild_failures == 1 and store.forgetting > 0
    store._retry_rebuild_at = 0.0  # the delay is over: the next batch starts a rebuild
    feed(store, bodies[:1])
    store.wait_rebuilt()
    assert store.forgetting == 0 and n_reference(store) == base + store.size
    store.close()
    assert store.pending == 0  # the final snapshot is saved again


def test_a_base_model_that_learned_before_keeps_its_rows_through_evictions(
    model_dir: Path, tmp_path: Path, bodies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model saved after learning (`score --learn`): the rebuild reuses the rows learned
    since, past the base model's own."""
    import loghunt.service.store as store_module
    from loghunt.model import load_model, save_model

    learned_base = load_model(model_dir)
    assert learned_base.learn(Scorer(OnlineStore(model_dir)).read(bodies[0])[0]) > 0
    save_model(learned_base, tmp_path / "learned")
    store = OnlineStore(tmp_path / "learned", tmp_path / "state", max_events=500)
    base = n_reference(store)
    monkeypatch.setattr(store_module, "_read_batch", lambda path: pytest.fail("window read"))
    for body in bodies[1:]:
        feed(store, [body])
        store.wait_rebuilt()
    assert store.forgetting == 0 and n_reference(store) == base + store.size


def test_a_snapshot_holds_the_learned_rows_and_is_written_with_the_store_free(
    model_dir: Path, tmp_path: Path, bodies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    store = OnlineStore(model_dir, tmp_path / "state")
    base = n_reference(store)
    feed(store, bodies[:1])
    stage, staged, release = store._stage_rows, threading.Event(), threading.Event()

    def held_stage(pipeline: Any, seq: int, count: int) -> Path:
        folder = stage(pipeline, seq, count)
        staged.set()
        assert release.wait(60)
        return folder

    monkeypatch.setattr(store, "_stage_rows", held_stage)
    saving = threading.Thread(target=store.persist)
    saving.start()
    try:
        assert staged.wait(60)
        feed(store, bodies[1:2])  # learning goes on while the snapshot is written
    finally:
        release.set()
    saving.join(60)
    assert store.pending == 1  # the snapshot holds the first batch; the second is after it
    live = store.pipeline.ensemble_.index_.reconstruct(base, base + store.size)
    store.close()
    (snapshot,) = store.state_dir.glob("snapshot-*")  # type: ignore[union-attr]
    assert (snapshot / "snapshot.json").exists() and not (snapshot / "manifest.json").exists()
    reopened = OnlineStore(model_dir, tmp_path / "state")
    assert reopened.pending == 0
    np.testing.assert_array_equal(
        reopened.pipeline.ensemble_.index_.reconstruct(base, base + reopened.size), live
    )


def test_a_snapshot_of_a_model_that_evicted_meanwhile_is_dropped(
    model_dir: Path, tmp_path: Path, bodies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = OnlineStore(model_dir, tmp_path / "state", max_events=500)
    feed(store, bodies[:1])
    stage = store._stage_rows

    def evict_then_stage(pipeline: Any, seq: int, count: int) -> Path:
        feed(store, bodies[1:2])  # evicts the batch the rows about to be staged hold
        return stage(pipeline, seq, count)

    monkeypatch.setattr(store, "_stage_rows", evict_then_stage)
    assert store.persist() and store.persist_failures == 0
    assert not any(store.state_dir.glob("snapshot-*"))  # type: ignore[union-attr]
    assert not any(store.state_dir.glob(".snapshot-*"))  # type: ignore[union-attr]


def test_a_damaged_snapshot_of_rows_falls_back_to_the_window(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    store = OnlineStore(model_dir, tmp_path / "state")
    base = n_reference(store)
    feed(store, bodies[:2])
    store.close()
    (snapshot,) = store.state_dir.glob("snapshot-*")  # type: ignore[union-attr]
    for name, damage in (("rows.npy", b"\x93NUMPY not really"), ("snapshot.json", b"[1, 2]")):
        (snapshot / name).write_bytes(damage)
        reopened = OnlineStore(model_dir, tmp_path / "state")
        assert n_reference(reopened) == base + reopened.size == base + store.size
        reopened.close()  # a good snapshot of the same batch replaces the damaged one
        assert reopened.persist_failures == 0 and reopened.pending == 0
        assert (snapshot / name).read_bytes() != damage


def test_a_snapshot_of_a_model_that_learned_before_holds_only_the_window(
    model_dir: Path, tmp_path: Path, bodies: list[bytes]
) -> None:
    from loghunt.model import load_model, save_model

    learned_base = load_model(model_dir)
    assert learned_base.learn(Scorer(OnlineStore(model_dir)).read(bodies[0])[0]) > 0
    save_model(learned_base, tmp_path / "learned")
    store = OnlineStore(tmp_path / "learned", tmp_path / "state")
    base = n_reference(store)
    feed(store, bodies[1:])
    live = store.pipeline.ensemble_.index_.reconstruct(base, base + store.size)
    store.close()
    reopened = OnlineStore(tmp_path / "learned", tmp_path / "state")
    assert reopened.pending == 0 and n_reference(reopened) == base + len(live)
    np.testing.assert_array_equal(
        reopened.pipeline.ensemble_.index_.reconstruct(base, base + len(live)), live
    )


def test_a_model_whose_rows_cannot_be_read_back_is_saved_whole(
    model_dir: Path, tmp_path: Path, bodies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = OnlineStore(model_dir, tmp_path / "state")
    monkeypatch.setattr(store, "_rows_are_the_window", lambda skip: False)
    base = n_reference(store)
    feed(store, bodies[:2])
    live = store.pipeline.ensemble_.index_.reconstruct(base, base + store.size)
    store.close()
    (snapshot,) = store.state_dir.glob("snapshot-*")  # type: ignore[union-attr]
    assert (snapshot / "manifest.json").exists()  # a whole saved model, as older stores wrote
    reopened = OnlineStore(model_dir, tmp_path / "state")
    assert reopened.pending == 0
    np.testing.assert_array_equal(
        reopened.pipeline.ensemble_.index_.reconstruct(base, base + len(live)), live
    )


@pytest.fixture(scope="module")
def ivf_model_dir(
    tmp_path_factory: pytest.TempPathFactory, all_records: list[dict[str, Any]], to_ndjson: Any
) -> Path:
    """The default pipeline with an IVF index (as a large model gets), fitted on 6,000 events."""
    import loghunt.ensemble.ensemble as ensemble_module
    from loghunt.index import build_graph
    from loghunt.io import parse_bytes
    from loghunt.model import save_model
    from loghunt.pipeline import Pipeline

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            ensemble_module, "build_graph", lambda *a, **kw: build_graph(*a, method="ivf", **kw)
        )
        pipeline = Pipeline().fit(parse_bytes(to_ndjson(all_records[:6_000])).table)
    assert pipeline.ensemble_.index_.method_ == "ivf"
    path = tmp_path_factory.mktemp("ivf") / "model"
    save_model(pipeline, path)
    return path


def test_an_ivf_model_keeps_rows_and_lists_through_evictions_and_restarts(
    ivf_model_dir: Path, tmp_path: Path, bodies: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    import loghunt.service.store as store_module

    store = OnlineStore(ivf_model_dir, tmp_path / "state", max_events=600)
    base = n_reference(store)
    monkeypatch.setattr(store_module, "_read_batch", lambda path: pytest.fail("window read"))
    for body in bodies:
        before = store.pipeline.ensemble_.index_
        feed(store, [body])
        store.wait_rebuilt()
    index = store.pipeline.ensemble_.index_
    assert index is not before and n_reference(store) == base + store.size  # rebuilt
    live_rows = index.reconstruct(base, index.n_reference_)
    live_lists = index.lists_of(base, index.n_reference_)
    # Each kept row went back to its own list: the coarse quantizer's nearest (but for
    # near-ties, which distances rounded another way may break differently).
    _, nearest = index.index_.quantizer.search(index._prepare(live_rows), 1)
    assert (live_lists == nearest[:, 0]).mean() > 0.99
    monkeypatch.undo()
    store.close()  # a snapshot of rows and lists
    reopened = OnlineStore(ivf_model_dir, tmp_path / "state")
    again = reopened.pipeline.ensemble_.index_
    np.testing.assert_array_equal(again.reconstruct(base, again.n_reference_), live_rows)
    np.testing.assert_array_equal(again.lists_of(base, again.n_reference_), live_lists)
