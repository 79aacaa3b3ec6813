from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from loghunt.errors import ConfigError
from loghunt.evaluate import adbench
from loghunt.evaluate.adbench import (
    compare_published,
    dataset_key,
    load_npz,
    resize,
    run_adbench,
    split,
    summary_table,
)


def _write(path: Path, n_rows: int, n_anomalies: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 4))
    y = np.zeros(n_rows, dtype=np.int64)
    y[:n_anomalies] = 1
    X[:n_anomalies] += 6.0  # easy anomalies: every sane detector ranks them first
    np.savez(path, X=X, y=y)
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "2_small.npz", 300, 30, 0)  # resampled up to min_rows
    _write(tmp_path / "10_large.npz", 1_500, 60, 1)  # subsampled down to max_rows
    return tmp_path


def test_dataset_key_matches_the_published_naming() -> None:
    assert dataset_key("2_annthyroid.npz") == "annthyroid"
    assert dataset_key("/x/17_InternetAds.npz") == dataset_key("InternetAds")


def test_resize_subsamples_and_resamples_keeping_the_anomaly_ratio(data_dir: Path) -> None:
    X, y = load_npz(data_dir / "10_large.npz")
    Xs, ys = resize(X, y, seed=0, max_rows=1_000, min_rows=500)
    assert Xs.shape == (1_000, 4) and ys.sum() == 40  # 4% of 1,500 -> 4% of 1,000
    assert len({tuple(r) for r in Xs}) == 1_000  # without replacement
    X, y = load_npz(data_dir / "2_small.npz")
    Xr, yr = resize(X, y, seed=0, max_rows=1_000, min_rows=500)
    assert Xr.shape == (500, 4) and yr.sum() == 50  # 10% kept
    assert resize(X, y, seed=0, max_rows=1_000, min_rows=100)[0] is X


def test_split_is_stratified_70_30_and_min_max_scaled_on_train(data_dir: Path) -> None:
    X, y = load_npz(data_dir / "10_large.npz")
    x_train, x_test, y_train, y_test = split(X, y, seed=3)
    assert len(x_train) == 1_050 and len(x_test) == 450
    assert y_train.sum() == 42 and y_test.sum() == 18
    assert np.allclose(x_train.min(axis=0), 0.0) and np.allclose(x_train.max(axis=0), 1.0)


def test_methods_fit_without_labels_on_a_training_part_with_anomalies(data_dir: Path) -> None:
    seen: list[tuple[int, ...]] = []

    def spy(x_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
        seen.append(x_train.shape)
        return np.asarray(x_test.sum(axis=1), dtype=np.float64)

    X, y = resize(*load_npz(data_dir / "2_small.npz"), seed=0)
    data = split(X, y, seed=0)
    row = adbench.run_method("spy", spy, data, seed=0)
    assert seen == [(700, 4)] and data[2].sum() == 70  # anomalies stay in the training part
    assert row["error"] is None and row["aucroc"] > 0.9 and row["n_test"] == 300


def test_run_adbench_runs_detectors_and_presets(data_dir: Path) -> None:
    lines: list[str] = []
    results = run_adbench(
        data_dir, ["knn", "preset:default"], seeds=(0, 1), max_rows=1_000, progress=lines.append
    )
    assert results.height == 2 * 2 * 2 and len(lines) == 8
    assert results["dataset"].unique().sort().to_list() == ["10_large", "2_small"]
    assert set(results["n_train"]) == {700} and results["error"].null_count() == 8
    assert results["aucroc"].min() > 0.8  # type: ignore[operator]


def test_a_failing_method_is_recorded_not_raised(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(x_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
        raise RuntimeError("boom")

    real = adbench.make_scorer
    monkeypatch.setattr(adbench, "make_scorer", lambda m: broken if m == "bad" else real(m))
    results = run_adbench(data_dir, ["bad", "ecod"], seeds=(0,), max_rows=1_000)
    bad = results.filter(pl.col("method") == "bad")
    assert bad.height == 2 and bad["error"].to_list() == ["RuntimeError: boom"] * 2
    assert all(math.isnan(v) for v in bad["aucroc"])
    assert results.filter(pl.col("method") == "ecod")["error"].null_count() == 2


def test_a_method_can_bring_its_own_scorer(data_dir: Path) -> None:
    def negated(x_train: np.ndarray, x_test: np.ndarray, seed: int) -> np.ndarray:
        return -np.asarray(x_test.sum(axis=1), dtype=np.float64)

    results = run_adbench(
        data_dir, ["ecod", "knn"], seeds=(0,), max_rows=1_000, scorers={"ecod": negated}
    )
    by_method = dict(zip(results["method"], results["aucroc"], strict=False))
    assert by_method["ecod"] < 0.2 < 0.8 < by_method["knn"]  # the own scorer ran, knn its own


def test_unknown_methods_fail_before_running(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown method"):
        run_adbench(data_dir, ["nope"])
    with pytest.raises(ConfigError, match="unknown preset"):
        run_adbench(data_dir, ["preset:nope"])


def _published(tmp_path: Path) -> Path:
    header = "dataset,PCA,LOF,KNN,DAGMM,IForest\n"
    (tmp_path / adbench.AUCROC_CSV).write_text(
        header + "small,60.0,70.0,80.0,,90.0\nlarge,50.0,55.5,66.0,40.0,77.0\n"
    )
    (tmp_path / adbench.AUCPR_CSV).write_text(
        header + "small,10.0,20.0,30.0,,40.0\nlarge,5.0,6.0,7.0,8.0,9.0\n"
    )
    return tmp_path


def test_compare_published_joins_means_over_seeds(tmp_path: Path) -> None:
    results = pl.DataFrame(
        {
            "dataset": ["2_small"] * 4 + ["10_large"] * 2,
            "method": ["knn", "knn", "preset:default", "iforest", "knn", "knn"],
            "seed": [0, 1, 0, 0, 0, 1],
            "aucroc": [0.7, 0.9, 0.5, float("nan"), 0.6, 0.7],
            "aucpr": [0.2, 0.4, 0.1, float("nan"), 0.1, 0.2],
            "fit_score_seconds": [1.0, 2.0, 1.0, 0.5, 1.0, 1.0],
            "error": [None, None, None, "ValueError: x", None, None],
        }
    )
    compared = compare_published(results, _published(tmp_path))
    small_knn = compared.filter((pl.col("dataset") == "2_small") & (pl.col("method") == "knn"))
    assert small_knn["aucroc"].item() == pytest.approx(0.8)
    assert small_knn["aucroc_published"].item() == pytest.approx(0.8)
    assert small_knn["aucpr_published"].item() == pytest.approx(0.3)
    assert small_knn["published_method"].item() == "KNN"
    failed = compared.filter(pl.col("method") == "iforest")
    assert failed["aucroc"].item() is None and failed["n_errors"].item() == 1
    preset = compared.filter(pl.col("method") == "preset:default")
    assert preset["published_method"].item() is None
    table = summary_table(compared, results)
    assert "| knn | KNN | 2 |" in table and "Total fit+score time: 6.5 s" in table
