"""Scenarios shared by the synth tests (generated once per session: they are deterministic)."""

from __future__ import annotations

import pytest

from loghunt.synth import Scenario, ScenarioConfig, generate_scenario

SMALL = ScenarioConfig(n_events=6_000, days=7, n_users=25, seed=11)


@pytest.fixture(scope="session")
def default_scenario() -> Scenario:
    return generate_scenario(ScenarioConfig())


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    return generate_scenario(SMALL)
