from __future__ import annotations

import pytest

from loghunt.detectors import detector_class
from loghunt.ensemble.presets import PRESETS, parse_detector_spec, preset_specs, split_specs
from loghunt.errors import ConfigError


def test_specs_name_label_and_parameters() -> None:
    assert parse_detector_spec("knn") == parse_detector_spec(" knn ")
    spec = parse_detector_spec("avgknn=knn(method='mean', n_neighbors=5)")
    assert (spec.label, spec.name, spec.params) == (
        "avgknn",
        "knn",
        {"method": "mean", "n_neighbors": 5},
    )
    assert parse_detector_spec("pyod:ROD").name == "pyod:ROD"


@pytest.mark.parametrize("bad", ["", "knn(", "knn(5)", "knn(x=__import__('os'))", "a=b=c"])
def test_bad_specs_are_clear_errors_and_never_run_code(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_detector_spec(bad)


def test_split_keeps_commas_inside_parentheses() -> None:
    assert split_specs("knn,lof(n_neighbors=3, metric='l2'), ecod") == (
        "knn",
        "lof(n_neighbors=3, metric='l2')",
        "ecod",
    )


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_member_resolves_to_a_detector(preset: str) -> None:
    specs = [parse_detector_spec(s) for s in preset_specs(preset)]
    assert len({s.label for s in specs}) == len(specs)
    for spec in specs:
        if spec.name.startswith("pyod:"):
            pytest.importorskip("pyod")
        assert detector_class(spec.name) is not None


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="dune"):
        preset_specs("nope")
