"""The ``loghunt`` command line. It calls the library, never the reverse."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from loghunt.ensemble.planner import Plan
from loghunt.ensemble.presets import split_specs
from loghunt.errors import LoghuntError
from loghunt.output.findings import COMBINED, RANK, REASON_DETAILS, REASONS, VOTES, Findings

if TYPE_CHECKING:
    from loghunt.hunt import HuntOptions
    from loghunt.service.server import StoreOptions

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Find what a security analyst should look at first in a mountain of logs.",
)
out = Console()
if not out.is_terminal:  # a pipe or a file: no width to respect, so do not squeeze columns
    out = Console(width=180)
err = Console(stderr=True)

_SHOWN_FIELDS = (
    "time",
    "actor.user.name",
    "api.operation",
    "src_endpoint.ip",
    "http_request.user_agent",
    "status",
)


_Report = Annotated[
    bool, typer.Option("--report", help="Also write report.html, a self-contained HTML report.")
]
# Options that `hunt` and `fit` share: they describe one baseline the same way.
_Paths = Annotated[list[Path], typer.Argument(help="Log files or folders (any format).")]
_Labels = Annotated[
    str | None, typer.Option(help="Column holding ground truth: never a feature; enables metrics.")
]
_LabelsFile = Annotated[
    Path | None,
    typer.Option(help="CSV with event_id and the --labels column, joined on event_id."),
]
_Detectors = Annotated[
    str | None,
    typer.Option(help="Comma-separated detectors, e.g. knn,iforest,lof35=lof(n_neighbors=35)."),
]
_Preset = Annotated[str | None, typer.Option(help="A named ensemble: default, seed, dune or fast.")]
_Contamination = Annotated[float, typer.Option(help="Expected share of anomalies.")]
_Fields = Annotated[
    str | None, typer.Option(help="Comma-separated input columns to use (default: auto).")
]
_Exclude = Annotated[str | None, typer.Option(help="Comma-separated columns to ignore.")]
_MinVotes = Annotated[
    int | None, typer.Option(help="Flag events that at least this many detectors flag.")
]
_Normalization = Annotated[
    str, typer.Option(help="What the combined score averages: percentile or robust_z.")
]
_Space = Annotated[
    str, typer.Option(help="What detectors read: features, or embedding (needs loghunt[embed]).")
]


def _split(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


def _options(
    detectors: str | None,
    preset: str | None,
    contamination: float,
    fields: str | None,
    exclude: str | None,
    labels: str | None,
    labels_file: Path | None,
    min_votes: int | None,
    normalization: str,
    space: str,
    **hunt_only: Any,
) -> HuntOptions:
    """The options `hunt` and `fit` share, from their command-line text, plus ``hunt_only``."""
    from loghunt.hunt import HuntOptions

    return HuntOptions(
        detectors=split_specs(detectors) if detectors else None,
        preset=preset,
        contamination=contamination,
        fields=_split(fields),
        exclude=_split(exclude) or (),
        labels=labels,
        labels_file=labels_file,
        min_votes=min_votes,
        normalization=normalization,
        space=space,
        **hunt_only,
    )


@app.command()
def hunt(
    paths: _Paths,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write findings.")] = Path(
        "hunt-out"
    ),
    labels: _Labels = None,
    labels_file: _LabelsFile = None,
    detectors: _Detectors = None,
    preset: _Preset = None,
    contamination: _Contamination = 0.01,
    fields: _Fields = None,
    exclude: _Exclude = None,
    min_votes: _MinVotes = None,
    normalization: _Normalization = "percentile",
    time_budget: Annotated[
        float | None,
        typer.Option(help="Seconds per detector: forecast each first, drop those over it."),
    ] = None,
    top: Annotated[int, typer.Option(help="Findings to print.")] = 15,
    report: _Report = False,
    budget: Annotated[
        str | None,
        typer.Option(help="Alert budget instead of --contamination: N/day (per UTC day) or N."),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option("--format", help="Extra outputs: ocsf (findings.ocsf.jsonl, OCSF 2004)."),
    ] = None,
    suppress: Annotated[
        Path | None,
        typer.Option(help="Analysts' verdicts (JSON or CSV): rules that unflag known findings."),
    ] = None,
    space: _Space = "features",
) -> None:
    """Hunt anomalous events in PATHS and write ranked findings to --out."""
    from loghunt.hunt import run_hunt

    options = _options(
        detectors, preset, contamination, fields, exclude, labels, labels_file, min_votes,
        normalization, space,
        time_budget=time_budget,
        report=report,
        budget=budget,
        formats=_split(output_format) or (),
        suppress=suppress,
    )  # fmt: skip
    _run(lambda: run_hunt(paths, out_dir, options, progress=err.is_terminal), out_dir, top)


@app.command()
def embed(
    paths: Annotated[list[Path], typer.Argument(help="Log files or folders (any format).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write embeddings.")] = Path(
        "embed-out"
    ),
    fields: Annotated[
        str | None, typer.Option(help="Comma-separated input columns to use (default: auto).")
    ] = None,
    exclude: Annotated[
        str | None, typer.Option(help="Comma-separated columns to ignore (labels, say).")
    ] = None,
    dim: Annotated[int, typer.Option(help="Embedding size (64-256).")] = 64,
    epochs: Annotated[int, typer.Option(help="Most training epochs (early stopping).")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed (training is deterministic).")] = 0,
) -> None:
    """Learn event embeddings without labels; write embeddings.parquet and their checks."""
    try:
        from loghunt.embed.run import EmbedOptions, run_embed

        options = EmbedOptions(_split(fields), _split(exclude) or (), dim, epochs, seed)
        report = run_embed(paths, out_dir, options, progress=err.is_terminal)
    except LoghuntError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    out.print(
        f"Embedded [bold]{report.n_events:,}[/bold] events in {report.dim} dimensions "
        f"({report.epochs} epochs, {report.fit_seconds:.1f} s training), "
        f"{report.n_dead_letters:,} dead-lettered records"
    )
    table = Table(title="Embedding checks")
    table.add_column("check")
    table.add_column("value", justify="right")
    for name, value in report.checks.to_dict().items():
        table.add_row(name, _metric(value))
    out.print(table)
    out.print(f"Embeddings written to {escape(str(out_dir))}/")


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where to write logs and findings.")
    ] = Path("demo-out"),
    events: Annotated[int, typer.Option(help="Events to generate.")] = 40_000,
    seed: Annotated[int, typer.Option(help="Seed of the scenario generator.")] = 0,
    top: Annotated[int, typer.Option(help="Findings to print.")] = 15,
    report: _Report = False,
) -> None:
    """Generate a labelled demo organisation's logs, hunt them and print the metrics."""
    from loghunt.hunt import run_demo

    job = lambda: run_demo(out_dir, events, seed, progress=err.is_terminal, report=report)  # noqa: E731
    _run(job, out_dir, top, extra=("attack",))


@app.command("report")
def report_command(
    findings_dir: Annotated[
        Path, typer.Argument(help="A findings directory written by `loghunt hunt`.")
    ],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="HTML file (default: FINDINGS_DIR/report.html).")
    ] = None,
    cards: Annotated[int, typer.Option(help="Finding cards to show.")] = 50,
) -> None:
    """Render the self-contained HTML report of a findings directory."""
    from loghunt.report import write_report

    target = out_file or findings_dir / "report.html"
    try:
        write_report(findings_dir, target, n_cards=cards)
    except LoghuntError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    out.print(f"Report written to {escape(str(target))}")


@app.command()
def fit(
    paths: _Paths,
    model: Annotated[Path, typer.Option(help="Model directory to write.")],
    detectors: _Detectors = None,
    preset: _Preset = None,
    contamination: _Contamination = 0.01,
    fields: _Fields = None,
    exclude: _Exclude = None,
    labels: _Labels = None,
    labels_file: _LabelsFile = None,
    min_votes: _MinVotes = None,
    normalization: _Normalization = "percentile",
    space: _Space = "features",
) -> None:
    """Learn the baseline in PATHS and save it as a model for `loghunt score`."""
    from loghunt.model.jobs import run_fit

    options = _options(
        detectors, preset, contamination, fields, exclude, labels, labels_file, min_votes,
        normalization, space,
    )  # fmt: skip
    try:
        report = run_fit(paths, model, options, progress=err.is_terminal)
    except LoghuntError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    out.print(
        f"Fitted on [bold]{report.n_events:,}[/bold] events ({report.n_features} features; "
        f"detectors {escape(', '.join(report.detectors))}); "
        f"model written to {escape(str(model))}/ ({report.size_bytes / 1e6:.1f} MB)"
    )


@app.command()
def score(
    paths: Annotated[list[Path], typer.Argument(help="Log files or folders to score.")],
    model: Annotated[Path, typer.Option(help="Model directory written by `loghunt fit`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write findings.")] = Path(
        "score-out"
    ),
    learn: Annotated[
        bool, typer.Option(help="Add the events not flagged to the model and save it again.")
    ] = False,
    top: Annotated[int, typer.Option(help="Findings to print.")] = 15,
) -> None:
    """Score PATHS against a saved model (novelty mode) and write ranked findings to --out."""
    from loghunt.model.jobs import run_score

    learned: list[int] = []

    def job() -> Findings:
        report = run_score(paths, model, out_dir, learn=learn, progress=err.is_terminal)
        learned.append(report.n_learned)
        return report.findings

    _run(job, out_dir, top)
    if learn:
        out.print(f"Learned {learned[0]:,} events; model updated in {escape(str(model))}/")


_StateDir = Annotated[
    Path | None, typer.Option(help="Learned events and snapshots (default: MODEL_DIR.state).")
]
_Learn = Annotated[bool, typer.Option(help="Learn events that are not flagged (novelty).")]
_MaxStore = Annotated[int, typer.Option(help="Most learned events kept (oldest out).")]
_MaxAge = Annotated[
    float | None, typer.Option(help="Seconds a learned event is kept (default: no limit).")
]
_SnapshotEvery = Annotated[
    float, typer.Option(help="Seconds between snapshots of the learned events.", min=1.0)
]
_ExplainTop = Annotated[
    int, typer.Option(help="Per batch, besides flagged events, explain this many of the top.")
]


@app.command()
def serve(
    model_dir: Annotated[Path, typer.Argument(help="Model directory written by `loghunt fit`.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    token_file: Annotated[
        Path | None, typer.Option(help="File holding the bearer token (else $LOGHUNT_TOKEN).")
    ] = None,
    sink: Annotated[
        str | None, typer.Option(help="Flagged findings to jsonl:PATH, ocsf:PATH or webhook:URL.")
    ] = None,
    state_dir: _StateDir = None,
    learn: _Learn = True,
    max_store_events: _MaxStore = 1_000_000,
    max_store_age: _MaxAge = None,
    snapshot_every: _SnapshotEvery = 600.0,
    explain_top: _ExplainTop = 10,
    max_events: Annotated[int, typer.Option(help="Most events per request.")] = 10_000,
    queue: Annotated[int, typer.Option(help="Requests queued before 429.")] = 32,
    workers: Annotated[
        int, typer.Option(help="Request threads; their batches are scored side by side.")
    ] = 2,
) -> None:
    """Serve POST /v1/score, /healthz, /readyz and /metrics for a saved model."""
    from loghunt.service.server import serve as run_server

    options = _store_options(
        state_dir, learn, max_store_events, max_store_age, snapshot_every, explain_top
    )
    _service(
        lambda: run_server(
            model_dir,
            host=host,
            port=port,
            token_file=token_file,
            sink=sink,
            store=options,
            max_events=max_events,
            queue_capacity=queue,
            workers=workers,
        )
    )


@app.command()
def consume(
    source: Annotated[
        str, typer.Option(help="redis://host:port/STREAM?group=G or kafka://brokers/TOPIC?group=G")
    ],
    model: Annotated[Path, typer.Option(help="Model directory written by `loghunt fit`.")],
    sink: Annotated[
        str, typer.Option(help="Every finding to jsonl:PATH, ocsf:PATH or webhook:URL.")
    ],
    dead_letters: Annotated[
        Path | None, typer.Option(help="JSON Lines file for unreadable messages.")
    ] = None,
    state_dir: _StateDir = None,
    learn: _Learn = True,
    max_store_events: _MaxStore = 1_000_000,
    max_store_age: _MaxAge = None,
    snapshot_every: _SnapshotEvery = 600.0,
    explain_top: _ExplainTop = 10,
    batch_size: Annotated[int, typer.Option(help="Messages scored together.")] = 1_000,
    idle_exit: Annotated[
        float | None, typer.Option(help="Stop after this many idle seconds (default: never).")
    ] = None,
) -> None:
    """Score a stream into a sink, acknowledging each batch once its findings are durable."""
    from loghunt.service.server import consume as run_consumer

    options = _store_options(
        state_dir, learn, max_store_events, max_store_age, snapshot_every, explain_top
    )

    def job() -> None:
        stats = run_consumer(
            source,
            model,
            sink,
            store=options,
            dead_letters=dead_letters,
            batch_size=batch_size,
            idle_exit_s=idle_exit,
        )
        counts = f"{stats.messages:,} messages, {stats.events:,} events"
        err.print(f"{counts}, {stats.flagged:,} flagged")

    _service(job)


def _store_options(
    state_dir: Path | None,
    learn: bool,
    max_events: int,
    max_age_s: float | None,
    snapshot_every: float,
    explain_top: int,
) -> StoreOptions:
    from loghunt.service.server import StoreOptions

    return StoreOptions(
        state_dir=state_dir,
        learn=learn,
        max_events=max_events,
        max_age_s=max_age_s,
        persist_every_s=snapshot_every,
        explain_top=explain_top,
    )


def _service(job: Callable[[], None]) -> None:
    try:
        job()
    except LoghuntError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc


bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks on published data sets.")
app.add_typer(bench_app, name="bench")


@bench_app.command("adbench")
def bench_adbench(
    data_dir: Annotated[Path, typer.Argument(help="Folder of ADBench .npz files.")],
    methods: Annotated[
        str, typer.Option(help="Comma-separated detectors, preset:NAME, pyod:NAME, or all.")
    ] = "all",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    published: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the published results (default: DATA_DIR/../benchmark_results)."
        ),
    ] = None,
    prefix: Annotated[
        Path, typer.Option("--out", help="Path prefix of the CSV and markdown written.")
    ] = Path("adbench"),
) -> None:
    """Run the ADBench protocol and compare with the published AUCROC / AUCPR."""
    from loghunt.evaluate import adbench

    chosen = adbench.all_methods() if methods == "all" else list(split_specs(methods))
    try:
        results = adbench.run_adbench(
            data_dir,
            chosen,
            seeds=tuple(int(s) for s in seeds.split(",")),
            progress=err.print if err.is_terminal else None,
        )
        compared = adbench.compare_published(
            results, published or data_dir.resolve().parent / "benchmark_results"
        )
    except LoghuntError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    prefix.parent.mkdir(parents=True, exist_ok=True)
    results.write_csv(f"{prefix}.csv")
    compared.write_csv(f"{prefix}_compare.csv")
    table = adbench.summary_table(compared, results)
    Path(f"{prefix}.md").write_text(table + "\n")
    out.print(escape(table))


def _run(job: Callable[[], Findings], out_dir: Path, top: int, extra: tuple[str, ...] = ()) -> None:
    try:
        findings = job()
    except LoghuntError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    print_findings(findings, top, extra)
    out.print(f"Findings written to {escape(str(out_dir))}/")


def print_findings(findings: Findings, top: int, extra: tuple[str, ...] = ()) -> None:
    """A table of the top findings and, with labels, the metrics per detector."""
    out.print(
        f"[bold]{len(findings):,}[/bold] events, [bold]{findings.n_flagged:,}[/bold] flagged "
        f"(combined score >= {findings.threshold:.3f}), "
        f"{findings.n_dead_letters:,} dead-lettered records"
        + (
            f", {findings.n_suppressed:,} suppressed by analysts' rules"
            if findings.n_suppressed
            else ""
        )
    )
    for warning in findings.suppression_warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    out.print(_top_table(findings.top(top), extra))
    if findings.metrics:
        out.print(_metrics_table(findings))
    if findings.plan is not None:
        out.print(findings.plan.to_table())
        out.print(_forecast_table(findings.plan, findings.detector_seconds))


# (column, header, max width): log fields are long; the full rows are in findings.parquet.
_TOP_COLUMNS = (
    (RANK, "#", 5),
    (COMBINED, "score", 6),
    (VOTES, "votes", 5),
    ("time", "time (UTC)", 16),
    ("actor.user.name", "user", 22),
    ("api.operation", "operation", 24),
    ("src_endpoint.ip", "source IP", 15),
    ("http_request.user_agent", "user agent", 24),
    (REASONS, "top reason", 40),
)


def _top_table(rows: pl.DataFrame, extra: tuple[str, ...]) -> Table:
    table = Table(title="Top findings", title_justify="left")
    spec = [c for c in _TOP_COLUMNS if c[0] in rows.columns]
    spec += [(c, c, 24) for c in extra if c in rows.columns]
    for _, header, width in spec:
        table.add_column(
            header, min_width=min(width, 8), max_width=width, no_wrap=True, overflow="ellipsis"
        )
    if REASON_DETAILS in rows.columns:
        # The strongest reason itself: log values inside the joined text may hold "; ".
        top_reason = pl.col(REASON_DETAILS).list.first().struct.field("text")
        rows = rows.with_columns(top_reason.fill_null(pl.col(REASONS)).alias(REASONS))
    for row in rows.iter_rows(named=True):
        table.add_row(*[_cell(name, row[name]) for name, _, _ in spec])
    return table


def _cell(name: str, value: object) -> str:
    """Log values are hostile: escape rich markup and strip terminal control characters."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = "" if value is None else str(value)
    if name == REASONS:
        text = text.split("; ")[0]
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return escape(text[:200])


def _metrics_table(findings: Findings) -> Table:
    table = Table(title="Detection quality against the labels")
    columns = ("name", "roc_auc", "pr_auc", "precision", "recall", "f1", "precision_at_k")
    for name in columns:
        table.add_column(name, justify="right" if name != "name" else "left")
    for m in findings.metrics:
        values = m.to_dict()
        table.add_row(*[_metric(values[c]) for c in columns])
    return table


def _forecast_table(plan: Plan, seconds: dict[str, float]) -> Table:
    table = Table(title="Forecast against actual (fit and score, seconds)")
    for name in ("detectors", "forecast", "actual", "actual / forecast"):
        table.add_column(name, justify="left" if name == "detectors" else "right")
    for row in plan.compare(seconds):
        table.add_row(
            ", ".join(row.labels),
            f"{row.forecast_seconds:.2f}",
            f"{row.actual_seconds:.2f}",
            f"{row.ratio:.2f}",
        )
    return table


def _metric(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
