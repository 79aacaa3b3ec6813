"""Turn one nested event into flat ``{"a.b.c": scalar}`` pairs, iteratively and within limits."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from itertools import islice
from typing import Any

from loghunt.io.jsontext import dumps_limited
from loghunt.io.limits import ReadLimits

TRUNCATED = 1
"""Row flag: a string was cut, or keys past ``max_keys_per_event`` were dropped."""
NONFINITE = 2
"""Row flag: a NaN / Infinity number in the JSON text was replaced by null."""


@lru_cache(maxsize=16)
def _subtree_keys(keys: tuple[str, ...]) -> frozenset[str]:
    return frozenset(keys)


def flatten_record(record: Mapping[str, Any], limits: ReadLimits) -> tuple[dict[str, Any], int]:
    """Flatten one event; return the flat pairs and its row flags (``TRUNCATED | NONFINITE``).

    Nested objects become dotted keys, in document order. Lists (of anything) and the values
    of ``limits.json_subtrees`` keys become compact JSON strings with sorted keys; objects
    below ``limits.max_depth`` become one JSON string; empty objects add no key. An explicit
    stack replaces recursion, so no input depth can raise ``RecursionError``.

    Examples
    --------
    >>> flatten_record({"a": {"b": 1, "c": [1, 2]}, "d": None}, ReadLimits())
    ({'a.b': 1, 'a.c': '[1,2]', 'd': None}, 0)
    """
    out: dict[str, Any] = {}
    flags = 0
    max_keys = limits.max_keys_per_event
    max_len = limits.max_string_len
    max_depth = limits.max_depth
    subtrees = _subtree_keys(limits.json_subtrees)
    stack: list[tuple[str, Iterator[tuple[str, Any]], int]] = []
    prefix = ""
    items = iter(record.items())
    depth = 1
    while True:
        # The for/else switches `items` to a child object (break) or, once the current object
        # is exhausted (else), resumes its parent. Strings, the bulk of values, are tested
        # first and cheapest: this loop is the hot path of reading.
        for key, value in items:
            kind = type(value)
            if kind is str:
                if len(value) > max_len:
                    value = value[:max_len]
                    flags |= TRUNCATED
            elif kind is dict:
                if depth < max_depth and key not in subtrees:
                    if value and len(out) < max_keys:
                        stack.append((prefix, items, depth))
                        prefix = f"{prefix}{key}."
                        items = iter(value.items())
                        depth += 1
                        break
                    continue
                value, cut = dumps_limited(value, max_len)
                if cut:
                    flags |= TRUNCATED
            elif kind is list or (value is not None and key in subtrees):
                value, cut = dumps_limited(value, max_len)
                if cut:
                    flags |= TRUNCATED
            elif kind is float and value - value != 0.0:
                value = None
                flags |= NONFINITE
            out[prefix + key] = value
        else:
            if stack:
                prefix, items, depth = stack.pop()
                continue
            break
    if len(out) > max_keys:
        # Checked once per event, not per key; objects are not entered once the cap is hit.
        out = dict(islice(out.items(), max_keys))
        flags |= TRUNCATED
    return out, flags
