"""One check suite that every registered detector runs through (see DESIGN.md, Contracts).

A new detector gets these checks by registering itself; per-detector behaviour lives in the
targeted test files next to this one.
"""

from __future__ import annotations

import inspect
import json
import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from loghunt.detectors import Detector, available_detectors, detector_class, make_detector
from loghunt.errors import ConfigError, NotFittedError
from loghunt.index import NeighborIndex, build_graph

EXPECTED = {"ecod", "iforest", "kmeans", "knn", "lof", "robust_z"}


def _cases() -> list[Any]:
    """Every registered detector with its defaults, plus knn's and lof's methods and metrics."""
    cases = [pytest.param(name, {}, id=name) for name in available_detectors()]
    for method in ("largest", "mean", "median"):
        for metric in ("l2", "cosine", "ip"):
            params = {"method": method, "metric": metric}
            cases.append(pytest.param("knn", params, id=f"knn-{method}-{metric}"))
    cases.append(pytest.param("lof", {"metric": "cosine"}, id="lof-cosine"))
    # The default backend is torch where it is installed: check the fallback as well.
    cases.append(pytest.param("autoencoder", {"backend": "sklearn"}, id="autoencoder-sklearn"))
    return cases


CASES = _cases()
NEIGHBOR_DETECTORS = [n for n in available_detectors() if detector_class(n).uses_neighbors]


def _data(params: dict[str, Any], planted: Any, planted_unit: Any) -> Any:
    # Angle-based metrics only see directions: give them unit rows with outlying directions.
    return planted_unit if params.get("metric") in ("cosine", "ip") else planted


def _fitted(name: str, params: dict[str, Any], X: np.ndarray) -> Detector:
    return make_detector(name, **params).fit(X)


def _snapshot(detector: Detector) -> dict[str, Any]:
    """Copies of array attributes, references to the rest (plus a neighbour index's state)."""
    state: dict[str, Any] = {}
    for key, value in vars(detector).items():
        state[key] = value.copy() if isinstance(value, np.ndarray) else value
        if isinstance(value, NeighborIndex):
            state[f"{key}.vars"] = dict(vars(value))
    return state


def _assert_same_state(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, after[key], err_msg=key)
        else:
            assert value is after[key] or value == after[key], key


def test_registry_holds_this_rounds_detectors() -> None:
    assert set(available_detectors()) >= EXPECTED
    assert available_detectors() == sorted(available_detectors())


@pytest.mark.parametrize(("name", "params"), CASES)
def test_scores_are_finite_float64_per_row(name, params, planted, planted_unit) -> None:
    data = _data(params, planted, planted_unit)
    detector = _fitted(name, params, data.X)
    for X, scores in ((data.X, detector.train_scores_), (data.X_new, detector.score(data.X_new))):
        assert scores.dtype == np.float64
        assert scores.shape == (X.shape[0],)
        assert np.isfinite(scores).all()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_planted_outliers_score_higher(name, params, planted, planted_unit) -> None:
    data = _data(params, planted, planted_unit)
    detector = _fitted(name, params, data.X)
    assert roc_auc_score(data.y, detector.train_scores_) > 0.95
    new_scores = detector.score(data.X_new)
    # X_new ends with three outliers: each outranks every fresh normal row.
    assert new_scores[-3:].min() > new_scores[:-3].max()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_fit_is_deterministic(name, params, planted, planted_unit) -> None:
    data = _data(params, planted, planted_unit)
    first = _fitted(name, params, data.X)
    second = _fitted(name, params, data.X)
    np.testing.assert_array_equal(first.train_scores_, second.train_scores_)
    np.testing.assert_array_equal(first.score(data.X_new), second.score(data.X_new))


@pytest.mark.parametrize(("name", "params"), CASES)
def test_init_only_stores_its_arguments(name, params) -> None:
    detector = make_detector(name, **params)
    signature = inspect.signature(type(detector).__init__)
    names = [p for p in signature.parameters if p != "self"]
    assert sorted(vars(detector)) == sorted(names)
    for key, value in params.items():
        assert getattr(detector, key) == value
    assert detector.get_config() == {key: getattr(detector, key) for key in names}
    json.dumps(detector.get_config())  # configurations are saved as JSON


@pytest.mark.parametrize(("name", "params"), CASES)
def test_fit_returns_self_and_fitted_attributes_end_in_underscore(name, params, planted) -> None:
    detector = make_detector(name, **params)
    before = set(vars(detector))
    assert detector.fit(planted.X) is detector
    added = set(vars(detector)) - before
    assert {"train_scores_", "n_features_in_"} <= added
    assert all(attr.endswith("_") and not attr.startswith("_") for attr in added), added
    assert detector.n_features_in_ == planted.X.shape[1]


@pytest.mark.parametrize(("name", "params"), CASES)
def test_score_does_not_mutate(name, params, planted) -> None:
    detector = _fitted(name, params, planted.X)
    before = _snapshot(detector)
    detector.score(planted.X_new)
    detector.score(planted.X)
    _assert_same_state(before, _snapshot(detector))


@pytest.mark.parametrize(("name", "params"), CASES)
def test_fit_score_equals_train_scores(name, params, planted) -> None:
    detector = make_detector(name, **params)
    scores = detector.fit_score(planted.X)
    assert scores is detector.train_scores_
    np.testing.assert_array_equal(scores, _fitted(name, params, planted.X).train_scores_)


@pytest.mark.parametrize("name", available_detectors())
def test_score_before_fit_raises_not_fitted(name, planted) -> None:
    with pytest.raises(NotFittedError):
        make_detector(name).score(planted.X)


@pytest.mark.parametrize("name", available_detectors())
def test_wrong_number_of_features_raises_config_error(name, planted) -> None:
    detector = _fitted(name, {}, planted.X)
    with pytest.raises(ConfigError, match="features"):
        detector.score(planted.X[:, :-1])


@pytest.mark.parametrize("name", available_detectors())
def test_nan_and_inf_input_raise_config_error(name, planted) -> None:
    bad = planted.X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        make_detector(name).fit(bad)
    detector = _fitted(name, {}, planted.X)
    bad[3, 1] = np.inf
    with pytest.raises(ConfigError, match="NaN"):
        detector.score(bad)


@pytest.mark.parametrize("name", available_detectors())
def test_one_row_and_non_matrix_inputs_raise_config_error(name) -> None:
    with pytest.raises(ConfigError):
        make_detector(name).fit(np.ones((1, 3)))
    with pytest.raises(ConfigError):
        make_detector(name).fit(np.ones(10))


@pytest.mark.parametrize(("name", "params"), CASES)
def test_tiny_input_works_and_clamps_with_a_warning(name, params, planted) -> None:
    X = planted.X[::120][:5]  # five rows from different parts of the data
    detector = make_detector(name, **params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        detector.fit(X)
    assert all(issubclass(w.category, UserWarning) for w in caught), caught
    if detector.uses_neighbors:
        assert detector.n_neighbors_ == 4  # type: ignore[attr-defined]
        assert any("n_neighbors" in str(w.message) for w in caught)
    assert detector.train_scores_.shape == (5,)
    assert np.isfinite(detector.train_scores_).all()
    assert np.isfinite(detector.score(planted.X_new)).all()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_two_identical_rows_give_finite_scores(name, params) -> None:
    X = np.ones((2, 3), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        detector = make_detector(name, **params).fit(X)
    assert np.isfinite(detector.train_scores_).all()
    assert np.isfinite(detector.score(np.zeros((1, 3)))).all()


@pytest.mark.parametrize(("name", "params"), CASES)
def test_arrays_round_trip_restores_the_scores(name, params, planted) -> None:
    detector = _fitted(name, params, planted.X)
    arrays = detector.to_arrays()
    assert all(isinstance(value, np.ndarray) for value in arrays.values())
    assert all(value.dtype != object for value in arrays.values())  # .npy without pickle
    config = json.loads(json.dumps(detector.get_config()))
    extra = {"index": detector.index_} if detector.uses_neighbors else {}  # type: ignore[attr-defined]
    restored = type(detector).from_arrays(config, arrays, **extra)
    np.testing.assert_array_equal(restored.train_scores_, detector.train_scores_)
    np.testing.assert_array_equal(restored.score(planted.X_new), detector.score(planted.X_new))


def _neighbor_cases() -> list[Any]:
    return [
        case
        for case in CASES
        if detector_class(case.values[0]).uses_neighbors  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(("name", "params"), _neighbor_cases())
def test_precomputed_graph_matches_own_search(name, params, planted, planted_unit) -> None:
    data = _data(params, planted, planted_unit)
    own = _fitted(name, params, data.X)
    # A graph with more neighbours than the detector needs: the detector takes the first k.
    _, graph = build_graph(data.X, k=25, metric=params.get("metric", "l2"))
    shared = make_detector(name, **params).fit(data.X, graph=graph)
    np.testing.assert_allclose(shared.train_scores_, own.train_scores_, rtol=1e-6)
    np.testing.assert_allclose(shared.score(data.X_new), own.score(data.X_new), rtol=1e-6)


@pytest.mark.parametrize(("name", "params"), _neighbor_cases())
def test_query_graph_matches_own_search(name, params, planted, planted_unit) -> None:
    data = _data(params, planted, planted_unit)
    detector = _fitted(name, params, data.X)
    query_graph = detector.index_.search(data.X_new, 25)  # type: ignore[attr-defined]
    np.testing.assert_allclose(
        detector.score(data.X_new, graph=query_graph), detector.score(data.X_new), rtol=1e-6
    )


@pytest.mark.parametrize("name", NEIGHBOR_DETECTORS)
def test_unusable_graphs_raise_config_error(name, planted) -> None:
    index, graph = build_graph(planted.X, k=3)
    with pytest.raises(ConfigError, match="k >="):
        make_detector(name, n_neighbors=5).fit(planted.X, graph=graph)
    with pytest.raises(ConfigError, match="metric"):
        make_detector(name, n_neighbors=3, metric="cosine").fit(planted.X, graph=graph)
    with pytest.raises(ConfigError, match="rows"):
        make_detector(name, n_neighbors=3).fit(planted.X[:-1], graph=graph)
    detector = make_detector(name, n_neighbors=3).fit(planted.X, graph=graph)
    with pytest.raises(ConfigError, match="rows"):
        detector.score(planted.X_new, graph=graph)
    with pytest.raises(ConfigError, match="own graph"):
        make_detector(name, n_neighbors=3).fit(planted.X_new, graph=index.search(planted.X_new, 3))


@pytest.mark.parametrize("name", NEIGHBOR_DETECTORS)
def test_sampled_reference_graph_is_accepted(name, planted) -> None:
    # build_graph samples the reference set above reference_threshold rows: the detector then
    # scores every training row against the sample.
    index, graph = build_graph(planted.X, k=10, reference_threshold=300, reference_size=400)
    assert graph.reference_rows is not None
    detector = make_detector(name, n_neighbors=10).fit(planted.X, graph=graph)
    assert detector.n_reference_ == 400  # type: ignore[attr-defined]
    assert roc_auc_score(planted.y, detector.train_scores_) > 0.95
    np.testing.assert_allclose(
        detector.score(planted.X_new),
        detector.score(planted.X_new, graph=index.search(planted.X_new, 10)),
    )


def test_unknown_parameters_raise_config_error() -> None:
    for name in available_detectors():
        with pytest.raises(ConfigError, match="does not take"):
            make_detector(name, no_such_parameter=1)
