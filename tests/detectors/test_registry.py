"""The detector registry: names, errors and registering new detectors."""

from __future__ import annotations

import pytest

from loghunt.detectors import available_detectors, make_detector, register
from loghunt.detectors.knn import KNNDetector
from loghunt.errors import ConfigError


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="unknown detector 'nope'") as info:
        make_detector("nope")
    for name in available_detectors():
        assert name in str(info.value)


def test_make_detector_passes_parameters() -> None:
    detector = make_detector("knn", n_neighbors=3, method="mean")
    assert isinstance(detector, KNNDetector)
    assert (detector.n_neighbors, detector.method) == (3, "mean")


def test_register_refuses_a_taken_name_and_an_empty_one() -> None:
    class Impostor(KNNDetector):
        pass

    with pytest.raises(ConfigError, match="already taken"):
        register(Impostor)

    class Nameless(KNNDetector):
        name = ""

    with pytest.raises(ConfigError, match="name"):
        register(Nameless)
    assert register(KNNDetector) is KNNDetector  # registering the same class again is fine
