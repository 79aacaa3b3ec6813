"""The seed approach (the source notebook) against loghunt's shared-graph ensemble, in one run.

Both sides score the same float32 matrix (Gaussian clusters of varied spread plus ~1% planted
outliers, labels known) with k-NN distance, LOF, Isolation Forest and k-means distance, and
combine the four by the mean of their rank percentiles. Only the engine differs:

* seed: each detector fitted on its own, as the notebook does (scikit-learn ``ball_tree`` k-NN
  on L2-normalised rows, ``LocalOutlierFactor``, ``IsolationForest``, ``KMeans``);
* loghunt: ``DetectorEnsemble`` with one FAISS neighbour graph shared by k-NN and LOF.

Each side runs in its own spawned process, so its peak RSS is its own. Where the seed approach
would take too long (1M rows), its steps are timed on growing subsamples, a power law
``t = a * n**b`` is fitted per step, and the sum is forecast; it runs for real only when the
forecast is under ``--real-limit`` seconds.

    python benchmarks/seed_vs_loghunt.py                      # 27,084 and 1,000,000 rows x 128
    python benchmarks/seed_vs_loghunt.py --quick              # smoke run, under a minute
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

DETECTORS = ("knn", "lof", "iforest", "kmeans")
N_NEIGHBORS = 20
KMEANS_CLUSTERS = 8
RANDOM_STATE = 0
DEFAULT_SIZES = (27_084, 1_000_000)
DEFAULT_FORECAST_SIZES = (5_000, 10_000, 20_000, 40_000)
QUICK_SIZES = (5_000, 20_000)
QUICK_FORECAST_SIZES = (1_250, 2_500, 5_000)
TARGET_SIZE = (27_084, 128)  # both sides real: speed-up and ROC-AUC gap
TARGET_SPEEDUP = 30.0
TARGET_AUC_GAP = 0.01
TARGET_BIG_SIZE = (1_000_000, 128)  # loghunt alone: time and memory budget
TARGET_BIG_SECONDS = 120.0
TARGET_BIG_RSS_MB = 4096.0
CHUNK_ROWS = 65_536
WARM_UP_ROWS = 500

Matrix = NDArray[np.float32]
Scores = NDArray[np.float64]
Timings = dict[str, float]


# -- data ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSpec:
    """A deterministic clustered matrix with planted outliers (half global, half local)."""

    n: int
    dim: int
    seed: int = 0
    n_clusters: int = 32
    outlier_fraction: float = 0.01


def make_data(spec: DataSpec) -> tuple[Matrix, NDArray[np.int8]]:
    """Rows drawn in float32 chunks, so a 1M x 128 matrix needs little more than its 512 MB."""
    rng = np.random.default_rng([spec.seed, spec.n, spec.dim])
    k, d = spec.n_clusters, spec.dim
    centers = rng.normal(0.0, 4.0, size=(k, d)).astype(np.float32)
    spreads = rng.uniform(0.4, 2.0, size=k).astype(np.float32)
    assign = rng.choice(k, size=spec.n, p=rng.dirichlet(np.full(k, 2.0)))
    X = np.empty((spec.n, d), dtype=np.float32)
    for start in range(0, spec.n, CHUNK_ROWS):
        a = assign[start : start + CHUNK_ROWS]
        noise = rng.standard_normal((a.size, d), dtype=np.float32)
        X[start : start + a.size] = centers[a] + noise * spreads[a, None]
    y = np.zeros(spec.n, dtype=np.int8)
    planted = rng.choice(spec.n, size=max(2, round(spec.n * spec.outlier_fraction)), replace=False)
    y[planted] = 1
    n_global = planted.size // 2
    # Global: a wide isotropic cloud, far from every cluster.
    X[planted[:n_global]] = rng.normal(0.0, 6.0, size=(n_global, d))
    # Local: 1.3-1.8x the typical radius of their own cluster (a tight cluster's local outliers
    # are still closer to it than a wide cluster's normal rows are to each other).
    local = planted[n_global:]
    a = assign[local]
    direction = rng.standard_normal((local.size, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    radius = spreads[a] * math.sqrt(d) * rng.uniform(1.3, 1.8, size=local.size)
    X[local] = centers[a] + direction * radius[:, None]
    return X, y


# -- shared helpers --------------------------------------------------------------------------
def rank_percentiles(scores: Scores) -> Scores:
    """Fraction of the scores below each score (ties count half): loghunt's formula, in numpy."""
    reference = np.sort(scores)
    below = np.searchsorted(reference, scores, side="left")
    at_or_below = np.searchsorted(reference, scores, side="right")
    return ((below + at_or_below) / (2.0 * reference.size)).astype(np.float64)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB.

    ``VmHWM`` rather than ``ru_maxrss``: Linux carries ``ru_maxrss`` across ``exec``, so a
    spawned child would start from its parent's peak; ``VmHWM`` belongs to the child's own
    address space.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def auc(y: NDArray[np.int8], scores: Scores) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


@contextmanager
def timed(timings: Timings, name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def load(path: str) -> tuple[Matrix, NDArray[np.int8]]:
    with np.load(path) as archive:
        return np.ascontiguousarray(archive["X"]), np.asarray(archive["y"])


# -- the seed side: each detector fitted on its own, as the notebook does -------------------
def seed_knn(X: Matrix) -> Scores:
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import normalize

    nn = NearestNeighbors(n_neighbors=N_NEIGHBORS, algorithm="ball_tree").fit(normalize(X))
    distances, _ = nn.kneighbors()  # no query: each training row without itself
    return np.asarray(distances.mean(axis=1), dtype=np.float64)


def seed_lof(X: Matrix) -> Scores:
    from sklearn.neighbors import LocalOutlierFactor

    lof = LocalOutlierFactor(n_neighbors=N_NEIGHBORS).fit(X)
    return np.asarray(-lof.negative_outlier_factor_, dtype=np.float64)


def seed_iforest(X: Matrix) -> Scores:
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=100, random_state=RANDOM_STATE).fit(X)
    return np.asarray(-forest.score_samples(X), dtype=np.float64)


def seed_kmeans(X: Matrix) -> Scores:
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=KMEANS_CLUSTERS, n_init="auto", random_state=RANDOM_STATE).fit(X)
    return np.asarray(km.transform(X).min(axis=1), dtype=np.float64)


SEED_STEPS: dict[str, Callable[[Matrix], Scores]] = {
    "knn": seed_knn,
    "lof": seed_lof,
    "iforest": seed_iforest,
    "kmeans": seed_kmeans,
}


def seed_scores(X: Matrix, timings: Timings) -> dict[str, Scores]:
    scores: dict[str, Scores] = {}
    for name, step in SEED_STEPS.items():
        with timed(timings, name):
            scores[name] = step(X)
    return scores


def seed_combine(scores: Mapping[str, Scores], timings: Timings) -> Scores:
    with timed(timings, "combine"):
        stack = np.column_stack([rank_percentiles(s) for s in scores.values()])
        return np.asarray(stack.mean(axis=1), dtype=np.float64)


# -- the loghunt side ------------------------------------------------------------------------
def loghunt_params() -> dict[str, dict[str, Any]]:
    """Settings that match the seed, for the detectors whose constructors accept them."""
    import inspect

    from loghunt.detectors import make_detector

    wanted: dict[str, dict[str, Any]] = {
        "knn": {"method": "mean"},
        "iforest": {"n_estimators": 100},
        "kmeans": {"n_clusters": KMEANS_CLUSTERS},
    }
    params: dict[str, dict[str, Any]] = {}
    for name, options in wanted.items():
        accepted = set(inspect.signature(type(make_detector(name)).__init__).parameters)
        params[name] = {key: value for key, value in options.items() if key in accepted}
    return params


def loghunt_scores(X: Matrix, metric: str, timings: Timings) -> dict[str, Scores]:
    from loghunt.ensemble.ensemble import GRAPH_LABEL, DetectorEnsemble

    ensemble = DetectorEnsemble(
        DETECTORS,
        n_neighbors=N_NEIGHBORS,
        metric=metric,
        random_state=RANDOM_STATE,
        detector_params=loghunt_params(),
    )
    with timed(timings, "fit"):
        ensemble.fit(X)
    for label, seconds in ensemble.fit_seconds_.items():
        timings["graph" if label == GRAPH_LABEL else label] = seconds
    return {name: np.asarray(ensemble.train_scores_[name]) for name in DETECTORS}


def loghunt_combine(scores: Mapping[str, Scores], timings: Timings) -> Scores:
    from loghunt.ensemble.combine import combine_scores
    from loghunt.ensemble.normalize import percentile_scores

    with timed(timings, "combine"):
        stack = np.column_stack([percentile_scores(s, s) for s in scores.values()])
        return combine_scores(stack, "mean")


# -- one side in one child process ------------------------------------------------------------
@dataclass
class SideResult:
    """One real run of one side on one matrix."""

    side: str
    n: int
    dim: int
    seconds: float
    cpu_seconds: float
    steps: Timings
    peak_rss_mb: float
    rss_after_load_mb: float
    roc_auc: float
    detector_auc: dict[str, float]
    load_average: tuple[float, float]


def score_side(
    side: str, X: Matrix, metric: str, timings: Timings
) -> tuple[dict[str, Scores], Scores]:
    """Per-detector and combined scores of one side, step times added to ``timings``."""
    if side == "seed":
        scores = seed_scores(X, timings)
        return scores, seed_combine(scores, timings)
    scores = loghunt_scores(X, metric, timings)
    return scores, loghunt_combine(scores, timings)


def run_side(side: str, data_path: str, metric: str) -> SideResult:
    """Entry point of the child process: load, warm up, score, combine, measure.

    The warm-up on a few rows keeps imports and thread-pool start-up out of the step times.
    """
    X, y = load(data_path)
    rss_after_load = peak_rss_mb()
    score_side(side, X[:WARM_UP_ROWS], metric, {})
    timings: Timings = {}
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    scores, combined = score_side(side, X, metric, timings)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return SideResult(
        side=side,
        n=X.shape[0],
        dim=X.shape[1],
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        steps=timings,
        peak_rss_mb=peak_rss_mb(),
        rss_after_load_mb=rss_after_load,
        roc_auc=auc(y, combined),
        detector_auc={name: auc(y, s) for name, s in scores.items()},
        load_average=(load_before, os.getloadavg()[0]),
    )


def in_child(func: Callable[..., Any], *args: Any) -> Any:
    """Run ``func(*args)`` in a fresh spawned process, so peaks and imports don't mix."""
    with mp.get_context("spawn").Pool(processes=1, maxtasksperchild=1) as pool:
        return pool.apply(func, args)


# -- the seed forecast -----------------------------------------------------------------------
@dataclass
class Forecast:
    """Seed step times on subsamples, the fitted power laws and their extrapolation."""

    n: int
    sizes: list[int]
    step_seconds: dict[str, list[float]]
    subsample_auc: list[float]
    coefficient: dict[str, float] = field(default_factory=dict)
    exponent: dict[str, float] = field(default_factory=dict)
    forecast_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.forecast_seconds.values())

    def predict(self, n: int) -> float:
        return float(sum(a * n ** self.exponent[s] for s, a in self.coefficient.items()))


def time_seed_subsamples(data_path: str, sizes: Sequence[int]) -> Forecast:
    """Entry point of the child process: the seed steps on growing random subsamples."""
    with np.load(data_path) as archive:
        X_all, y_all = archive["X"], archive["y"]
    rng = np.random.default_rng(RANDOM_STATE)
    score_side("seed", np.ascontiguousarray(X_all[:WARM_UP_ROWS]), "l2", {})
    steps: dict[str, list[float]] = {name: [] for name in [*SEED_STEPS, "combine"]}
    aucs: list[float] = []
    for size in sizes:
        rows = np.sort(rng.choice(X_all.shape[0], size=size, replace=False))
        timings: Timings = {}
        scores = seed_scores(np.ascontiguousarray(X_all[rows]), timings)
        aucs.append(auc(y_all[rows], seed_combine(scores, timings)))
        for name, seconds in timings.items():
            steps[name].append(seconds)
        print(f"    seed on {size:,} rows: " + fmt_steps(timings), flush=True)
    return Forecast(n=X_all.shape[0], sizes=list(sizes), step_seconds=steps, subsample_auc=aucs)


def fit_power_law(sizes: Sequence[int], seconds: Sequence[float]) -> tuple[float, float]:
    """``(a, b)`` of ``t = a * n**b`` by least squares in log-log space."""
    log_t = np.log(np.maximum(np.asarray(seconds, dtype=np.float64), 1e-6))
    b, log_a = np.polyfit(np.log(np.asarray(sizes, dtype=np.float64)), log_t, 1)
    return float(math.exp(log_a)), float(b)


def extrapolate(forecast: Forecast) -> Forecast:
    for step, seconds in forecast.step_seconds.items():
        a, b = fit_power_law(forecast.sizes, seconds)
        forecast.coefficient[step], forecast.exponent[step] = a, b
        forecast.forecast_seconds[step] = a * forecast.n**b
    return forecast


# -- orchestration ---------------------------------------------------------------------------
@dataclass
class SizeReport:
    """Everything measured at one matrix size."""

    n: int
    dim: int
    seed: SideResult | None = None
    loghunt: SideResult | None = None
    forecast: Forecast | None = None
    notes: list[str] = field(default_factory=list)


def loghunt_problem() -> str | None:
    """Why the loghunt side cannot run here, or None when it can."""
    try:
        from loghunt.detectors import make_detector
        from loghunt.ensemble.ensemble import DetectorEnsemble  # noqa: F401

        for name in DETECTORS:
            make_detector(name)
    except Exception as exc:  # any import or registry failure means: skip the side, say why
        return f"{type(exc).__name__}: {exc}"
    return None


def write_data(spec: DataSpec, folder: Path) -> str:
    path = folder / f"data_{spec.n}x{spec.dim}.npz"
    X, y = make_data(spec)
    np.savez(path, X=X, y=y)
    return str(path)


def run_size(n: int, args: argparse.Namespace, folder: Path) -> SizeReport:
    report = SizeReport(n=n, dim=args.dim)
    print(f"\n== {n:,} x {args.dim} ==", flush=True)
    data_path = in_child(write_data, DataSpec(n=n, dim=args.dim, seed=args.seed), folder)
    if "loghunt" in args.sides:
        report.loghunt = in_child(run_side, "loghunt", data_path, args.metric)
        print_side(report.loghunt)
    if "seed" in args.sides:
        run_seed(report, args, data_path)
    return report


def run_seed(report: SizeReport, args: argparse.Namespace, data_path: str) -> None:
    sizes = [s for s in args.forecast_sizes if s < report.n]
    if report.n > max(args.forecast_sizes) and len(sizes) >= 2:
        print(f"  forecasting seed from subsamples {sizes}", flush=True)
        report.forecast = extrapolate(in_child(time_seed_subsamples, data_path, sizes))
        print_forecast(report.forecast)
        if report.forecast.total >= args.real_limit:
            report.notes.append(
                f"seed not run at {report.n:,} rows: forecast {report.forecast.total:,.0f} s "
                f">= limit {args.real_limit:,.0f} s"
            )
            return
    report.seed = in_child(run_side, "seed", data_path, args.metric)
    print_side(report.seed)


# -- printing and writing --------------------------------------------------------------------
def fmt_steps(timings: Mapping[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f}s" for name, seconds in timings.items())


def print_side(result: SideResult) -> None:
    print(
        f"  {result.side}: {result.seconds:.2f} s (CPU {result.cpu_seconds:.2f} s), "
        f"peak {result.peak_rss_mb:,.0f} MB "
        f"(after load {result.rss_after_load_mb:,.0f} MB), ROC-AUC {result.roc_auc:.4f}\n"
        f"    steps: {fmt_steps(result.steps)}\n"
        f"    AUC: " + ", ".join(f"{k} {v:.4f}" for k, v in result.detector_auc.items()),
        flush=True,
    )


def print_forecast(forecast: Forecast) -> None:
    for step, b in forecast.exponent.items():
        print(
            f"    {step}: t = {forecast.coefficient[step]:.3g} * n^{b:.2f} "
            f"-> {forecast.forecast_seconds[step]:,.0f} s at {forecast.n:,}",
            flush=True,
        )
    print(f"    forecast total: {forecast.total:,.0f} s", flush=True)


def main_table(reports: Sequence[SizeReport]) -> list[str]:
    lines = [
        "| size | side | wall time s | CPU time s | peak RSS MB | ROC-AUC | speed-up | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        seed_s = r.seed.seconds if r.seed else (r.forecast.total if r.forecast else None)
        if r.seed:
            lines.append(row(r, r.seed, "1.0×"))
        elif r.forecast:
            lines.append(
                f"| {r.n:,}×{r.dim} | seed | ~{r.forecast.total:,.0f} (forecast) | n/a | n/a "
                "| n/a | 1.0× | |"
            )
        if r.loghunt:
            speedup = f"{seed_s / r.loghunt.seconds:,.1f}×" if seed_s else "n/a"
            lines.append(row(r, r.loghunt, speedup))
    return lines


def row(r: SizeReport, res: SideResult, speedup: str) -> str:
    before, after = res.load_average
    return (
        f"| {r.n:,}×{r.dim} | {res.side} | {res.seconds:,.2f} | {res.cpu_seconds:,.2f} "
        f"| {res.peak_rss_mb:,.0f} | {res.roc_auc:.4f} | {speedup} | {before:.1f}→{after:.1f} |"
    )


def step_table(reports: Sequence[SizeReport]) -> list[str]:
    names = ["graph", *DETECTORS, "combine"]
    lines = [
        "| size | side | "
        + " | ".join(f"{n} s" for n in names)
        + " | "
        + " | ".join(f"AUC {n}" for n in DETECTORS)
        + " |",
        "|---:|---|" + "---:|" * (len(names) + len(DETECTORS)),
    ]
    for r in reports:
        for res in (r.seed, r.loghunt):
            if res is None:
                continue
            times = [f"{res.steps[n]:.2f}" if n in res.steps else "–" for n in names]
            aucs = [f"{res.detector_auc[n]:.4f}" for n in DETECTORS]
            lines.append(f"| {r.n:,}×{r.dim} | {res.side} | " + " | ".join(times + aucs) + " |")
    return lines


def forecast_table(reports: Sequence[SizeReport]) -> list[str]:
    lines: list[str] = []
    for r in reports:
        fc = r.forecast
        if fc is None:
            continue
        lines += [
            f"Seed forecast for {r.n:,}×{r.dim}, fitted on subsamples of "
            f"{', '.join(f'{s:,}' for s in fc.sizes)} rows "
            f"(ROC-AUC on the largest: {fc.subsample_auc[-1]:.4f}):",
            "",
            "| step | " + " | ".join(f"{s:,} s" for s in fc.sizes) + " | exponent b | forecast s |",
            "|---|" + "---:|" * (len(fc.sizes) + 2),
        ]
        for step, seconds in fc.step_seconds.items():
            cells = [f"{t:.2f}" for t in seconds]
            lines.append(
                f"| {step} | "
                + " | ".join(cells)
                + f" | {fc.exponent[step]:.2f} | {fc.forecast_seconds[step]:,.0f} |"
            )
        lines += [
            "| **total** |" + " |" * len(fc.sizes) + f" | **{fc.total:,.0f}** |",
            "",
        ]
        lines += forecast_checks(fc, reports)
    return lines


def forecast_checks(fc: Forecast, reports: Sequence[SizeReport]) -> list[str]:
    """The same power laws predicting the sizes where the seed ran for real."""
    return [
        f"Check: the fit predicts {fc.predict(r.n):,.1f} s at {r.n:,} rows; measured "
        f"{r.seed.seconds:,.1f} s.\n"
        for r in reports
        if r.seed is not None and r.n < fc.n
    ]


def target_lines(reports: Sequence[SizeReport]) -> list[str]:
    lines: list[str] = []
    for r in reports:
        if r.seed and r.loghunt and (r.n, r.dim) == TARGET_SIZE:
            lines += small_targets(r, r.seed, r.loghunt)
        if r.loghunt and (r.n, r.dim) == TARGET_BIG_SIZE:
            lines += big_targets(r, r.loghunt)
    return lines


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def small_targets(r: SizeReport, seed: SideResult, loghunt: SideResult) -> list[str]:
    speedup = seed.seconds / loghunt.seconds
    cpu_speedup = seed.cpu_seconds / loghunt.cpu_seconds
    gap = loghunt.roc_auc - seed.roc_auc
    better = " (loghunt higher)" if gap > TARGET_AUC_GAP else ""
    return [
        f"- {r.n:,}×{r.dim} speed: {speedup:,.1f}× (target ≥ {TARGET_SPEEDUP:.0f}×; by CPU "
        f"time {cpu_speedup:,.1f}×): {verdict(speedup >= TARGET_SPEEDUP)}",
        f"- {r.n:,}×{r.dim} quality: ROC-AUC gap {gap:+.4f}{better} (target within "
        f"±{TARGET_AUC_GAP}): {verdict(abs(gap) <= TARGET_AUC_GAP)}",
    ]


def big_targets(r: SizeReport, loghunt: SideResult) -> list[str]:
    fast = loghunt.seconds <= TARGET_BIG_SECONDS
    return [
        f"- {r.n:,}×{r.dim} time: loghunt {loghunt.seconds:,.1f} s (CPU {loghunt.cpu_seconds:,.1f}"
        f" s; target ≤ {TARGET_BIG_SECONDS:.0f} s): {verdict(fast)}",
        f"- {r.n:,}×{r.dim} memory: peak {loghunt.peak_rss_mb:,.0f} MB (target ≤ "
        f"{TARGET_BIG_RSS_MB:,.0f} MB): {verdict(loghunt.peak_rss_mb <= TARGET_BIG_RSS_MB)}",
    ]


def render(reports: Sequence[SizeReport], args: argparse.Namespace) -> str:
    lines = [
        "# Seed approach vs loghunt",
        "",
        f"`{' '.join(['python', *sys.argv])}` — {machine()}; loghunt graph metric `{args.metric}`.",
        "",
        "Wall and CPU time (all threads) cover scoring and combining, after loading and a",
        "warm-up; peak RSS is each side's own process (VmHWM, data included); load avg is the",
        "machine's 1-minute load before → after each side (above the CPU count = contention).",
        "",
        *main_table(reports),
        "",
        "Per step (seconds) and per-detector ROC-AUC:",
        "",
        *step_table(reports),
        "",
        *forecast_table(reports),
    ]
    targets = target_lines(reports)
    if targets:
        lines += ["Targets:", "", *targets, ""]
    notes = [n for r in reports for n in r.notes]
    if notes:
        lines += ["Notes:", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def to_json(reports: Sequence[SizeReport], args: argparse.Namespace) -> dict[str, Any]:
    def encode(r: SizeReport) -> dict[str, Any]:
        out = asdict(r)
        if r.forecast is not None:
            out["forecast"]["total_seconds"] = r.forecast.total
        return out

    return {
        "command": ["python", *sys.argv],
        "machine": machine(),
        "metric": args.metric,
        "data": {"seed": args.seed, "n_clusters": DataSpec(1, 1).n_clusters},
        "sizes": [encode(r) for r in reports],
    }


# -- CLI -------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int_list, default=None, help="rows, comma-separated")
    p.add_argument("--dim", type=int, default=None, help="columns (default 128; --quick: 32)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/seed_vs_loghunt.md"))
    p.add_argument("--forecast-sizes", type=int_list, default=None)
    p.add_argument(
        "--real-limit",
        type=float,
        default=600.0,
        help="run the seed for real above the forecast sizes only if forecast below",
    )
    p.add_argument(
        "--metric",
        default="cosine",
        choices=("cosine", "l2"),
        help="loghunt's shared graph (the seed's k-NN is cosine geometry)",
    )
    p.add_argument("--sides", type=lambda s: s.split(","), default=["loghunt", "seed"])
    p.add_argument("--seed", type=int, default=0, help="data seed")
    p.add_argument("--quick", action="store_true", help="smoke run: 5,000 and 20,000 x 32")
    args = p.parse_args(argv)
    if args.quick:
        args.real_limit = 0.0
    args.sizes = args.sizes or list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    args.dim = args.dim or (32 if args.quick else 128)
    args.forecast_sizes = args.forecast_sizes or list(
        QUICK_FORECAST_SIZES if args.quick else DEFAULT_FORECAST_SIZES
    )
    return args


def int_list(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problem = loghunt_problem() if "loghunt" in args.sides else None
    if problem:
        print(f"loghunt side skipped: {problem}", flush=True)
        args.sides = [s for s in args.sides if s != "loghunt"]
    with tempfile.TemporaryDirectory(prefix="seed_vs_loghunt_") as folder:
        reports = [run_size(n, args, Path(folder)) for n in sorted(args.sizes)]
    if problem:
        reports[0].notes.append(f"loghunt side skipped: {problem}")
    text = render(reports, args)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(to_json(reports, args), indent=2) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
