"""Readers for security logs: format sniffing, an iterative flattener with limits, dead letters.

Examples
--------
>>> from loghunt.io import parse_bytes
>>> parse_bytes(b'{"userIdentity": {"type": "Root"}}').table["userIdentity.type"].to_list()
['Root']
"""

from __future__ import annotations

from loghunt.io.api import ReadResult, parse_bytes, read_events
from loghunt.io.deadletter import DeadLetter, write_dead_letters
from loghunt.io.flatten import flatten_record
from loghunt.io.limits import ReadLimits

__all__ = [
    "DeadLetter",
    "ReadLimits",
    "ReadResult",
    "flatten_record",
    "parse_bytes",
    "read_events",
    "write_dead_letters",
]
