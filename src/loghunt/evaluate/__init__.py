"""Detection quality against labels."""

from loghunt.evaluate.metrics import Metrics, evaluate

__all__ = ["Metrics", "evaluate"]
