"""loghunt's detectors on the 22 ADBench datasets, beside the ADBench paper's published numbers.

The protocol (sizes, stratified 70/30 split, min-max scaling on the training part, unlabeled
fit) is documented in :mod:`loghunt.evaluate.adbench`.

    python benchmarks/adbench.py [DIR] [--methods knn,lof,...|all] [--seeds 0,1,2]
                                 [--out benchmarks/results/adbench]

writes ``<out>.csv`` (one row per dataset x method x seed), ``<out>_compare.csv`` (mean over
seeds beside the paper) and ``<out>.md`` (the summary table).
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import polars as pl

from loghunt.evaluate.adbench import (
    RESULT_SCHEMA,
    all_methods,
    compare_published,
    dataset_table,
    run_adbench,
    summary_table,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO.parent / "shared/data/adbench_classical"
RESULTS_DIR = REPO.parent / "shared/data/benchmark_results"
DEFAULT_OUT = REPO / "benchmarks/results/adbench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--methods", default="all", help="comma-separated, or 'all'")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated ints")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="path prefix")
    parser.add_argument("--published", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--from-csv", default="", help="comma-separated long-form CSVs to report on, not run"
    )
    return parser.parse_args(argv)


def methods_from(text: str) -> list[str]:
    if text.strip() == "all":
        return all_methods()
    return [m.strip() for m in text.split(",") if m.strip()]


def report(args: argparse.Namespace, results: pl.DataFrame, wall: float) -> str:
    compared = compare_published(results, args.published)
    compared.write_csv(f"{args.out}_compare.csv")
    seeds = ", ".join(args.seeds.split(","))
    header = [
        "# ADBench: loghunt vs the ADBench paper (unsupervised, AUCROC / AUCPR)",
        "",
        f"Datasets: {results['dataset'].n_unique()} files in `{args.data_dir.name}`; "
        f"seeds {seeds}; "
        + (f"combined from {args.from_csv}." if args.from_csv else f"wall time {wall:.0f} s."),
        "Protocol: >10,000 rows subsampled to 10,000 and <1,000 resampled (with replacement)",
        "to 1,000, both stratified; stratified 70/30 split (random_state=seed); MinMaxScaler",
        "fitted on the training part (as ADBench's data generator does); fit on the training",
        "part without labels; score the test part; default hyperparameters. 'same' = datasets",
        "where the paper has a number too. Paper: Han et al. 2022, Tables D4/D5, mean of 3 runs.",
        "",
    ]
    per_dataset = ["", "", "## AUCROC per dataset: ours (paper), mean over seeds", ""]
    body = summary_table(compared, results) + "\n".join(per_dataset) + dataset_table(compared)
    return "\n".join(header) + "\n" + body + "\n"


def run(args: argparse.Namespace) -> pl.DataFrame:
    if args.from_csv:
        files = [f.strip() for f in args.from_csv.split(",") if f.strip()]
        return pl.concat([pl.read_csv(f, schema_overrides=RESULT_SCHEMA) for f in files])
    seeds = tuple(int(s) for s in args.seeds.split(","))
    methods = methods_from(args.methods)
    return run_adbench(args.data_dir, methods, seeds=seeds, progress=partial(print, flush=True))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = run(args)
    wall = time.perf_counter() - start
    results.write_csv(f"{args.out}.csv")
    markdown = report(args, results, wall)
    Path(f"{args.out}.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
