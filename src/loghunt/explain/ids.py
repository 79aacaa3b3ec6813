"""Stable identifiers: the model version and each finding's id.

A finding id is the first 16 hex digits of ``sha256(model_version | event_id)``: the same
event scored by the same model configuration always gets the same id, so an analyst's verdict
on it (see :mod:`loghunt.explain.suppress`) still applies when the logs are hunted again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson
import polars as pl

from loghunt import __version__

ID_HEX_DIGITS = 16


def model_version(settings: Mapping[str, Any]) -> str:
    """``<loghunt version>+<8 hex digits of the settings' hash>``.

    >>> model_version({"detectors": ["knn"]}) == model_version({"detectors": ["knn"]})
    True
    >>> model_version({"detectors": ["knn"]}).startswith(__version__ + "+")
    True
    """
    blob = orjson.dumps(dict(settings), option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    return f"{__version__}+{hashlib.sha256(blob).hexdigest()[:8]}"


def finding_ids(event_ids: pl.Series, version: str) -> pl.Series:
    """The finding id of each event id under model ``version``.

    >>> finding_ids(pl.Series(["e1", "e1", "e2"]), "0.1.0+abc").n_unique()
    2
    """
    # The prefix is hashed once; each id continues a copy of that state (same digests).
    prefix = hashlib.sha256(f"{version}|".encode())
    ids = []
    for event_id in event_ids.cast(pl.String).to_list():  # a loop: no call per id
        state = prefix.copy()
        state.update((event_id or "").encode())  # a null id hashes as ""
        ids.append(state.hexdigest()[:ID_HEX_DIGITS])
    return pl.Series("finding_id", ids, dtype=pl.String)
