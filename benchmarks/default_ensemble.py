"""Which detectors and which normalisation make the default ensemble: measured, not guessed.

Runs candidate ensembles on the real OTRF CloudTrail sample (11 attacker events of 103) and on
two full demo scenarios (CloudTrail + authentication files, written and read back like real
logs), and prints ROC-AUC, PR-AUC and, for OTRF, the worst rank of an attacker event.

    python benchmarks/default_ensemble.py [--events 20000]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from loghunt import Pipeline
from loghunt.hunt import join_labels
from loghunt.io import read_events
from loghunt.schema import normalize
from loghunt.synth import ScenarioConfig, generate_scenario, write_scenario

OTRF = Path(__file__).resolve().parents[2] / "shared/data/otrf_aws_cloudtrail"
CANDIDATES = (
    ("knn", "ecod"),
    ("knn", "iforest", "ecod"),
    ("knn", "lof", "iforest"),
    ("knn", "lof", "iforest", "ecod"),
    ("knn", "iforest", "ecod", "kmeans"),
)
NORMALIZATIONS = ("percentile", "robust_z")


def otrf_events() -> pl.DataFrame:
    events = normalize(read_events(OTRF / "ec2_proxy_s3_exfiltration.zip").table)
    # The dataset's metadata: the attacker used the stolen instance role with the aws-cli.
    attacker = (pl.col("actor.user.type") == "AssumedRole") & pl.col(
        "http_request.user_agent"
    ).str.contains("aws-cli")
    return events.with_columns(attacker.alias("is_attack"))


def demo_events(n_events: int, seed: int, folder: Path) -> pl.DataFrame:
    written = write_scenario(generate_scenario(ScenarioConfig(n_events, seed=seed)), folder)
    events = normalize(read_events([written.cloudtrail_dir, written.auth_dir]).table)
    return join_labels(events, written.labels, "is_attack")[0]


def quality(
    events: pl.DataFrame, detectors: tuple[str, ...], normalization: str, k: int
) -> dict[str, float]:
    table = (
        Pipeline(
            labels="is_attack",
            exclude=("attack",),
            detectors=detectors,
            normalization=normalization,
            n_neighbors=k,
        )
        .fit_score(events)
        .table
    )
    truth = table.get_column("is_attack").fill_null(False).to_numpy().astype(bool)
    score = table.get_column("combined_score").to_numpy()
    ranks = table.get_column("rank").to_numpy()[truth]
    return {
        "roc": roc_auc_score(truth, score),
        "pr": average_precision_score(truth, score),
        "worst_rank": float(np.max(ranks)),
    }


def row(label: str, q: dict[str, dict[str, float]]) -> str:
    return (
        f"| {label} | {q['otrf']['worst_rank']:.0f} | {q['otrf']['roc']:.3f} "
        f"| {q['demo1']['roc']:.3f} / {q['demo1']['pr']:.3f} "
        f"| {q['demo2']['roc']:.3f} / {q['demo2']['pr']:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=20, help="neighbours for the ensemble table")
    parser.add_argument("--k-sweep", default="10,20,30,40,50,75,100")
    args = parser.parse_args()
    header = "| OTRF worst rank | OTRF ROC | demo1 ROC / PR | demo2 ROC / PR |\n"
    rule = "|---:|---:|---:|---:|"
    with tempfile.TemporaryDirectory() as tmp:
        datasets = {"otrf": otrf_events()}
        for seed in (1, 2):
            datasets[f"demo{seed}"] = demo_events(args.events, seed, Path(tmp) / str(seed))
        print(f"Ensembles at k={args.k}\n\n| normalisation + detectors " + header + "|---" + rule)
        for norm in NORMALIZATIONS:
            for detectors in CANDIDATES:
                q = {n: quality(ev, detectors, norm, args.k) for n, ev in datasets.items()}
                print(row(f"{norm} {'+'.join(detectors)}", q), flush=True)
        print("\nNeighbours k for knn+ecod, percentile\n\n| k " + header + "|---" + rule)
        for k in (int(v) for v in args.k_sweep.split(",")):
            q = {n: quality(ev, ("knn", "ecod"), "percentile", k) for n, ev in datasets.items()}
            print(row(str(k), q), flush=True)


if __name__ == "__main__":
    main()
