"""Deterministic synthetic security logs with labelled attacks.

A seeded organisation (accounts, regions, people with roles and working hours, CI, Lambda and
monitoring workloads) produces CloudTrail records and OCSF authentication events; attacks of
:data:`ATTACK_TYPES` are mixed in at a low rate and recorded only in the labels.

>>> from loghunt.synth import ScenarioConfig, generate_scenario
>>> scenario = generate_scenario(ScenarioConfig(n_events=2_000, days=5, n_users=15, seed=7))
>>> scenario.labels.columns
['event_id', 'attack', 'is_attack']
"""

from __future__ import annotations

from loghunt.synth.attacks import ATTACK_TYPES, Incident
from loghunt.synth.scenario import Scenario, ScenarioConfig, generate_scenario
from loghunt.synth.table import generate_cloudtrail_table
from loghunt.synth.writer import ScenarioPaths, write_scenario

__all__ = [
    "ATTACK_TYPES",
    "Incident",
    "Scenario",
    "ScenarioConfig",
    "ScenarioPaths",
    "generate_cloudtrail_table",
    "generate_scenario",
    "write_scenario",
]
