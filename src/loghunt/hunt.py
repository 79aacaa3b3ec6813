"""The batch hunt job: read files, run the pipeline, write findings and dead letters."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
from rich.console import Console

from loghunt.ensemble.presets import preset_specs
from loghunt.errors import ConfigError
from loghunt.explain.suppress import read_suppressions
from loghunt.io import read_events, write_dead_letters
from loghunt.output import Findings, write_findings
from loghunt.pipeline import DEFAULT_DETECTORS, Pipeline, PipelineConfig
from loghunt.schema import normalize, ocsf

DEMO_LABEL = "is_attack"


@dataclass(frozen=True)
class HuntOptions:
    """What the user chose on the command line."""

    detectors: tuple[str, ...] | None = None
    preset: str | None = None
    contamination: float = 0.01
    fields: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    labels: str | None = None
    labels_file: Path | None = None
    min_votes: int | None = None
    normalization: str = "percentile"
    time_budget: float | None = None
    #: Also write the self-contained HTML report, report.html.
    report: bool = False
    #: Alert budget instead of the contamination cut: "20/day" or "50" (in total).
    budget: str | None = None
    #: Extra output formats, e.g. ("ocsf",) for findings.ocsf.jsonl.
    formats: tuple[str, ...] = ()
    #: Analysts' suppression rules (JSON or CSV, see loghunt.explain.suppress).
    suppress: Path | None = None
    #: What the detectors read: "features" or "embedding" (see PipelineConfig.space).
    space: str = "features"

    def config(self) -> PipelineConfig:
        if self.detectors and self.preset:
            raise ConfigError("give --detectors or --preset, not both")
        detectors = self.detectors or (preset_specs(self.preset) if self.preset else None)
        return PipelineConfig(
            detectors=detectors or DEFAULT_DETECTORS,
            contamination=self.contamination,
            fields=self.fields,
            exclude=self.exclude,
            labels=self.labels,
            min_votes=self.min_votes,
            normalization=self.normalization,
            time_budget=self.time_budget,
            budget=self.budget,
            space=self.space,
        )


def run_hunt(
    paths: Sequence[Path], out_dir: Path, options: HuntOptions, progress: bool = False
) -> Findings:
    """Read ``paths``, hunt, and write findings, dead letters and metrics to ``out_dir``."""
    start = time.perf_counter()
    result = read_events(list(paths), progress=progress)
    read_s = time.perf_counter() - start
    if result.table.height == 0:
        raise ConfigError(
            f"no events could be read from {', '.join(map(str, paths))} "
            f"({result.n_dead} records dead-lettered)"
        )
    events = normalize(result.table)
    config = options.config().check()
    rules = None
    if options.suppress is not None:
        rules = read_suppressions(options.suppress, warn=False)
    if options.labels_file is not None:
        events, label_columns = join_labels(events, options.labels_file, options.labels)
        # Every column of the labels file is ground truth: shown in findings, never a feature.
        config = replace(config, exclude=(*config.exclude, *label_columns))
    pipeline = Pipeline(config)
    # Training embeddings draws its own progress bar (with the loss): no spinner over it.
    with _step(f"Hunting {events.height:,} events", progress and config.space == "features"):
        findings = pipeline.fit_score(events, suppress=rules)
    findings.n_dead_letters = result.n_dead
    findings.suppression_warnings = [] if rules is None else rules.warnings
    findings.timings = {"read": read_s, **findings.timings}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_dead_letters(result.dead_letters, out_dir / "dead_letters.jsonl")
    write_findings(findings, out_dir, formats=options.formats)
    if pipeline.embedding_checks_ is not None:
        pipeline.embedding_checks_.write_json(out_dir / "embedding_checks.json")
    if options.report:
        from loghunt.report import write_report

        write_report(
            findings,
            out_dir / "report.html",
            label_column=config.labels,
            contamination=config.contamination,
            inputs=[str(p) for p in paths],
        )
    return findings


@contextmanager
def _step(message: str, progress: bool) -> Iterator[None]:
    """A spinner on stderr while a long step runs; nothing when stderr is not a terminal."""
    if not progress:
        yield
        return
    with Console(stderr=True).status(message):
        yield


def join_labels(
    events: pl.DataFrame, labels_file: Path, column: str | None
) -> tuple[pl.DataFrame, list[str]]:
    """Attach the columns of a ground-truth CSV keyed by ``event_id``; returns their names."""
    if column is None:
        raise ConfigError("--labels-file needs --labels COLUMN naming the label column in it")
    labels = pl.read_csv(labels_file, infer_schema_length=10_000)
    missing = {ocsf.EVENT_ID, column} - set(labels.columns)
    if missing:
        raise ConfigError(f"{labels_file} lacks column(s) {sorted(missing)}")
    labels = labels.with_columns(pl.col(ocsf.EVENT_ID).cast(pl.Utf8)).unique(ocsf.EVENT_ID)
    added = [c for c in labels.columns if c != ocsf.EVENT_ID and c not in events.columns]
    labels = labels.select(ocsf.EVENT_ID, *added)
    return events.join(labels, on=ocsf.EVENT_ID, how="left", maintain_order="left"), added


def run_demo(
    out_dir: Path, n_events: int, seed: int, progress: bool = False, report: bool = False
) -> Findings:
    """Generate a labelled scenario under ``out_dir/logs`` and hunt it with metrics."""
    from loghunt.synth import ScenarioConfig, generate_scenario, write_scenario

    scenario = generate_scenario(ScenarioConfig(n_events=n_events, seed=seed))
    written = write_scenario(scenario, out_dir / "logs")
    options = HuntOptions(labels=DEMO_LABEL, labels_file=written.labels, report=report)
    logs = [written.cloudtrail_dir, written.auth_dir]
    return run_hunt(logs, out_dir, options, progress=progress)
