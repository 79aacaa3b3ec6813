"""The ``loghunt embed`` job: read logs, learn embeddings, write them with their checks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from loghunt.embed.checks import EmbeddingChecks
from loghunt.embed.space import fit_embedding
from loghunt.errors import ConfigError
from loghunt.features import Featurizer
from loghunt.io import read_events, write_dead_letters
from loghunt.schema import normalize, ocsf

EMBEDDINGS_FILE = "embeddings.parquet"
CHECKS_FILE = "embedding_checks.json"


@dataclass(frozen=True)
class EmbedOptions:
    """What the user chose for ``loghunt embed``."""

    fields: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    dim: int = 64
    max_epochs: int = 10
    random_state: int = 0


@dataclass(frozen=True)
class EmbedReport:
    """What ``run_embed`` did."""

    n_events: int
    n_dead_letters: int
    dim: int
    fit_seconds: float
    embed_seconds: float
    epochs: int
    checks: EmbeddingChecks
    files: list[Path] = field(default_factory=list)


def run_embed(
    paths: Sequence[Path], out_dir: Path, options: EmbedOptions, progress: bool = False
) -> EmbedReport:
    """Embed the events in ``paths``; write ``embeddings.parquet`` (``event_id``, ``vector``),
    ``embedding_checks.json`` and ``dead_letters.jsonl`` into ``out_dir``.
    """
    result = read_events(list(paths), progress=progress)
    if result.table.height < 4:
        raise ConfigError(
            f"need at least 4 events to learn embeddings, read {result.table.height} "
            f"({result.n_dead} records dead-lettered)"
        )
    events = normalize(result.table)
    featurizer = Featurizer(
        fields=list(options.fields) if options.fields else None,
        exclude=list(options.exclude),
        random_state=options.random_state,
    )
    X = featurizer.fit_transform(events)
    params = {"dim": options.dim, "max_epochs": options.max_epochs, "progress": progress}
    started = time.perf_counter()
    embedder, E, checks = fit_embedding(events, featurizer, X, params, options.random_state)
    total = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    table = pl.DataFrame(
        {ocsf.EVENT_ID: events.get_column(ocsf.EVENT_ID).cast(pl.String), "vector": E}
    )
    table.write_parquet(out_dir / EMBEDDINGS_FILE)
    checks.write_json(out_dir / CHECKS_FILE)
    write_dead_letters(result.dead_letters, out_dir / "dead_letters.jsonl")
    return EmbedReport(
        n_events=events.height,
        n_dead_letters=result.n_dead,
        dim=E.shape[1],
        fit_seconds=embedder.history_.seconds,
        embed_seconds=total - embedder.history_.seconds,
        epochs=len(embedder.history_.train_loss),
        checks=checks,
        files=[out_dir / EMBEDDINGS_FILE, out_dir / CHECKS_FILE],
    )
