"""loghunt: find what a security analyst should look at first in a mountain of logs.

Heavy modules load lazily so ``import loghunt`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from loghunt.io import read_events
    from loghunt.output import Findings
    from loghunt.pipeline import Pipeline, PipelineConfig

_LAZY = {
    "Pipeline": "loghunt.pipeline",
    "PipelineConfig": "loghunt.pipeline",
    "Findings": "loghunt.output",
    "read_events": "loghunt.io",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'loghunt' has no attribute {name!r}")


__all__ = ["Findings", "Pipeline", "PipelineConfig", "__version__", "read_events"]
