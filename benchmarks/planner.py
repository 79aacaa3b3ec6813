"""How good are the runtime planner's forecasts? Forecast vs actual seconds per detector group.

Featurizes a synthetic CloudTrail table, plans the detectors under each time budget (probing
growing subsamples), fits the kept ones with :func:`~loghunt.ensemble.planner.timed_fit` and
writes forecast, actual and their ratio per group to ``benchmarks/results/planner.md``.

    python benchmarks/planner.py [--events 300000] [--budgets 60 10]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from loghunt.detectors import available_detectors
from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.ensemble.planner import Plan, plan_detectors, timed_fit
from loghunt.features import Featurizer
from loghunt.synth import generate_cloudtrail_table

WANTED = (
    "knn", "lof", "iforest", "ecod", "kmeans", "robust_z",
    "copod", "hbos", "gmm", "loda", "ocsvm",
)  # fmt: skip
RESULTS = Path(__file__).resolve().parent / "results" / "planner.md"
K = 50


def feature_matrix(n_events: int) -> np.ndarray:
    table = generate_cloudtrail_table(n_events)
    X = Featurizer().fit_transform(table.drop(["is_attack", "attack"]))
    return np.ascontiguousarray(np.asarray(X, dtype=np.float32))


def run(X: np.ndarray, specs: tuple[str, ...], budget: float) -> list[str]:
    plan = plan_detectors(X, specs, n_neighbors=K, time_budget=budget)
    lines = [
        f"### budget {budget:g} s: probing took {plan.probe_seconds:.1f} s",
        "",
        "| detector(s) | probes (rows: s) | exponent | forecast s | plan | actual s "
        "| actual/forecast |",
        "|---|---|---|---|---|---|---|",
    ]
    actual = timed_fit(DetectorEnsemble(plan.kept_specs, n_neighbors=K), X)
    compared = {c.group: c for c in plan.compare(actual)}
    for e in plan.entries:
        pairs = zip(e.probe_sizes, e.probe_seconds, strict=True)
        probes = ", ".join(f"{s // 1000}k: {t:.2f}" for s, t in pairs)
        c = compared.get(e.group)
        tail = f"{c.actual_seconds:.1f} | {c.ratio:.2f}" if c else "- | -"
        kept = "kept" if e.kept else "dropped"
        lines.append(
            f"| {', '.join(e.labels)} | {probes} | {e.exponent:.2f} | {e.forecast_seconds:.1f} "
            f"| {kept} | {tail} |"
        )
    print(_summary(plan), flush=True)
    return [*lines, ""]


def _summary(plan: Plan) -> str:
    return "\n".join(" | ".join(row) for row in plan.rows())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0, 10.0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    specs = tuple(d for d in WANTED if d in available_detectors())
    started = time.perf_counter()
    X = feature_matrix(args.events)
    print(f"features {X.shape} in {time.perf_counter() - started:.1f} s", flush=True)
    lines = [
        "# Runtime planner: forecast vs actual",
        "",
        f"`python benchmarks/planner.py --events {args.events} --budgets "
        f"{' '.join(f'{b:g}' for b in args.budgets)}`",
        "",
        f"Matrix: {X.shape[0]:,} x {X.shape[1]} float32 (Featurizer on "
        f"`generate_cloudtrail_table`), k = {K}, machine: {platform.machine()}, "
        "2 busy cores (timings are noisy). The neighbour group's actual time is the graph "
        "build plus the fit of each neighbour detector.",
        "",
    ]
    for budget in args.budgets:
        lines += run(X, specs, budget)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
