"""Latency of ``Pipeline.score`` on small batches: the fixed cost the live service pays per call.

    python benchmarks/score_latency.py                  # fit on 100,000; batches of 1, 100, 1,000
    python benchmarks/score_latency.py --fit-events 20000 --repeats 5       # smoke run
    python benchmarks/score_latency.py --profile 1      # plus a cProfile of 1-event batches
    python benchmarks/score_latency.py --baseline-src /tmp/old/src --rounds 2

A default pipeline (k-NN + ECOD, labels left out) is fitted once on the first ``--fit-events``
events of ``loghunt.synth.generate_cloudtrail_table`` and saved; each batch is a fresh slice of the
events after them (held out, later in time), so no call scores the training data or repeats a
batch. Every batch size is scored ``--repeats`` times after one warm-up call and the median is
reported, split into the pipeline's own step timings (``Pipeline.timings_``): featurize, detect,
explain, and the rest of ``score`` (normalise, scores, findings table). ``normalize`` alone is
timed on the same batch, outside ``score``.

``--baseline-src DIR`` measures another copy of the package (a ``src`` folder holding ``loghunt``,
for example a snapshot taken before a change) against this one: both load the same saved model in
their own process, alternately, ``--rounds`` times, and the table shows both side by side.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

STEPS = ("featurize", "detect", "explain")
LABELS = ("is_attack", "attack")
SEED = 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit-events", type=int, default=100_000)
    parser.add_argument("--batches", default="1,100,1000")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--model", type=Path, help="a saved model to load instead of fitting")
    parser.add_argument("--profile", type=int, help="cProfile the batches of this size")
    parser.add_argument("--baseline-src", type=Path, help="compare with this copy of src/")
    parser.add_argument("--rounds", type=int, default=1, help="alternations with a baseline")
    parser.add_argument("--json", type=Path, help="worker mode: write raw numbers here")
    return parser.parse_args()


def events(fit_events: int, batches: list[int], repeats: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The fit table and the held-out events after it (labels dropped)."""
    from loghunt.synth import generate_cloudtrail_table

    held = (repeats + 1) * sum(batches)
    table = generate_cloudtrail_table(fit_events + held, seed=SEED)
    return table.head(fit_events), table.slice(fit_events).drop(LABELS)


def fit_model(fit: pl.DataFrame, directory: Path) -> float:
    from loghunt.model import save_model
    from loghunt.pipeline import Pipeline

    started = time.perf_counter()
    save_model(Pipeline(exclude=LABELS).fit(fit), directory)
    return time.perf_counter() - started


def measure(model: Path, held: pl.DataFrame, batches: list[int], repeats: int) -> dict[str, Any]:
    """Median wall time of ``score`` and of its steps, in ms, per batch size."""
    from loghunt.model import load_model
    from loghunt.schema import normalize

    pipe = load_model(model)
    results: dict[str, Any] = {}
    offset = 0
    for size in batches:
        rows: dict[str, list[float]] = {k: [] for k in ("total", *STEPS, "rest", "normalize")}
        for i in range(repeats + 1):
            batch = held.slice(offset, size)
            offset += size
            pipe.timings_ = {}
            started = time.perf_counter()
            pipe.score(batch)
            total = time.perf_counter() - started
            t0 = time.perf_counter()
            normalize(batch)
            alone = time.perf_counter() - t0
            if i == 0:
                continue  # warm-up: first call of a size
            steps = {s: pipe.timings_.get(s, 0.0) for s in STEPS}
            rows["total"].append(total)
            rows["rest"].append(total - sum(steps.values()))
            rows["normalize"].append(alone)
            for s, v in steps.items():
                rows[s].append(v)
        results[str(size)] = {k: 1e3 * statistics.median(v) for k, v in rows.items()}
    return results


def profile(model: Path, held: pl.DataFrame, size: int, repeats: int) -> str:
    from loghunt.model import load_model

    pipe = load_model(model)
    pipe.score(held.slice(0, size))
    prof = cProfile.Profile()
    prof.enable()
    for i in range(1, repeats + 1):
        pipe.score(held.slice(i * size, size))
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
    return out.getvalue()


def run_worker(args: argparse.Namespace, batches: list[int]) -> None:
    _, held = events(args.fit_events, batches, args.repeats)
    result = measure(args.model, held, batches, args.repeats)
    args.json.write_bytes(json.dumps(result).encode())


def spawn(src: Path, args: argparse.Namespace, model: Path, out: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, __file__, "--model", str(model), "--json", str(out)]
    cmd += ["--fit-events", str(args.fit_events), "--batches", args.batches]
    cmd += ["--repeats", str(args.repeats)]
    subprocess.run(cmd, env=env, check=True)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def table(columns: dict[str, dict[str, Any]], batches: list[int]) -> str:
    """One row per batch size and measured side: events/s and the step medians in ms."""
    steps = "featurize | detect | explain | rest | normalize"
    head = f"| batch | code | events/s | total ms | {steps} |"
    lines = [head, "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size in batches:
        for side, result in columns.items():
            r = result[str(size)]
            rate = size / (r["total"] / 1e3)
            cells = [f"{r[k]:.1f}" for k in ("total", *STEPS, "rest", "normalize")]
            lines.append(f"| {size:,} | {side} | {rate:,.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.json is not None:
        run_worker(args, batches)
        return
    fit, held = events(args.fit_events, batches, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            model = Path(tmp) / "model"
            seconds = fit_model(fit, model)
            print(f"fitted on {args.fit_events:,} events in {seconds:.1f} s", flush=True)
        load = os.getloadavg()[0]
        if args.baseline_src is None:
            columns = {"current": measure(model, held, batches, args.repeats)}
        else:
            src = Path(__file__).resolve().parents[1] / "src"
            runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": []}
            for r in range(args.rounds):
                for side, path in (("baseline", args.baseline_src), ("current", src)):
                    out = Path(tmp) / f"{side}{r}.json"
                    runs[side].append(spawn(path, args, model, out))
            columns = {side: _median_of(rs, batches) for side, rs in runs.items()}
        print(
            f"\nPipeline.score on held-out batches, median of {args.repeats} "
            f"(model fitted on {args.fit_events:,} events; load {load:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after), ms:\n"
        )
        print(table(columns, batches))
        if args.profile:
            print(profile(model, held, args.profile, args.repeats))


def _median_of(results: list[dict[str, Any]], batches: list[int]) -> dict[str, Any]:
    return {
        str(b): {k: statistics.median(r[str(b)][k] for r in results) for k in results[0][str(b)]}
        for b in batches
    }


if __name__ == "__main__":
    main()
