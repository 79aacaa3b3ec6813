"""Explanations of findings: ranked reasons in plain words, nearest normal events, finding ids
and analysts' suppression rules.

>>> from loghunt.explain import Explainer, read_suppressions, finding_ids
"""

from loghunt.explain.explainer import REASON_STRUCT, Explainer
from loghunt.explain.fields import (
    ACTIVITY,
    DETECTORS,
    FAILURES_BEFORE,
    FEATURE,
    FIRST_SEEN,
    RARITY,
    TIME_OF_DAY,
)
from loghunt.explain.ids import finding_ids, model_version
from loghunt.explain.suppress import (
    ExpiredRuleWarning,
    SuppressionRule,
    Suppressions,
    read_suppressions,
)

__all__ = [
    "ACTIVITY",
    "DETECTORS",
    "FAILURES_BEFORE",
    "FEATURE",
    "FIRST_SEEN",
    "RARITY",
    "REASON_STRUCT",
    "TIME_OF_DAY",
    "ExpiredRuleWarning",
    "Explainer",
    "SuppressionRule",
    "Suppressions",
    "finding_ids",
    "model_version",
    "read_suppressions",
]
