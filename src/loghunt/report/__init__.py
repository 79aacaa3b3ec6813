"""The self-contained HTML report of a hunt: one file, no network, everything escaped.

>>> from loghunt.report import write_report
>>> callable(write_report)
True
"""

from __future__ import annotations

from loghunt.report.projection import PROJECTION_COLUMNS, project_2d
from loghunt.report.render import render_report, write_report

__all__ = ["PROJECTION_COLUMNS", "project_2d", "render_report", "write_report"]
