"""Which detectors should the default ensemble combine? Every combination, on ADBench.

Each candidate detector is fitted once per dataset and seed under the ADBench protocol
(loghunt.evaluate.adbench), its training and test scores are kept, and every combination of up
to four candidates is then scored offline exactly as the pipeline combines them (each detector's
test scores normalised against its own training scores, then averaged). Prints the best
combinations by mean AUCROC with their summed fit+score time.

    python benchmarks/ensemble_search.py ../shared/data/adbench_classical [--max-size 4]
"""

from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from loghunt.detectors import make_detector
from loghunt.ensemble.combine import combine_scores
from loghunt.ensemble.normalize import percentile_scores, robust_z_scores
from loghunt.evaluate.adbench import dataset_files, load_npz, resize, split

CANDIDATES = {
    "knn20": ("knn", {"n_neighbors": 20}),
    "knn50": ("knn", {"n_neighbors": 50}),
    "ecod": ("ecod", {}),
    "copod": ("copod", {}),
    "iforest": ("iforest", {"random_state": 0}),
    "hbos": ("hbos", {}),
    "pca": ("pca", {}),
    "loda": ("loda", {"random_state": 0}),
    "gmm": ("gmm", {"random_state": 0}),
    "robust_z": ("robust_z", {}),
    "lof50": ("lof", {"n_neighbors": 50}),
}
NORMALIZATIONS = {"percentile": percentile_scores, "robust_z": robust_z_scores}
Scores = NDArray[np.float64]


@dataclass
class Run:
    """One detector on one dataset split: its scores and what it cost."""

    train: Scores
    test: Scores
    seconds: float


def run_candidates(data_dir: Path, seeds: tuple[int, ...]) -> tuple[dict, dict]:
    runs: dict[tuple[str, int, str], Run] = {}
    truth: dict[tuple[str, int], NDArray[np.int64]] = {}
    for path in dataset_files(data_dir):
        X, y = load_npz(path)
        for seed in seeds:
            x_train, x_test, _, y_test = split(*resize(X, y, seed), seed)
            truth[path.stem, seed] = y_test
            for label, (name, params) in CANDIDATES.items():
                start = time.perf_counter()
                detector = make_detector(name, **params)
                train = detector.fit_score(x_train)
                test = detector.score(x_test)
                runs[path.stem, seed, label] = Run(train, test, time.perf_counter() - start)
        print(f"{path.stem}: done", flush=True)
    return runs, truth


def evaluate(combo: tuple[str, ...], method: str, runs: dict, truth: dict) -> tuple[float, float]:
    scale = NORMALIZATIONS[method]
    aucs, seconds = [], 0.0
    datasets = sorted({d for d, _ in truth})
    for dataset in datasets:
        per_seed = []
        for (d, seed), y in truth.items():
            if d != dataset:
                continue
            members = [runs[d, seed, label] for label in combo]
            norm = np.column_stack([scale(m.train, m.test) for m in members])
            per_seed.append(roc_auc_score(y, combine_scores(norm, "mean")))
            seconds += sum(m.seconds for m in members)
        aucs.append(float(np.mean(per_seed)))
    return float(np.mean(aucs)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--max-size", type=int, default=4)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    runs, truth = run_candidates(args.data_dir, tuple(int(s) for s in args.seeds.split(",")))
    rows = []
    for size in range(1, args.max_size + 1):
        for combo in itertools.combinations(CANDIDATES, size):
            for method in NORMALIZATIONS:
                auc, seconds = evaluate(combo, method, runs, truth)
                rows.append((auc, seconds, method, combo))
    rows.sort(key=lambda r: -r[0])
    print("| combination | normalisation | mean AUCROC | fit+score s |\n|---|---|---|---|")
    for auc, seconds, method, combo in rows[: args.top]:
        print(f"| {' + '.join(combo)} | {method} | {auc:.3f} | {seconds:.1f} |")
    print("\nSingle detectors and the current default:")
    for auc, seconds, method, combo in rows:
        if (len(combo) == 1 and method == "percentile") or combo in (("knn50", "ecod"),):
            print(f"| {' + '.join(combo)} | {method} | {auc:.3f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
