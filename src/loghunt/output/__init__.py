"""Findings and the files they are written to."""

from loghunt.output.findings import Findings
from loghunt.output.writers import to_csv_safe, write_findings

__all__ = ["Findings", "to_csv_safe", "write_findings"]
