"""Novelty-mode jobs: fit a baseline period into a model, later score new events against it."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from loghunt.errors import ConfigError
from loghunt.hunt import HuntOptions, join_labels
from loghunt.io import ReadResult, read_events, write_dead_letters
from loghunt.model.artifact import load_model, save_model
from loghunt.output import Findings, write_findings
from loghunt.pipeline import Pipeline
from loghunt.schema import normalize


@dataclass(frozen=True)
class FitReport:
    """What ``loghunt fit`` built."""

    model_dir: Path
    n_events: int
    n_features: int
    detectors: list[str]
    n_dead_letters: int
    size_bytes: int
    seconds: dict[str, float]


@dataclass(frozen=True)
class ScoreReport:
    """What ``loghunt score`` found, and how many events it learned (``--learn``)."""

    findings: Findings
    n_learned: int


def run_fit(
    paths: Sequence[Path], model_dir: Path, options: HuntOptions, progress: bool = False
) -> FitReport:
    """Read the baseline ``paths``, fit a pipeline on them and save it to ``model_dir``."""
    start = time.perf_counter()
    result = _read(paths, progress)
    events = normalize(result.table)
    config = options.config()
    if options.labels_file is not None:
        events, label_columns = join_labels(events, options.labels_file, options.labels)
        config = replace(config, exclude=(*config.exclude, *label_columns))
    read_s = time.perf_counter() - start
    with _step(f"Fitting on {events.height:,} events", progress):
        pipeline = Pipeline(config).fit(events)
    start = time.perf_counter()
    save_model(pipeline, model_dir)
    seconds = {"read": read_s, **pipeline.timings_, "save": time.perf_counter() - start}
    return FitReport(
        model_dir=model_dir,
        n_events=events.height,
        n_features=len(pipeline.featurizer_.feature_names_),
        detectors=list(pipeline.ensemble_.detectors_),
        n_dead_letters=result.n_dead,
        size_bytes=sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file()),
        seconds=seconds,
    )


def run_score(
    paths: Sequence[Path],
    model_dir: Path,
    out_dir: Path,
    learn: bool = False,
    progress: bool = False,
) -> ScoreReport:
    """Score ``paths`` against the model in ``model_dir``; write findings to ``out_dir``.

    With ``learn``, the events not flagged join the model's neighbour reference and the model
    is saved again in place.
    """
    start = time.perf_counter()
    pipeline = load_model(model_dir)
    load_s = time.perf_counter() - start
    result = _read(paths, progress)
    events = normalize(result.table)
    learned_before = pipeline.n_learned_
    with _step(f"Scoring {events.height:,} events", progress):
        findings = pipeline.score(events, learn=learn)
    findings.n_dead_letters = result.n_dead
    findings.timings = {"load_model": load_s, **findings.timings}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_dead_letters(result.dead_letters, out_dir / "dead_letters.jsonl")
    write_findings(findings, out_dir)
    if learn:
        save_model(pipeline, model_dir)
    return ScoreReport(findings, pipeline.n_learned_ - learned_before)


def _read(paths: Sequence[Path], progress: bool) -> ReadResult:
    result = read_events(list(paths), progress=progress)
    if result.table.height == 0:
        raise ConfigError(
            f"no events could be read from {', '.join(map(str, paths))} "
            f"({result.n_dead} records dead-lettered)"
        )
    return result


@contextmanager
def _step(message: str, progress: bool) -> Iterator[None]:
    """A spinner on stderr while a long step runs; nothing when stderr is not a terminal."""
    if not progress:
        yield
        return
    with Console(stderr=True).status(message):
        yield


__all__ = ["FitReport", "ScoreReport", "run_fit", "run_score"]
