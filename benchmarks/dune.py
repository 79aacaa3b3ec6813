"""The DUNE notebook's way (PyOD on integer category codes) against loghunt's presets.

All sides read the same CloudTrail-shaped events (``generate_cloudtrail_table(n, seed=0)``):

* pyod: the DUNE threat-hunting notebook's recipe. The five categorical fields
  ``actor.user.name``, ``api.operation``, ``api.service.name``, ``src_endpoint.ip`` and
  ``http_request.user_agent`` become unscaled integer codes (scikit-learn ``OrdinalEncoder``),
  and the 12 unsupervised PyOD models are fitted with their defaults (LOF with 35 neighbours).
  Each model's ``labels_`` (its own 10% contamination cut) is a vote; the vote rank is the number
  of models flagging an event.
* loghunt dune / default: ``Pipeline(detectors=PRESETS[...], labels="is_attack",
  exclude=("attack",)).fit_score(table)``, with loghunt's own featurization of the whole table
  (rarity and frequency features, never integer codes), end to end.

Each side runs in its own spawned process (peak RSS is the child's VmHWM, table included) after
a warm-up on a few rows, so imports and JIT compilation stay out of the times. PyOD models are
first timed on growing subsamples of the largest table; a power law ``t = a * n**b`` is fitted
per model, and a model whose forecast exceeds ``--model-limit`` seconds is not run for real at
that size: its time is the forecast (marked so) and its votes are missing from the rank. A
loghunt preset in ``--forecast-presets`` (default ``dune``) is timed the same way on small
subsamples; it runs for real only when its forecast fits ``--loghunt-limit`` seconds and 80%
of the machine's RAM. (Until loghunt had its own ROD, the preset's ``pyod:ROD`` fitted all
C(37, 3) = 7,770 subspaces of loghunt's features: a forecast of ~14,000 s at 300,000 events.)

    python benchmarks/dune.py                         # 100,000 and 300,000 events
    python benchmarks/dune.py --quick                 # smoke run on 20,000 events
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

# ``python benchmarks/dune.py`` puts benchmarks/ first on sys.path (and spawned children inherit
# it), so the house helpers import directly.
from seed_vs_loghunt import (
    Timings,
    auc,
    fit_power_law,
    in_child,
    int_list,
    machine,
    peak_rss_mb,
    timed,
    verdict,
)

FIELDS = (
    "actor.user.name",
    "api.operation",
    "api.service.name",
    "src_endpoint.ip",
    "http_request.user_agent",
)
LABEL, EXCLUDE = "is_attack", ("attack",)
#: label -> (pyod.models module, class, non-default arguments), in the notebook's order.
PYOD_MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "cblof": ("cblof", "CBLOF", {}),
    "iforest": ("iforest", "IForest", {}),
    "knn": ("knn", "KNN", {}),
    "avgknn": ("knn", "KNN", {"method": "mean"}),
    "lof": ("lof", "LOF", {"n_neighbors": 35}),
    "rod": ("rod", "ROD", {}),
    "copod": ("copod", "COPOD", {}),
    "ecod": ("ecod", "ECOD", {}),
    "gmm": ("gmm", "GMM", {}),
    "hbos": ("hbos", "HBOS", {}),
    "inne": ("inne", "INNE", {}),
    "loda": ("loda", "LODA", {}),
}
PRESET_NAMES = ("dune", "default")
DEFAULT_SIZES = (100_000, 300_000)
QUICK_SIZES = (5_000,)
DEFAULT_FORECAST_SIZES = (10_000, 20_000, 40_000)
QUICK_FORECAST_SIZES = (1_000, 2_000)
DEFAULT_LOGHUNT_FORECAST_SIZES = (1_000, 2_000, 4_000)
QUICK_LOGHUNT_FORECAST_SIZES = (250, 500)
WARM_UP_ROWS = 2_000
TARGET_SPEEDUP = 5.0
TARGET_AUC_GAP = 0.1
DATA_SEED = 0

Codes = NDArray[np.float64]
Labels = NDArray[np.int8]


# -- data ------------------------------------------------------------------------------------
def write_table(n: int, folder: Path) -> str:
    """Entry point of a child: the synthetic events of size ``n`` as Parquet."""
    from loghunt.synth import generate_cloudtrail_table

    path = folder / f"cloudtrail_{n}.parquet"
    generate_cloudtrail_table(n, seed=DATA_SEED).write_parquet(path)
    return str(path)


def cardinalities(path: str) -> dict[str, int]:
    table = pl.read_parquet(path, columns=list(FIELDS))
    return {name: table.get_column(name).n_unique() for name in FIELDS}


def labels_of(table: pl.DataFrame) -> Labels:
    return table.get_column(LABEL).fill_null(False).to_numpy().astype(np.int8)


# -- the PyOD way ----------------------------------------------------------------------------
def encode(table: pl.DataFrame) -> Codes:
    """Unscaled integer codes of the categorical fields, as the notebook feeds PyOD."""
    from sklearn.preprocessing import OrdinalEncoder

    text = table.select(pl.col(f).cast(pl.Utf8).fill_null("") for f in FIELDS).to_numpy()
    return np.asarray(OrdinalEncoder().fit_transform(text), dtype=np.float64)


def make_pyod(label: str) -> Any:
    module, name, params = PYOD_MODELS[label]
    return getattr(importlib.import_module(f"pyod.models.{module}"), name)(**params)


def warm_up_pyod(X: Codes) -> None:
    """Fit every model on a few rows: imports and numba compilation out of the timings."""
    for label in PYOD_MODELS:
        # A warm-up failure shows again, and is reported, in the real fit.
        with contextlib.suppress(Exception):
            make_pyod(label).fit(X[:WARM_UP_ROWS])


@dataclass
class PyodFits:
    """Per-model fit times, ROC-AUC of decision scores, errors, and the vote count."""

    seconds: Timings = field(default_factory=dict)
    auc: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def fit_models(X: Codes, y: Labels, labels: Sequence[str], fits: PyodFits) -> NDArray[np.int64]:
    """Fit each model on ``X`` and return how many of them flag each row."""
    votes = np.zeros(X.shape[0], dtype=np.int64)
    for label in labels:
        model = make_pyod(label)
        try:
            with timed(fits.seconds, label):
                model.fit(X)
        except Exception as exc:  # one failing model must not sink the run; it is reported
            fits.errors[label] = f"{type(exc).__name__}: {exc}"
            continue
        votes += np.asarray(model.labels_, dtype=np.int64)
        fits.auc[label] = auc(y, np.nan_to_num(np.asarray(model.decision_scores_, np.float64)))
    return votes


@dataclass
class PyodResult:
    """One real run of the PyOD way on one table; ``forecast`` holds models not run."""

    n: int
    encode_seconds: float
    fits: PyodFits
    forecast: Timings
    vote_auc: float
    cpu_seconds: float
    peak_rss_mb: float
    rss_after_load_mb: float
    load_average: tuple[float, float]

    @property
    def measured(self) -> float:
        return self.encode_seconds + sum(self.fits.seconds.values())

    @property
    def total(self) -> float:
        return self.measured + sum(self.forecast.values())


def run_pyod(path: str, forecast: Timings) -> PyodResult:
    """Entry point of a child: encode, fit the models not in ``forecast``, count votes."""
    np.random.seed(0)  # PyOD's defaults draw from the global generator (random_state=None)
    table = pl.read_parquet(path)
    y = labels_of(table)
    rss_after_load = peak_rss_mb()
    warm_up_pyod(encode(table.head(WARM_UP_ROWS)))
    load_before = os.getloadavg()[0]
    cpu_start, start = time.process_time(), time.perf_counter()
    X = encode(table)
    encode_seconds = time.perf_counter() - start
    fits = PyodFits()
    votes = fit_models(X, y, [m for m in PYOD_MODELS if m not in forecast], fits)
    return PyodResult(
        n=table.height,
        encode_seconds=encode_seconds,
        fits=fits,
        forecast=dict(forecast),
        vote_auc=auc(y, votes.astype(np.float64)),
        cpu_seconds=time.process_time() - cpu_start,
        peak_rss_mb=peak_rss_mb(),
        rss_after_load_mb=rss_after_load,
        load_average=(load_before, os.getloadavg()[0]),
    )


# -- the PyOD forecast -----------------------------------------------------------------------
@dataclass
class PowerLaws:
    """Seconds on subsamples, one series per key, and their power laws ``t = a * n**b``."""

    sizes: list[int]
    seconds: dict[str, list[float]]
    coefficient: dict[str, float] = field(default_factory=dict)
    exponent: dict[str, float] = field(default_factory=dict)

    def fit(self) -> PowerLaws:
        for key, times in self.seconds.items():
            if all(np.isfinite(times)):
                self.coefficient[key], self.exponent[key] = fit_power_law(self.sizes, times)
        return self

    def predict(self, key: str, n: int) -> float:
        return float(self.coefficient[key] * n ** self.exponent[key])


def time_pyod_subsamples(path: str, sizes: Sequence[int]) -> PowerLaws:
    """Entry point of a child: every model fitted on growing random subsamples."""
    np.random.seed(0)
    table = pl.read_parquet(path)
    X_all, y_all = encode(table), labels_of(table)
    warm_up_pyod(X_all)
    rng = np.random.default_rng(DATA_SEED)
    seconds: dict[str, list[float]] = {label: [] for label in PYOD_MODELS}
    for size in sizes:
        rows = np.sort(rng.choice(X_all.shape[0], size=size, replace=False))
        fits = PyodFits()
        fit_models(X_all[rows], y_all[rows], list(PYOD_MODELS), fits)
        for label in PYOD_MODELS:
            seconds[label].append(fits.seconds.get(label, float("nan")))
        print(f"    pyod on {size:,} events: {fmt_times(fits.seconds)}", flush=True)
    return PowerLaws(sizes=list(sizes), seconds=seconds).fit()


def too_slow(forecast: PowerLaws | None, n: int, limit: float) -> Timings:
    """Forecast seconds of the models that would take longer than ``limit`` at ``n`` rows."""
    if forecast is None or n <= max(forecast.sizes):
        return {}
    predicted = {label: forecast.predict(label, n) for label in forecast.coefficient}
    return {label: t for label, t in predicted.items() if t > limit}


# -- loghunt ---------------------------------------------------------------------------------
@dataclass
class LoghuntResult:
    """One real run of a loghunt preset on one table."""

    preset: str
    n: int
    n_features: int
    seconds: float
    cpu_seconds: float
    steps: Timings
    member_seconds: Timings
    member_auc: dict[str, float]
    votes_auc: float
    combined_auc: float
    peak_rss_mb: float
    rss_after_load_mb: float
    load_average: tuple[float, float]


def member_seconds(detector_seconds: Mapping[str, float]) -> Timings:
    """The ensemble's own per-member fit times, with the shared search named "graph"."""
    from loghunt.ensemble.ensemble import GRAPH_LABEL

    return {"graph" if k == GRAPH_LABEL else k: v for k, v in detector_seconds.items()}


def make_pipeline(preset: str, fields: Sequence[str] | None) -> Any:
    """The preset's pipeline, on ``fields`` or (None) on every column but the labels."""
    from loghunt.ensemble.presets import PRESETS
    from loghunt.pipeline import Pipeline

    return Pipeline(
        detectors=PRESETS[preset],
        labels=LABEL,
        exclude=EXCLUDE,
        fields=tuple(fields) if fields else None,
    )


def run_loghunt(path: str, preset: str, fields: Sequence[str] | None) -> LoghuntResult:
    """Entry point of a child: ``fit_score`` of one preset, end to end, members timed."""
    from loghunt.ensemble.presets import PRESETS, parse_detector_spec

    table = pl.read_parquet(path)
    rss_after_load = peak_rss_mb()
    make_pipeline(preset, fields).fit_score(table.head(WARM_UP_ROWS))
    labels = [parse_detector_spec(s).label for s in PRESETS[preset]]
    pipeline = make_pipeline(preset, fields)
    load_before = os.getloadavg()[0]
    cpu_start, start = time.process_time(), time.perf_counter()
    findings = pipeline.fit_score(table)
    members = member_seconds(findings.detector_seconds)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    metrics = {m.name: m.roc_auc for m in findings.metrics}
    return LoghuntResult(
        preset=preset,
        n=table.height,
        n_features=len(pipeline.featurizer_.feature_names_),
        seconds=seconds,
        cpu_seconds=cpu,
        steps={**findings.timings, "rest": seconds - sum(findings.timings.values())},
        member_seconds=members,
        member_auc={label: metrics[label] for label in labels if label in metrics},
        votes_auc=metrics["votes"],
        combined_auc=metrics["ensemble"],
        peak_rss_mb=peak_rss_mb(),
        rss_after_load_mb=rss_after_load,
        load_average=(load_before, os.getloadavg()[0]),
    )


@dataclass
class LoghuntForecast:
    """A preset's ``fit_score`` on growing subsamples: power laws of time, a line of memory."""

    preset: str
    laws: PowerLaws
    peak_rss_mb: list[float]
    votes_auc: list[float]
    combined_auc: list[float]

    def predict_rss(self, n: int) -> float:
        slope, intercept = np.polyfit(self.laws.sizes, self.peak_rss_mb, 1)
        return float(slope * n + intercept)


def time_loghunt_subsamples(
    path: str, preset: str, sizes: Sequence[int], fields: Sequence[str] | None
) -> LoghuntForecast:
    """Entry point of a child: a preset on growing random subsamples (time order kept)."""
    table = pl.read_parquet(path)
    make_pipeline(preset, fields).fit_score(table.head(WARM_UP_ROWS))
    rng = np.random.default_rng(DATA_SEED)
    fc = LoghuntForecast(preset, PowerLaws(list(sizes), {}), [], [], [])
    for size in sizes:
        part = table[np.sort(rng.choice(table.height, size=size, replace=False))]
        times: Timings = {}
        with timed(times, "total"):
            findings = make_pipeline(preset, fields).fit_score(part)
        times.update(member_seconds(findings.detector_seconds))
        metrics = {m.name: m.roc_auc for m in findings.metrics}
        for key, value in times.items():
            fc.laws.seconds.setdefault(key, []).append(value)
        fc.peak_rss_mb.append(peak_rss_mb())
        fc.votes_auc.append(metrics["votes"])
        fc.combined_auc.append(metrics["ensemble"])
        print(f"    loghunt {preset} on {size:,} events: {fmt_times(times)}", flush=True)
    fc.laws.fit()
    return fc


@dataclass
class Predicted:
    """A loghunt preset not run at this size: its forecast time, members and memory."""

    seconds: float
    peak_rss_mb: float
    members: Timings
    reason: str


def _limit_memory(limit_bytes: int) -> None:
    """Pool initializer: a MemoryError in the child rather than the kernel's OOM killer."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def guarded(func: Callable[..., Any], *args: Any, timeout: float) -> Any:
    """``func(*args)`` in a fresh spawned process, capped in address space and wall time."""
    limit = int(physical_mb() * 2**20)
    ctx = mp.get_context("spawn")
    with ctx.Pool(1, initializer=_limit_memory, initargs=(limit,), maxtasksperchild=1) as pool:
        return pool.apply_async(func, args).get(timeout)


def physical_mb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


# -- orchestration ---------------------------------------------------------------------------
@dataclass
class SizeReport:
    """Everything measured (or forecast) at one table size."""

    n: int
    cardinality: dict[str, int]
    pyod: PyodResult | None = None
    loghunt: dict[str, LoghuntResult] = field(default_factory=dict)
    predicted: dict[str, Predicted] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Total seconds of every real run per side ("pyod" or a preset), in run order.
    runs: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Forecasts:
    pyod: PowerLaws | None = None
    loghunt: dict[str, LoghuntForecast] = field(default_factory=dict)


def predict_loghunt(fc: LoghuntForecast, n: int, limit: float) -> Predicted | None:
    """The forecast when ``fc`` says a real run at ``n`` would be too slow or too big."""
    seconds, rss = fc.laws.predict("total", n), fc.predict_rss(n)
    budget = 0.8 * physical_mb()
    if seconds <= limit and rss <= budget:
        return None
    members = {k: fc.laws.predict(k, n) for k in fc.laws.coefficient if k != "total"}
    reason = (
        f"forecast {seconds:,.0f} s (limit {limit:,.0f} s), {rss:,.0f} MB (budget {budget:,.0f} MB)"
    )
    return Predicted(seconds, rss, members, reason)


def run_preset(
    report: SizeReport, preset: str, path: str, args: argparse.Namespace, fc: Forecasts
) -> None:
    forecast = fc.loghunt.get(preset)
    predicted = predict_loghunt(forecast, report.n, args.loghunt_limit) if forecast else None
    if predicted is None:
        try:
            result = guarded(run_loghunt, path, preset, args.fields, timeout=args.loghunt_limit)
        except Exception as exc:  # out of memory or time: say so, fall back on the forecast
            report.notes.append(
                f"loghunt `{preset}` at {report.n:,} failed: {type(exc).__name__} {exc}"
            )
            print(f"  loghunt {preset} failed: {type(exc).__name__} {exc}", flush=True)
            if forecast is None:
                return
            predicted = predict_loghunt(forecast, report.n, 0.0)
        else:
            report.runs.setdefault(preset, []).append(result.seconds)
            kept = report.loghunt.get(preset)
            if kept is None or result.seconds < kept.seconds:  # the fastest run is reported
                report.loghunt[preset] = result
            print_loghunt(result)
            return
    if predicted is not None:
        report.predicted[preset] = predicted
        report.notes.append(f"loghunt `{preset}` at {report.n:,} not run: {predicted.reason}")
        print(f"  loghunt {preset}: not run, {predicted.reason}", flush=True)


def run_size(n: int, args: argparse.Namespace, path: str, fc: Forecasts) -> SizeReport:
    report = SizeReport(n=n, cardinality=cardinalities(path))
    print(f"\n== {n:,} events; cardinalities {report.cardinality} ==", flush=True)
    slow = too_slow(fc.pyod, n, args.model_limit) if args.pyod else {}
    if slow:
        report.notes.append(
            f"PyOD at {n:,} events: not run, forecast over {args.model_limit:,.0f} s: "
            + fmt_times(slow)
        )
    # Sides alternate, so that a burst of load from elsewhere hits one run, not one side.
    for round_ in range(args.repeats):
        if args.repeats > 1:
            print(f"  -- run {round_ + 1} of {args.repeats}", flush=True)
        for preset in args.presets:
            if preset not in report.predicted:
                run_preset(report, preset, path, args, fc)
        if args.pyod:
            result = in_child(run_pyod, path, slow)
            report.runs.setdefault("pyod", []).append(result.total)
            if report.pyod is None or result.total < report.pyod.total:
                report.pyod = result
            print_pyod(result)
    if args.repeats > 1:
        report.notes.append(f"{n:,} events, total seconds of every run: " + runs_text(report))
    return report


def runs_text(report: SizeReport) -> str:
    return "; ".join(
        f"{'PyOD' if side == 'pyod' else f'`{side}`'} " + ", ".join(f"{t:,.2f}" for t in times)
        for side, times in report.runs.items()
    )


def run_all(args: argparse.Namespace, folder: Path) -> tuple[list[SizeReport], Forecasts]:
    paths = {n: in_child(write_table, n, folder) for n in sorted(args.sizes)}
    largest = paths[max(paths)]
    fc = Forecasts()
    sizes = [s for s in args.forecast_sizes if s < max(paths)]
    if args.pyod and len(sizes) >= 2:
        print(f"timing PyOD models on subsamples {sizes}", flush=True)
        fc.pyod = in_child(time_pyod_subsamples, largest, sizes)
    sizes = [s for s in args.loghunt_forecast_sizes if s < max(paths)]
    for preset in args.forecast_presets if len(sizes) >= 2 else []:
        print(f"timing loghunt {preset} on subsamples {sizes}", flush=True)
        fc.loghunt[preset] = in_child(time_loghunt_subsamples, largest, preset, sizes, args.fields)
    return [run_size(n, args, p, fc) for n, p in paths.items()], fc


# -- printing --------------------------------------------------------------------------------
def fmt_times(times: Timings) -> str:
    return ", ".join(f"{name} {seconds:.2f}s" for name, seconds in times.items())


def print_loghunt(r: LoghuntResult) -> None:
    print(
        f"  loghunt {r.preset}: {r.seconds:.2f} s (CPU {r.cpu_seconds:.2f} s), peak "
        f"{r.peak_rss_mb:,.0f} MB, AUC votes {r.votes_auc:.4f} combined {r.combined_auc:.4f}\n"
        f"    steps: {fmt_times(r.steps)}\n    members: {fmt_times(r.member_seconds)}",
        flush=True,
    )


def print_pyod(r: PyodResult) -> None:
    forecast = f" + forecast {sum(r.forecast.values()):,.0f} s" if r.forecast else ""
    print(
        f"  pyod: {r.measured:.2f} s measured{forecast} (CPU {r.cpu_seconds:.2f} s), peak "
        f"{r.peak_rss_mb:,.0f} MB, vote-rank AUC {r.vote_auc:.4f}\n"
        f"    encode {r.encode_seconds:.2f}s, {fmt_times(r.fits.seconds)}",
        flush=True,
    )
    for label, error in r.fits.errors.items():
        print(f"    {label} failed: {error}", flush=True)


# -- markdown --------------------------------------------------------------------------------
def pyod_seconds(r: PyodResult) -> str:
    if not r.forecast:
        return f"{r.total:,.2f}"
    return f"~{r.total:,.0f} (incl. forecast)"


def dune_seconds(r: SizeReport, preset: str) -> float | None:
    """A preset's time at this size: measured, else forecast, else None."""
    if preset in r.loghunt:
        return r.loghunt[preset].seconds
    return r.predicted[preset].seconds if preset in r.predicted else None


def main_table(reports: Sequence[SizeReport]) -> list[str]:
    lines = [
        "| events | method | total s | CPU s | peak RSS MB | ROC-AUC votes | ROC-AUC combined "
        "| speed-up vs PyOD | load avg |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        if r.pyod:
            lines.append(pyod_row(r.n, r.pyod))
        for preset, res in r.loghunt.items():
            speedup = f"{r.pyod.total / res.seconds:.3g}×" if r.pyod else "n/a"
            lines.append(
                f"| {r.n:,} | loghunt `{preset}` | {res.seconds:,.2f} | {res.cpu_seconds:,.2f} "
                f"| {res.peak_rss_mb:,.0f} | {res.votes_auc:.4f} | {res.combined_auc:.4f} "
                f"| {speedup} | {res.load_average[0]:.1f}→{res.load_average[1]:.1f} |"
            )
        for preset, pred in r.predicted.items():
            speedup = f"~{r.pyod.total / pred.seconds:.3g}×" if r.pyod else "n/a"
            lines.append(
                f"| {r.n:,} | loghunt `{preset}` (**forecast**, not run) | ~{pred.seconds:,.0f} "
                f"| – | ~{pred.peak_rss_mb:,.0f} | – | – | {speedup} | |"
            )
    return lines


def pyod_row(n: int, p: PyodResult) -> str:
    return (
        f"| {n:,} | PyOD on integer codes (12 models) | {pyod_seconds(p)} "
        f"| {p.cpu_seconds:,.2f} | {p.peak_rss_mb:,.0f} | {p.vote_auc:.4f} | – | 1.0× "
        f"| {p.load_average[0]:.1f}→{p.load_average[1]:.1f} |"
    )


def member_table(reports: Sequence[SizeReport]) -> list[str]:
    lines = [
        "| events | model | PyOD fit s | PyOD AUC | loghunt `dune` fit s | loghunt `dune` AUC |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in reports:
        for label in [*PYOD_MODELS, "graph"]:
            lines.append(
                f"| {r.n:,} | {label} | {pyod_cells(r.pyod, label)} | {dune_cells(r, label)} |"
            )
        if r.pyod:
            lines.append(f"| {r.n:,} | (encode) | {r.pyod.encode_seconds:.2f} | | | |")
        if "dune" in r.loghunt:
            for step, value in r.loghunt["dune"].steps.items():
                lines.append(f"| {r.n:,} | ({step}) | | | {value:.2f} | |")
    return lines


def pyod_cells(p: PyodResult | None, label: str) -> str:
    if p is None or label == "graph":
        return "– | –"
    if label in p.forecast:
        return f"~{p.forecast[label]:,.0f} (forecast) | –"
    if label in p.fits.errors:
        return "failed | –"
    if label not in p.fits.seconds:
        return "– | –"
    return f"{p.fits.seconds[label]:.2f} | {p.fits.auc.get(label, float('nan')):.4f}"


def dune_cells(r: SizeReport, label: str) -> str:
    if "dune" in r.predicted and label in r.predicted["dune"].members:
        return f"~{r.predicted['dune'].members[label]:,.0f} (forecast) | –"
    d = r.loghunt.get("dune")
    if d is None or label not in d.member_seconds:
        return "– | –"
    return f"{d.member_seconds[label]:.2f} | {d.member_auc.get(label, float('nan')):.4f}"


def law_table(
    title: str, laws: PowerLaws, sizes: Sequence[int], measured: Callable[[str, int], float | None]
) -> list[str]:
    head = " | ".join(f"{s:,} s" for s in laws.sizes)
    preds = " | ".join(f"forecast {n:,} s | measured {n:,} s" for n in sizes)
    lines = [
        title,
        "",
        f"| part | {head} | b | {preds} |",
        "|---|" + "---:|" * (len(laws.sizes) + 1 + 2 * len(sizes)),
    ]
    for key, times in laws.seconds.items():
        cells = [f"{t:.2f}" for t in times]
        cells.append(f"{laws.exponent[key]:.2f}" if key in laws.exponent else "–")
        for n in sizes:
            seen = measured(key, n)
            cells.append(f"{laws.predict(key, n):,.1f}" if key in laws.coefficient else "–")
            cells.append(f"{seen:,.2f}" if seen is not None else "not run")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def forecast_tables(fc: Forecasts, reports: Sequence[SizeReport]) -> list[str]:
    by_n = {r.n: r for r in reports}
    sizes = list(by_n)
    lines: list[str] = []
    if fc.pyod:

        def pyod_seen(key: str, n: int) -> float | None:
            p = by_n[n].pyod
            return p.fits.seconds.get(key) if p else None

        lines += law_table(
            "PyOD fit times on random subsamples of the largest table, power law `t = a·n^b`:",
            fc.pyod,
            sizes,
            pyod_seen,
        )
    for preset, lf in fc.loghunt.items():

        def seen(key: str, n: int, preset: str = preset) -> float | None:
            res = by_n[n].loghunt.get(preset)
            if res is None:
                return None
            return res.seconds if key == "total" else res.member_seconds.get(key)

        aucs = ", ".join(
            f"{s:,}: votes {v:.4f} / combined {c:.4f}"
            for s, v, c in zip(lf.laws.sizes, lf.votes_auc, lf.combined_auc, strict=True)
        )
        rss = ", ".join(
            f"{s:,}: {m:,.0f} MB" for s, m in zip(lf.laws.sizes, lf.peak_rss_mb, strict=True)
        )
        lines += law_table(
            f"loghunt `{preset}` `fit_score` on random subsamples (time order kept), "
            "power law per part:",
            lf.laws,
            sizes,
            seen,
        )
        lines += [f"Subsample ROC-AUC — {aucs}. Peak RSS — {rss} (forecast linearly).", ""]
    return lines


# -- targets ---------------------------------------------------------------------------------
def target_lines(reports: Sequence[SizeReport]) -> list[str]:
    lines: list[str] = []
    for r in reports:
        if r.pyod:
            lines += speed_target(r, r.pyod)
        default = r.loghunt.get("default")
        if r.pyod and default:
            gap = default.combined_auc - r.pyod.vote_auc
            lines.append(
                f"- {r.n:,} events, quality: `default` combined-score ROC-AUC "
                f"{default.combined_auc:.4f} − PyOD vote rank {r.pyod.vote_auc:.4f} = {gap:+.4f} "
                f"(target ≥ +{TARGET_AUC_GAP}; `default` votes: "
                f"{default.votes_auc - r.pyod.vote_auc:+.4f}): {verdict(gap >= TARGET_AUC_GAP)}"
            )
    return lines


def speed_target(r: SizeReport, pyod: PyodResult) -> list[str]:
    seconds = dune_seconds(r, "dune")
    if seconds is None:
        return []
    forecast = " (forecast, not run)" if "dune" in r.predicted else ""
    speedup = pyod.total / seconds
    applies = r.n == max(DEFAULT_SIZES)
    state = verdict(speedup >= TARGET_SPEEDUP) if applies else "(the target is set at 300,000)"
    line = (
        f"- {r.n:,} events, speed: `dune` {seconds:,.1f} s{forecast} vs PyOD "
        f"{pyod_seconds(pyod)} s = {speedup:.3g}× (target ≥ {TARGET_SPEEDUP:.0f}× at 300,000): "
        f"{state}"
    )
    return [line, *dominant(r)]


def dominant(r: SizeReport) -> list[str]:
    """Where the `dune` preset's time goes, largest first."""
    if "dune" in r.loghunt:
        d = r.loghunt["dune"]
        parts = {**d.member_seconds, **{k: v for k, v in d.steps.items() if k != "detect"}}
        total = d.seconds
    else:
        parts = r.predicted["dune"].members  # each its own power law: shares of their sum
        total = sum(parts.values())
    top = sorted(parts.items(), key=lambda kv: -kv[1])[:4]
    share = ", ".join(f"{k} {v:,.1f} s ({v / total:.0%})" for k, v in top)
    return [f"  - `dune` time by part, largest first: {share}"]


# -- output ----------------------------------------------------------------------------------
def render(reports: Sequence[SizeReport], fc: Forecasts, args: argparse.Namespace) -> str:
    fields = ", ".join(f"`{f}`" for f in FIELDS)
    loghunt_fields = ", ".join(args.fields) if args.fields else "all columns but the labels"
    cards = "; ".join(
        f"{r.n:,}: " + ", ".join(f"{k} {v}" for k, v in r.cardinality.items()) for r in reports
    )
    lines = [
        "# The DUNE approach (PyOD on integer codes) vs loghunt presets",
        "",
        f"`{' '.join(['python', *sys.argv])}` — {machine()}.",
        "",
        f"Data: `generate_cloudtrail_table(n, seed={DATA_SEED})`; distinct values per field —",
        f"{cards}. PyOD way: {fields} as unscaled `OrdinalEncoder` codes, the 12 unsupervised",
        "PyOD models with defaults (LOF 35 neighbours), each model's `labels_` (10% contamination)",
        "a vote; ROC-AUC of the vote count. loghunt: `Pipeline(detectors=PRESETS[...])` on",
        f"{loghunt_fields}, its own features; ROC-AUC of `votes` and of `combined_score`. Times",
        "are end to end after a warm-up (PyOD: encoding + fits; loghunt: `fit_score`), each side",
        "in its own process; peak RSS is that process's VmHWM, table included. Load avg: 1-minute",
        "load before → after",
        f"(the machine has {os.cpu_count()} CPUs; above that means contention).",
        *(
            [
                f"Each side ran {args.repeats} times, the sides alternating; the tables show each "
                "side's fastest run (every run's total is in the notes)."
            ]
            if args.repeats > 1
            else []
        ),
        "",
        *main_table(reports),
        "",
        "Per model (fit seconds and ROC-AUC of each model's own scores):",
        "",
        *member_table(reports),
        "",
        *forecast_tables(fc, reports),
    ]
    targets = target_lines(reports)
    if targets:
        lines += ["Targets:", "", *targets, ""]
    notes = [n for r in reports for n in r.notes]
    notes += [
        f"{r.n:,} events: PyOD {k} failed: {e}"
        for r in reports
        if r.pyod
        for k, e in r.pyod.fits.errors.items()
    ]
    if notes:
        lines += ["Notes:", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


def to_json(
    reports: Sequence[SizeReport], fc: Forecasts, args: argparse.Namespace
) -> dict[str, Any]:
    def encode_report(r: SizeReport) -> dict[str, Any]:
        out = asdict(r)
        if r.pyod:
            out["pyod"]["total_seconds"] = r.pyod.total
            out["pyod"]["measured_seconds"] = r.pyod.measured
        return out

    return {
        "command": ["python", *sys.argv],
        "machine": machine(),
        "fields": list(FIELDS),
        "loghunt_fields": args.fields,
        "data_seed": DATA_SEED,
        "forecasts": asdict(fc),
        "sizes": [encode_report(r) for r in reports],
        "targets": target_lines(reports),
    }


# -- CLI -------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--sizes", type=int_list, default=None, help="events, comma-separated")
    p.add_argument("--out", type=Path, default=None, help="markdown; JSON beside it")
    p.add_argument("--forecast-sizes", type=int_list, default=None, help="PyOD subsamples")
    p.add_argument("--model-limit", type=float, default=600.0, help="forecast seconds per model")
    p.add_argument("--loghunt-forecast-sizes", type=int_list, default=None)
    p.add_argument("--forecast-presets", type=csv, default=["dune"], help="presets to forecast")
    p.add_argument("--loghunt-limit", type=float, default=600.0, help="seconds per preset run")
    p.add_argument("--presets", type=csv, default=list(PRESET_NAMES))
    p.add_argument(
        "--repeats", type=int, default=1, help="runs per side and size (alternating); fastest kept"
    )
    p.add_argument("--no-pyod", dest="pyod", action="store_false", help="loghunt side only")
    p.add_argument(
        "--same-fields",
        action="store_true",
        help="give loghunt only the five PyOD fields (default: the whole table)",
    )
    p.add_argument("--quick", action="store_true", help=f"smoke run on {QUICK_SIZES[0]:,} events")
    args = p.parse_args(argv)
    quick = args.quick
    args.sizes = args.sizes or list(QUICK_SIZES if quick else DEFAULT_SIZES)
    args.forecast_sizes = args.forecast_sizes or list(
        QUICK_FORECAST_SIZES if quick else DEFAULT_FORECAST_SIZES
    )
    args.loghunt_forecast_sizes = args.loghunt_forecast_sizes or list(
        QUICK_LOGHUNT_FORECAST_SIZES if quick else DEFAULT_LOGHUNT_FORECAST_SIZES
    )
    args.fields = list(FIELDS) if args.same_fields else None
    if quick:
        args.loghunt_limit = min(args.loghunt_limit, 60.0)
    args.out = args.out or Path(f"benchmarks/results/{'dune_quick' if quick else 'dune'}.md")
    return args


def csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dune_bench_") as folder:
        reports, fc = run_all(args, Path(folder))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    raw = {"sizes": [asdict(r) for r in reports], "forecasts": asdict(fc)}
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n")  # before render
    text = render(reports, fc, args)
    print("\n" + text)
    args.out.write_text(text + "\n")
    args.out.with_suffix(".json").write_text(
        json.dumps(to_json(reports, fc, args), indent=2) + "\n"
    )
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
