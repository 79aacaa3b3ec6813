"""How good are the runtime planner's forecasts? Forecast vs actual seconds per detector group.

Featurizes a synthetic CloudTrail table, plans the detectors under each time budget (probing
growing subsamples), fits the kept ones with :func:`~loghunt.ensemble.planner.timed_fit` and
writes forecast, actual and their ratio per group to ``benchmarks/results/planner.md``.

    python benchmarks/planner.py [--events 300000] [--budgets 60 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from loghunt.detectors import available_detectors, detector_class
from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.ensemble.planner import Comparison, Plan, plan_detectors, timed_fit
from loghunt.ensemble.presets import parse_detector_spec
from loghunt.features import Featurizer
from loghunt.synth import generate_cloudtrail_table

RESULTS = Path(__file__).resolve().parent / "results" / "planner.md"
K = 50


def feature_matrix(n_events: int) -> np.ndarray:
    table = generate_cloudtrail_table(n_events)
    X = Featurizer().fit_transform(table.drop(["is_attack", "attack"]))
    return np.ascontiguousarray(np.asarray(X, dtype=np.float32))


def run(
    X: np.ndarray, specs: tuple[str, ...], budget: float, fit_dropped: bool
) -> tuple[list[str], list[float]]:
    """Plan, fit what is kept (and, to judge their forecasts, what is dropped, apart);
    the markdown lines and the actual/forecast ratios."""
    load = os.getloadavg()[0]
    plan = plan_detectors(X, specs, n_neighbors=K, time_budget=budget)
    actual = fit_alone(plan.kept_specs, X)
    load_after = os.getloadavg()[0]
    kept_seconds = sum(actual.values())
    dropped = tuple(s for s in specs if s not in plan.kept_specs)
    if fit_dropped and dropped:
        actual.update(fit_alone(dropped, X))
    compared = {c.group: c for c in _compare_all(plan, actual)}
    lines = [
        f"### budget {budget:g} s: probing took {plan.probe_seconds:.1f} s "
        f"({plan.warmup_seconds:.1f} s warm-up, then a budget of {plan.probe_budget:.1f} s); "
        f"load average {load:.1f} before the run "
        f"of the kept detectors, {load_after:.1f} after",
        "",
        "| detector(s) | probes (rows: s) | probe s | exponents | forecast s | upper s "
        "| plan | actual s | actual/forecast |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ratios, slowest = [], 0.0
    for e in plan.entries:
        pairs = zip(e.probe_sizes, e.probe_seconds, strict=True)
        probes = ", ".join(f"{s / 1000:g}k: {t:.2f}" for s, t in pairs)
        c = compared.get(e.group)
        tail = "- | -"
        if c:
            ratios.append(c.ratio)
            mark = "" if e.kept else " (not in the run)"
            tail = f"{c.actual_seconds:.1f}{mark} | {c.ratio:.2f}"
            if e.kept:
                slowest = max(slowest, c.actual_seconds)
        kept = "kept" if e.kept else "dropped"
        lines.append(
            f"| {', '.join(e.labels)} | {probes} | {e.probe_time:.1f} | {e.model} "
            f"| {e.forecast_seconds:.1f} | {e.upper_seconds:.1f} | {kept} | {tail} |"
        )
    print(_summary(plan), flush=True)
    lines.append(
        f"\nSlowest kept group: {slowest:.1f} s ({slowest / budget:.2f} x the budget). "
        f"Fit of the kept detectors: {kept_seconds:.1f} s in all."
    )
    return [*lines, ""], ratios


def fit_alone(specs: tuple[str, ...], X: np.ndarray) -> dict[str, float]:
    """Seconds per group, one group at a time, each in the regime the ensemble fits it in on
    a large matrix: the neighbour graph on every thread, the other detectors with BLAS on
    one thread (the ensemble runs them side by side, one BLAS thread each)."""
    graph = tuple(s for s in specs if detector_class(parse_detector_spec(s).name).uses_neighbors)
    others = tuple(s for s in specs if s not in graph)
    seconds: dict[str, float] = {}
    if graph:
        seconds.update(timed_fit(DetectorEnsemble(graph, n_neighbors=K, n_jobs=1), X))
    if others:
        with threadpool_limits(limits=1, user_api="blas"):
            seconds.update(timed_fit(DetectorEnsemble(others, n_neighbors=K, n_jobs=1), X))
    return seconds


def _compare_all(plan: Plan, actual: dict[str, float]) -> list[Comparison]:
    """Forecast against actual for every group whose detectors were timed, kept or not."""
    everyone = Plan(
        [replace(e, kept=True) for e in plan.entries], plan.specs, plan.n_rows, plan.time_budget
    )
    timed = set(actual)
    return [c for c in everyone.compare(actual) if set(c.labels) <= timed]


def _summary(plan: Plan) -> str:
    return "\n".join(" | ".join(row) for row in plan.rows())


HEADER = """# Runtime planner: forecast vs actual

Each section is one run of `{command}`: the planner probes every registered detector group on
subsamples of the matrix below, forecasts its fit at the full size, keeps the groups whose
conservative forecast ("upper") fits the budget, and the kept ones are then fitted for real,
one group at a time, each in the regime the ensemble fits it in on a matrix this large: the
neighbour graph on every thread, the other detectors with BLAS on one thread (the ensemble
runs them side by side, one BLAS thread each; on a busy machine, two BLAS threads per
detector made PCA, OCSVM, k-means and Mahalanobis 1.5-8x slower, and small probes of them up
to 30x, at random). For the first budget, the dropped groups are fitted as well, apart ("not
in the run"), to judge their forecasts too. "exponents": the fitted growth of each cost part
(learn: fit minus scoring, with its fixed CPU seconds; score, search and detectors: per row or
query; build: in reference rows), and the wall seconds per CPU second of the probes. "probe
s": seconds spent probing the group, warm-up included. The neighbour group's actual time is
the graph build plus the fit of each neighbour detector. The machine has 2 cores shared with
other sessions: the load average is given for each run, and timings move by 2x and more with
it.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0, 10.0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--append", action="store_true", help="add a run to --out")
    parser.add_argument(
        "--detectors", nargs="+", default=None, help="default: every registered detector"
    )
    parser.add_argument(
        "--kept-only",
        action="store_true",
        help="do not also time the dropped detectors of the first budget (to judge forecasts)",
    )
    args = parser.parse_args()
    specs = tuple(args.detectors or available_detectors())
    started = time.perf_counter()
    X = feature_matrix(args.events)
    print(f"features {X.shape} in {time.perf_counter() - started:.1f} s", flush=True)
    command = f"python benchmarks/planner.py --events {args.events} --budgets " + " ".join(
        f"{b:g}" for b in args.budgets
    )
    lines = [
        f"## Run of {time.strftime('%Y-%m-%d %H:%M')}, load average "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1 / 5 / 15 min)",
        "",
        f"Matrix: {X.shape[0]:,} x {X.shape[1]} float32 (Featurizer on "
        f"`generate_cloudtrail_table`), k = {K}, {len(specs)} detectors, machine: "
        f"{platform.machine()}, {os.cpu_count()} cores.",
        "",
    ]
    for i, budget in enumerate(args.budgets):
        block, ratios = run(X, specs, budget, fit_dropped=i == 0 and not args.kept_only)
        within = sum(0.5 <= r <= 2.0 for r in ratios)
        lines += block
        lines += [f"{within} of {len(ratios)} timed groups within a factor of 2.", ""]
    text = "\n".join(lines)
    if args.append and args.out.exists():
        args.out.write_text(args.out.read_text().rstrip("\n") + "\n\n" + text)
    else:
        args.out.write_text(HEADER.format(command=command) + "\n" + text)
    print(text)


if __name__ == "__main__":
    main()
