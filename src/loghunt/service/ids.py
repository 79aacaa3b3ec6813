"""Deterministic finding ids: the same model and event always give the same id.

A redelivered message or a retried request is scored again, possibly to a slightly different
score (the store learned in between), but its finding keeps its id, so every sink can drop the
duplicate. The pipeline writes the ids itself (:mod:`loghunt.explain.ids`: a hash of the model
version, which learning does not change, and the event id); this module only reads them.
"""

from __future__ import annotations

import polars as pl

from loghunt.explain.ids import finding_ids as _finding_ids
from loghunt.output.findings import FINDING_ID, Findings
from loghunt.schema import ocsf


def finding_id(model_version: str, event_id: str) -> str:
    """The id of the finding of ``event_id`` under ``model_version``.

    Examples
    --------
    >>> finding_id("m1", "e-1") == finding_id("m1", "e-1") != finding_id("m2", "e-1")
    True
    """
    return str(_finding_ids(pl.Series([event_id]), model_version)[0])


def finding_ids(findings: Findings) -> pl.Series:
    """The findings table's ``finding_id`` column (computed when an older table lacks it)."""
    table = findings.table
    if FINDING_ID in table.columns:
        return table.get_column(FINDING_ID).cast(pl.Utf8)
    return _finding_ids(table.get_column(ocsf.EVENT_ID), findings.model_version)


__all__ = ["FINDING_ID", "finding_id", "finding_ids"]
