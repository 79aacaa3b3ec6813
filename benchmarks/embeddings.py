"""Learned embeddings (TabularResNet) against plain features: speed and detection quality.

Speed: training time on ``--events`` synthetic CloudTrail events and embedding throughput
(events/s of ``Embedder.transform``; featurizing is timed apart), optionally on ``--big``
events with the same embedder. Quality: ROC-AUC and PR-AUC of k-NN, LOF and the default
ensemble (knn+ecod, percentile mean) with ``space="features"`` and ``space="embedding"`` on
two demo scenarios (CloudTrail + authentication files written and read back) and on real
data from ../shared/data (OTRF CloudTrail: 11 attacker events among 103; Loghub BGL 2k:
143 alert lines among 2,000). Nothing is tuned to labels.

    python benchmarks/embeddings.py                      # speed at 100k, quality on all data
    python benchmarks/embeddings.py --big 1000000        # plus throughput on 1M events
    python benchmarks/embeddings.py --skip-speed --demo-events 5000   # a quick quality run
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from loghunt import Pipeline
from loghunt.embed import Embedder
from loghunt.embed.space import categorical_fields
from loghunt.features import Featurizer
from loghunt.hunt import join_labels
from loghunt.io import read_events
from loghunt.output.findings import NORM_PREFIX, RAW_PREFIX
from loghunt.pipeline import labels_to_bool
from loghunt.schema import normalize
from loghunt.synth import (
    ScenarioConfig,
    generate_scenario,
    write_scenario,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
#: k-NN and LOF alone, and the default ensemble, read from one pipeline run per space.
MEMBERS = ("knn", "lof", "ecod")
ROWS = (("knn", ("knn",)), ("lof", ("lof",)), ("default (knn+ecod)", ("knn", "ecod")))


def load() -> float:
    return os.getloadavg()[0]


# -- speed -------------------------------------------------------------------------------------
def speed(n_events: int, big: int | None, folder: Path) -> dict[str, Any]:
    events = demo_events(n_events, 11, folder / "speed")
    started = time.perf_counter()
    featurizer = Featurizer(exclude=["is_attack", "attack"]).fit(events)
    X = featurizer.transform(events)
    featurize_s = time.perf_counter() - started
    cats = events.select(categorical_fields(featurizer))
    load_before = load()
    embedder = Embedder(progress=False).fit(X, cats)
    train_s = embedder.history_.seconds
    throughput = _throughput(embedder, X, cats)
    out: dict[str, Any] = {
        "events": n_events,
        "features": X.shape[1],
        "fields": len(embedder.fields_),
        "dim": embedder.dim,
        "n_threads": embedder.n_threads,
        "featurize_s": featurize_s,
        "train_s": train_s,
        "epochs": len(embedder.history_.train_loss),
        "best_epoch": embedder.history_.best_epoch + 1,
        "stopped_early": embedder.history_.stopped_early,
        "embed_events_per_s": throughput,
        "load_before": load_before,
        "load_after": load(),
    }
    print(json.dumps(out), flush=True)
    if big:
        # The network's cost does not depend on which events it reads: the featurized events
        # repeated up to ``big`` rows (category codes are still looked up for every row).
        reps = -(-big // n_events)
        Xb = np.tile(X, (reps, 1))[:big]
        cats_b = pl.concat([cats] * reps).head(big)
        out["big_events"] = big
        out["big_embed_events_per_s"] = _throughput(embedder, Xb, cats_b, repeats=1)
        print(json.dumps(out), flush=True)
    return out


def _throughput(embedder: Embedder, X: np.ndarray, cats: pl.DataFrame, repeats: int = 3) -> float:
    """Median events/s of transform (scaling, category codes and the network)."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        embedder.transform(X, cats)
        rates.append(len(X) / (time.perf_counter() - started))
    return float(np.median(rates))


# -- quality -----------------------------------------------------------------------------------
def demo_events(n_events: int, seed: int, folder: Path) -> pl.DataFrame:
    written = write_scenario(generate_scenario(ScenarioConfig(n_events, seed=seed)), folder)
    events = normalize(read_events([written.cloudtrail_dir, written.auth_dir]).table)
    return join_labels(events, written.labels, "is_attack")[0]


def otrf_events() -> pl.DataFrame:
    events = normalize(
        read_events(SHARED / "otrf_aws_cloudtrail/ec2_proxy_s3_exfiltration.zip").table
    )
    # The dataset's metadata: the attacker used the stolen instance role with the aws-cli.
    attacker = (pl.col("actor.user.type") == "AssumedRole") & pl.col(
        "http_request.user_agent"
    ).str.contains("aws-cli")
    return events.with_columns(attacker.alias("is_attack"))


def bgl_events() -> pl.DataFrame:
    table = pl.read_csv(SHARED / "loghub_bgl_2k/BGL_2k.log_structured.csv")
    return normalize(table.with_columns((pl.col("Label") != "-").alias("is_attack")))


def datasets(n_demo: int, folder: Path) -> dict[str, tuple[pl.DataFrame, tuple[str, ...]]]:
    """Name -> (events, columns to exclude besides the label)."""
    found: dict[str, tuple[pl.DataFrame, tuple[str, ...]]] = {}
    for seed in (1, 2):
        found[f"demo{seed} ({n_demo:,})"] = (
            demo_events(n_demo, seed, folder / str(seed)),
            ("attack",),
        )
    if SHARED.is_dir():
        found["OTRF CloudTrail (103)"] = (otrf_events(), ())
        found["Loghub BGL (2,000)"] = (bgl_events(), ("Label",))
    else:
        print(f"real data not found at {SHARED}: demo scenarios only", flush=True)
    return found


def quality(events: pl.DataFrame, exclude: tuple[str, ...], space: str) -> dict[str, Any]:
    pipe = Pipeline(labels="is_attack", exclude=exclude, detectors=MEMBERS, space=space)
    started = time.perf_counter()
    table = pipe.fit_score(events).table
    seconds = time.perf_counter() - started
    truth = labels_to_bool(table.get_column("is_attack"))
    result: dict[str, Any] = {"seconds": seconds, "embed_s": pipe.timings_.get("embed", 0.0)}
    for label, members in ROWS:
        score = np.mean([table.get_column(NORM_PREFIX + m).to_numpy() for m in members], axis=0)
        if len(members) == 1:
            score = table.get_column(f"{RAW_PREFIX}{members[0]}").to_numpy()
        result[label] = {
            "roc_auc": float(roc_auc_score(truth, score)),
            "pr_auc": float(average_precision_score(truth, score)),
        }
    if pipe.embedding_checks_ is not None:
        result["checks"] = pipe.embedding_checks_.to_dict()
    return result


# -- report ------------------------------------------------------------------------------------
def markdown(speed_result: dict[str, Any] | None, quality_result: dict[str, Any]) -> str:
    lines = ["# Learned embeddings vs features", ""]
    if speed_result:
        s = speed_result
        lines += [
            "## Speed (CPU)",
            "",
            "| events | features / fields | dim | threads | training | epochs (best) "
            "| embedding | load before/after |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {s['events']:,} | {s['features']} / {s['fields']} | {s['dim']} | "
            f"{s['n_threads']} | {s['train_s']:.0f} s | {s['epochs']} ({s['best_epoch']}) | "
            f"{s['embed_events_per_s']:,.0f} events/s | "
            f"{s['load_before']:.1f} / {s['load_after']:.1f} |",
        ]
        if "big_events" in s:
            lines.append(
                f"| {s['big_events']:,} (repeated rows; embedding only) | | | "
                f"{s['n_threads']} | | | {s['big_embed_events_per_s']:,.0f} events/s | |"
            )
        lines += [
            "",
            f"Featurizing {s['events']:,} events took {s['featurize_s']:.1f} s (not counted "
            "above).",
            "",
        ]
    lines += [
        "## Detection quality (ROC-AUC / PR-AUC)",
        "",
        "| data | detectors | features | embedding | Δ ROC-AUC |",
        "|---|---|---:|---:|---:|",
    ]
    for name, spaces in quality_result.items():
        for label, _ in ROWS:
            f, e = spaces["features"][label], spaces["embedding"][label]
            lines.append(
                f"| {name} | {label} | {f['roc_auc']:.3f} / {f['pr_auc']:.3f} | "
                f"{e['roc_auc']:.3f} / {e['pr_auc']:.3f} | {e['roc_auc'] - f['roc_auc']:+.3f} |"
            )
    lines += [
        "",
        "## Embedding checks",
        "",
        "| data | silhouette (features) | Davies-Bouldin (features) | perturbation cos | "
        "neighbour overlap (chance) | embed step s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, spaces in quality_result.items():
        c = spaces["embedding"]["checks"]
        lines.append(
            f"| {name} | {_num(c['silhouette'])} ({_num(c['feature_silhouette'])}) | "
            f"{_num(c['davies_bouldin'])} ({_num(c['feature_davies_bouldin'])}) | "
            f"{_num(c['perturbation_cosine'])} | {_num(c['neighbour_overlap'])} "
            f"({_num(c['neighbour_overlap_chance'])}) | {spaces['embedding']['embed_s']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events for the speed run")
    parser.add_argument("--big", type=int, default=None, help="events for a throughput run")
    parser.add_argument("--demo-events", type=int, default=20_000)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "embeddings.md")
    args = parser.parse_args()
    quality_result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        speed_result = None if args.skip_speed else speed(args.events, args.big, Path(tmp))
        if not args.skip_quality:
            for name, (events, exclude) in datasets(args.demo_events, Path(tmp)).items():
                quality_result[name] = {
                    space: quality(events, exclude, space) for space in ("features", "embedding")
                }
                print(name, json.dumps(quality_result[name]), flush=True)
    report = markdown(speed_result, quality_result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    args.out.with_suffix(".json").write_text(
        json.dumps({"speed": speed_result, "quality": quality_result}, indent=2) + "\n"
    )
    print(report)


if __name__ == "__main__":
    main()
