"""ADBench runner: loghunt's detectors on the ADBench tabular datasets, compared with the paper.

The protocol follows ADBench (Han et al., NeurIPS 2022) as ``shared/data/README.md`` states it
and as ADBench's own ``DataGenerator.generator`` does it:

- datasets over ``max_rows`` rows are subsampled to ``max_rows`` and those under ``min_rows``
  resampled with replacement to ``min_rows``, both per seed. Unlike ADBench (plain
  ``np.random.choice``) both are stratified, so every seed keeps the file's anomaly ratio;
- a stratified 70/30 split (``train_test_split(stratify=y, random_state=seed)``);
- min-max scaling fitted on the training part (ADBench's ``minmax=True`` default; PyOD's
  distance-based models are scale-sensitive, so raw features would not be comparable);
- every method is fitted on the training part without labels (it still holds the anomalies)
  and scores the test part, with default hyperparameters.

Methods are registry names (``"knn"``), ensembles from :data:`PRESETS` (``"preset:default"``)
and PyOD models by class name (``"pyod:CBLOF"``). A method that raises on a dataset is
recorded as NaN with its error; the run goes on.
"""

from __future__ import annotations

import importlib
import inspect
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from loghunt.detectors import available_detectors, detector_class, make_detector
from loghunt.detectors.base import Detector
from loghunt.ensemble.combine import combine_scores, stack
from loghunt.ensemble.ensemble import DetectorEnsemble
from loghunt.ensemble.presets import PRESETS, preset_specs
from loghunt.errors import ConfigError
from loghunt.evaluate.metrics import evaluate
from loghunt.pipeline import NORMALIZATIONS, PipelineConfig

Matrix = NDArray[np.float64]
Labels = NDArray[np.int64]
Scores = NDArray[np.float64]
#: Fits on the training rows (no labels) and returns the test rows' scores; the int is the seed.
Scorer = Callable[[Matrix, Matrix, int], Scores]
Progress = Callable[[str], None]

#: Our method name -> the column of the published ADBench tables.
PUBLISHED_NAMES: dict[str, str] = {
    "iforest": "IForest",
    "knn": "KNN",
    "lof": "LOF",
    "ecod": "ECOD",
    "copod": "COPOD",
    "hbos": "HBOS",
    "ocsvm": "OCSVM",
    "pca": "PCA",
    "loda": "LODA",
    "pyod:CBLOF": "CBLOF",
    "pyod:COF": "COF",
    "pyod:SOD": "SOD",
}

AUCROC_CSV = "adbench_unsupervised_aucroc_pct.csv"
AUCPR_CSV = "adbench_unsupervised_aucpr_pct.csv"
TEST_SIZE = 0.3

RESULT_SCHEMA: dict[str, Any] = {
    "dataset": pl.String,
    "method": pl.String,
    "seed": pl.Int64,
    "aucroc": pl.Float64,
    "aucpr": pl.Float64,
    "fit_score_seconds": pl.Float64,
    "n_train": pl.Int64,
    "n_test": pl.Int64,
    "error": pl.String,
}


# -- data ------------------------------------------------------------------------------------
def dataset_key(name: str) -> str:
    """``"2_annthyroid.npz"`` or ``"annthyroid"`` -> ``"annthyroid"`` (the join key, lower case).

    >>> dataset_key("17_InternetAds.npz")
    'internetads'
    """
    stem = Path(name).name.removesuffix(".npz")
    return re.sub(r"^\d+_", "", stem).lower()


def load_npz(path: str | Path) -> tuple[Matrix, Labels]:
    """``X`` as float64 and ``y`` (1 = anomaly) from an ADBench ``.npz``, without pickle."""
    with np.load(path, allow_pickle=False) as data:
        X = np.asarray(data["X"], dtype=np.float64)
        y = np.asarray(data["y"], dtype=np.int64).ravel()
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ConfigError(f"{path}: X {X.shape} and y {y.shape} do not match")
    return X, y


def _allocate(y: Labels, n_rows: int) -> dict[int, int]:
    """Rows per class for ``n_rows`` in total, proportional to ``y`` (largest remainder)."""
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * n_rows / y.size
    sizes = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[: n_rows - int(sizes.sum())]] += 1
    return {int(c): int(s) for c, s in zip(classes, sizes, strict=True)}


def stratified_resample(y: Labels, n_rows: int, seed: int, replace: bool) -> NDArray[np.int64]:
    """Row indices: ``n_rows`` drawn per class in ``y``'s proportions, shuffled."""
    rng = np.random.default_rng(seed)
    parts = [
        rng.choice(np.flatnonzero(y == label), size=size, replace=replace)
        for label, size in _allocate(y, n_rows).items()
    ]
    return np.asarray(rng.permutation(np.concatenate(parts)), dtype=np.int64)


def resize(
    X: Matrix, y: Labels, seed: int, max_rows: int = 10_000, min_rows: int = 1_000
) -> tuple[Matrix, Labels]:
    """Subsample to ``max_rows`` or resample (with replacement) to ``min_rows``, stratified."""
    if y.size > max_rows:
        idx = stratified_resample(y, max_rows, seed, replace=False)
    elif y.size < min_rows:
        idx = stratified_resample(y, min_rows, seed, replace=True)
    else:
        return X, y
    return X[idx], y[idx]


def split(X: Matrix, y: Labels, seed: int) -> tuple[Matrix, Matrix, Labels, Labels]:
    """Stratified 70/30 split, min-max scaled with the training part's ranges."""
    parts = train_test_split(X, y, test_size=TEST_SIZE, stratify=y, random_state=seed)
    x_train, x_test, y_train, y_test = parts
    scaler = MinMaxScaler().fit(x_train)
    return (
        np.asarray(scaler.transform(x_train), dtype=np.float64),
        np.asarray(scaler.transform(x_test), dtype=np.float64),
        np.asarray(y_train, dtype=np.int64),
        np.asarray(y_test, dtype=np.int64),
    )


# -- methods ---------------------------------------------------------------------------------
def all_methods() -> list[str]:
    """Every registered detector plus every preset (what ``--methods all`` means)."""
    return [*available_detectors(), *(f"preset:{name}" for name in PRESETS)]


def make_scorer(method: str) -> Scorer:
    """The scorer of ``method``; a ConfigError when no such method exists."""
    if method.startswith("preset:"):
        return _preset_scorer(method.removeprefix("preset:"))
    if method in available_detectors():
        return _detector_scorer(method)
    if method.startswith("pyod:"):
        return _pyod_scorer(method.removeprefix("pyod:"))
    raise ConfigError(
        f"unknown method {method!r}; use one of {all_methods()} or 'pyod:<PyOD class name>'"
    )


def _seeded(name: str, seed: int) -> Detector:
    accepted = inspect.signature(detector_class(name).__init__).parameters
    return make_detector(name, **({"random_state": seed} if "random_state" in accepted else {}))


def _detector_scorer(name: str) -> Scorer:
    def score(x_train: Matrix, x_test: Matrix, seed: int) -> Scores:
        return _seeded(name, seed).fit(x_train).score(x_test)

    return score


def _preset_scorer(preset: str) -> Scorer:
    detectors = preset_specs(preset)

    def score(x_train: Matrix, x_test: Matrix, seed: int) -> Scores:
        # The pipeline's own defaults, so that the table measures what `loghunt hunt` runs.
        config = PipelineConfig(detectors=detectors, random_state=seed)
        ensemble = DetectorEnsemble(detectors, config.n_neighbors, random_state=seed)
        ensemble.fit(x_train)
        raw = ensemble.score(x_test)
        scale = NORMALIZATIONS[config.normalization]
        normalized = {name: scale(ensemble.train_scores_[name], raw[name]) for name in raw}
        return combine_scores(stack(normalized), config.combine)

    return score


def _pyod_class(name: str) -> type[Any]:
    """A PyOD model class by its name: ``"CBLOF"`` from ``pyod.models.cblof``."""
    snake = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()
    for module in dict.fromkeys((name.lower(), snake)):
        try:
            cls = getattr(importlib.import_module(f"pyod.models.{module}"), name, None)
        except ImportError:
            continue
        if isinstance(cls, type):
            return cls
    raise ConfigError(f"no PyOD model {name!r} (looked in pyod.models.{name.lower()})")


def _pyod_scorer(name: str) -> Scorer:
    cls = _pyod_class(name)
    seeded = "random_state" in inspect.signature(cls.__init__).parameters

    def score(x_train: Matrix, x_test: Matrix, seed: int) -> Scores:
        np.random.seed(seed)  # ADBench seeds numpy's global state; some PyOD models read it
        model = cls(random_state=seed) if seeded else cls()
        model.fit(x_train)
        return np.asarray(model.decision_function(x_test), dtype=np.float64)

    return score


# -- running ---------------------------------------------------------------------------------
def run_method(
    method: str, scorer: Scorer, data: tuple[Matrix, Matrix, Labels, Labels], seed: int
) -> dict[str, Any]:
    """One result row; the training labels are never passed to the method."""
    x_train, x_test, _, y_test = data
    row: dict[str, Any] = {"method": method, "seed": seed, "n_train": len(x_train)}
    row |= {"n_test": len(x_test), "aucroc": np.nan, "aucpr": np.nan, "error": None}
    start = time.perf_counter()
    try:
        scores = np.asarray(scorer(x_train, x_test, seed), dtype=np.float64)
        row["fit_score_seconds"] = time.perf_counter() - start
        if scores.shape != (len(x_test),) or not np.isfinite(scores).all():
            raise ValueError(f"scores of shape {scores.shape}, finite: {np.isfinite(scores).all()}")
        metrics = evaluate(method, scores, np.zeros(len(scores), dtype=bool), y_test == 1)
        row |= {"aucroc": metrics.roc_auc, "aucpr": metrics.pr_auc}
    except Exception as exc:  # a failing method is a result, not the end of the run
        row.setdefault("fit_score_seconds", time.perf_counter() - start)
        row["error"] = f"{type(exc).__name__}: {exc}"[:500]
    return row


def dataset_files(data_dir: str | Path) -> list[Path]:
    """The ``.npz`` files of ``data_dir`` in ADBench's numeric order."""
    files = list(Path(data_dir).glob("*.npz"))
    if not files:
        raise ConfigError(f"no .npz files in {data_dir}")
    number = re.compile(r"^(\d+)_")

    def order(path: Path) -> tuple[int, str]:
        match = number.match(path.name)
        return (int(match.group(1)) if match else 10**9, path.name)

    return sorted(files, key=order)


def _run_dataset(
    path: Path,
    scorers: dict[str, Scorer],
    seeds: Sequence[int],
    sizes: tuple[int, int],
    progress: Progress | None,
) -> list[dict[str, Any]]:
    X, y = load_npz(path)
    rows = []
    for seed in seeds:
        data = split(*resize(X, y, seed, max_rows=sizes[0], min_rows=sizes[1]), seed)
        for method, scorer in scorers.items():
            row = {"dataset": path.stem, **run_method(method, scorer, data, seed)}
            rows.append(row)
            if progress is not None:
                progress(_progress_line(row))
    return rows


def _progress_line(row: dict[str, Any]) -> str:
    head = f"{row['dataset']:<18} seed={row['seed']} {row['method']:<16}"
    if row["error"]:
        return f"{head} ERROR {row['error']}"
    return (
        f"{head} aucroc={row['aucroc']:.4f} aucpr={row['aucpr']:.4f} "
        f"{row['fit_score_seconds']:.2f}s"
    )


def run_adbench(
    data_dir: str | Path,
    methods: Iterable[str],
    seeds: Sequence[int] = (0, 1, 2),
    max_rows: int = 10_000,
    min_rows: int = 1_000,
    progress: Progress | None = None,
    scorers: Mapping[str, Scorer] | None = None,
) -> pl.DataFrame:
    """Every method on every ``.npz`` in ``data_dir`` for every seed, one row each.

    Columns: dataset (file stem), method, seed, aucroc, aucpr, fit_score_seconds, n_train,
    n_test, error (null unless the method raised; then the AUCs are NaN). ``scorers`` may
    give a method's own scorer (other settings of a detector, say) instead of its default.
    """
    given = scorers or {}
    scorers = {method: given.get(method) or make_scorer(method) for method in methods}
    if not scorers:
        raise ConfigError("choose at least one method")
    rows: list[dict[str, Any]] = []
    for path in dataset_files(data_dir):
        rows.extend(_run_dataset(path, scorers, seeds, (max_rows, min_rows), progress))
    return pl.DataFrame(rows, schema=RESULT_SCHEMA)


# -- comparison with the paper ---------------------------------------------------------------
def published_name(method: str, columns: Iterable[str]) -> str | None:
    """The published column for ``method``: the map, else a case-insensitive name match."""
    by_lower = {c.lower(): c for c in columns}
    mapped = PUBLISHED_NAMES.get(method)
    if mapped is not None and mapped.lower() in by_lower:
        return by_lower[mapped.lower()]
    return by_lower.get(method.removeprefix("pyod:").lower())


def read_published(results_dir: str | Path, file_name: str, value: str) -> pl.DataFrame:
    """A published wide table (percent) as long form: key, published_method, value (fraction)."""
    wide = pl.read_csv(Path(results_dir) / file_name, null_values=["", "N/A", "NA", "-"])
    methods = [c for c in wide.columns if c != "dataset"]
    return (
        wide.with_columns(pl.col(methods).cast(pl.Float64))
        .unpivot(index="dataset", on=methods, variable_name="published_method", value_name=value)
        .with_columns(
            pl.col("dataset").map_elements(dataset_key, return_dtype=pl.String).alias("key"),
            pl.col(value) / 100.0,
        )
        .drop("dataset")
    )


def mean_over_seeds(results: pl.DataFrame) -> pl.DataFrame:
    """Per dataset x method: mean AUCs over the seeds that succeeded, time, error count."""
    clean = results.with_columns(pl.col("aucroc", "aucpr").fill_nan(None))
    return (
        clean.group_by("dataset", "method", maintain_order=True)
        .agg(
            pl.col("aucroc").mean(),
            pl.col("aucpr").mean(),
            pl.col("fit_score_seconds").sum(),
            pl.col("aucroc").is_not_null().sum().alias("n_seeds"),
            pl.col("error").is_not_null().sum().alias("n_errors"),
            pl.col("error").drop_nulls().first().alias("first_error"),
        )
        .with_columns(
            pl.col("dataset").map_elements(dataset_key, return_dtype=pl.String).alias("key")
        )
    )


def compare_published(results: pl.DataFrame, results_dir: str | Path) -> pl.DataFrame:
    """Our mean over seeds per dataset x method beside ADBench's published AUCROC and AUCPR.

    ``published_method`` is null (and so are the published values) for methods the paper
    does not have, such as the presets.
    """
    ours = mean_over_seeds(results)
    roc = read_published(results_dir, AUCROC_CSV, "aucroc_published")
    pr = read_published(results_dir, AUCPR_CSV, "aucpr_published")
    columns = roc["published_method"].unique().to_list()
    names = {m: published_name(m, columns) for m in ours["method"].unique().to_list()}
    ours = ours.with_columns(
        pl.col("method").replace_strict(names, return_dtype=pl.String).alias("published_method")
    )
    keys = ["key", "published_method"]
    return (
        ours.join(roc, on=keys, how="left")
        .join(pr, on=keys, how="left")
        .with_columns((pl.col("aucroc") - pl.col("aucroc_published")).alias("aucroc_delta"))
        .drop("key")
    )


def _mean_ranks(compared: pl.DataFrame) -> pl.DataFrame:
    """Each method's AUCROC rank per dataset among our methods (1 = best), averaged."""
    ranked = compared.drop_nulls("aucroc").with_columns(
        pl.col("aucroc").rank("average", descending=True).over("dataset").alias("rank")
    )
    return ranked.group_by("method").agg(pl.col("rank").mean().alias("mean_rank"))


def summary_by_method(compared: pl.DataFrame, results: pl.DataFrame) -> pl.DataFrame:
    """One row per method: means over the datasets where both we and the paper have a number."""
    both = pl.col("aucroc").is_not_null() & pl.col("aucroc_published").is_not_null()
    time_total = results.group_by("method").agg(pl.col("fit_score_seconds").sum())
    summary = compared.group_by("method", maintain_order=True).agg(
        pl.col("published_method").first(),
        pl.col("aucroc").filter(both).mean().alias("aucroc_same"),
        pl.col("aucroc_published").filter(both).mean().alias("aucroc_published"),
        both.sum().alias("n_compared"),
        pl.col("aucroc").mean().alias("aucroc_all"),
        pl.col("aucpr").mean().alias("aucpr_all"),
        pl.col("aucpr_published").filter(both).mean().alias("aucpr_published"),
        pl.col("aucroc").is_not_null().sum().alias("n_datasets"),
        pl.col("n_errors").sum(),
    )
    return (
        summary.with_columns((pl.col("aucroc_same") - pl.col("aucroc_published")).alias("delta"))
        .join(_mean_ranks(compared), on="method", how="left")
        .join(time_total, on="method", how="left")
        .sort("aucroc_all", descending=True, nulls_last=True)
    )


def _fmt(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


SUMMARY_HEADER = (
    "| method | published | datasets | AUCROC ours (all) | AUCROC ours (same) | "
    "AUCROC paper | Δ AUCROC | AUCPR ours (all) | AUCPR paper (same) | mean rank | "
    "errors | time (s) |"
)


def _summary_row(row: dict[str, Any]) -> str:
    delta = row["delta"]
    cells = [
        row["method"],
        row["published_method"] or "–",
        str(row["n_datasets"]),
        _fmt(row["aucroc_all"]),
        _fmt(row["aucroc_same"]),
        _fmt(row["aucroc_published"]),
        "–" if delta is None else f"{delta:+.3f}",
        _fmt(row["aucpr_all"]),
        _fmt(row["aucpr_published"]),
        _fmt(row["mean_rank"], 2),
        str(row["n_errors"]),
        _fmt(row["fit_score_seconds"], 1),
    ]
    return "| " + " | ".join(cells) + " |"


def summary_table(compared: pl.DataFrame, results: pl.DataFrame) -> str:
    """Markdown: per method, our mean AUCROC vs the paper's over the same datasets, and more.

    "same" means the datasets where both we and the paper have a number; "all" is every
    dataset where our method ran. The mean rank is among our methods only (1 = best AUCROC).
    """
    table = summary_by_method(compared, results)
    lines = [SUMMARY_HEADER, "|" + "---|" * (SUMMARY_HEADER.count("|") - 1)]
    lines += [_summary_row(row) for row in table.iter_rows(named=True)]
    total = float(results["fit_score_seconds"].sum())
    lines.append("")
    lines.append(f"Total fit+score time: {total:.1f} s over {results.height} runs.")
    return "\n".join(lines)


def _cell(ours: float | None, paper: float | None) -> str:
    text = "–" if ours is None else f"{ours:.3f}"
    return text if paper is None else f"{text} ({paper:.3f})"


def dataset_table(compared: pl.DataFrame) -> str:
    """Markdown: one row per dataset, one column per method, "ours (paper)" AUCROC."""
    methods = compared["method"].unique(maintain_order=True).to_list()
    lines = ["| dataset | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for dataset, part in compared.group_by("dataset", maintain_order=True):
        cells = {
            row["method"]: _cell(row["aucroc"], row["aucroc_published"])
            for row in part.iter_rows(named=True)
        }
        name = dataset_key(str(dataset[0]))
        lines.append(f"| {name} | " + " | ".join(cells.get(m, "–") for m in methods) + " |")
    return "\n".join(lines)
