"""The embedding space of a pipeline: events to Featurizer rows plus raw categories, embedded.

The Embedder reads two things per event: the Featurizer's numeric matrix (rarities, scaled
numbers, time habits, entity windows) and the raw values of the categorical and text fields
the Featurizer selected, each through its own embedding table. Identifiers, near-unique and
free-text columns stay out, as they do of the features.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from loghunt.embed.checks import EmbeddingChecks, check_embeddings
from loghunt.embed.embedder import Embedder
from loghunt.errors import ConfigError
from loghunt.features import Featurizer

#: Featurizer input kinds whose raw values get an embedding table.
CATEGORICAL_KINDS = ("categorical", "text")


def categorical_fields(featurizer: Featurizer) -> list[str]:
    """The categorical input columns of a fitted featurizer, in its order."""
    return [c.name for c in featurizer.schema_.columns if c.kind in CATEGORICAL_KINDS]


def make_embedder(params: Mapping[str, Any], random_state: int) -> Embedder:
    """An Embedder with ``params`` (constructor keywords); ``random_state`` unless given."""
    try:
        return Embedder(**{"random_state": random_state, **params})
    except TypeError as exc:
        raise ConfigError(f"bad embedder parameters {dict(params)}: {exc}") from exc


def fit_embedding(
    events: pl.DataFrame,
    featurizer: Featurizer,
    X: NDArray[np.float32],
    params: Mapping[str, Any] | None = None,
    random_state: int = 0,
) -> tuple[Embedder, NDArray[np.float32], EmbeddingChecks]:
    """Train an embedder on featurized ``events``; their embeddings and the checks on them.

    Examples
    --------
    >>> from loghunt.synth import generate_cloudtrail_table
    >>> from loghunt.schema import normalize
    >>> events = normalize(generate_cloudtrail_table(300, seed=1))
    >>> fz = Featurizer(exclude=["is_attack", "attack"]).fit(events)
    >>> emb, E, checks = fit_embedding(events, fz, fz.transform(events), {"max_epochs": 1})
    >>> E.shape == (300, emb.dim), checks.n_rows
    (True, 300)
    """
    embedder = make_embedder(params or {}, random_state)
    categories = events.select(categorical_fields(featurizer))
    E = embedder.fit_transform(X, categories)
    checks = check_embeddings(embedder, X, categories, E, random_state=random_state)
    return embedder, E, checks


def embed_events(
    embedder: Embedder, events: pl.DataFrame, X: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Embeddings of events whose featurized rows are ``X``."""
    return embedder.transform(X, events.select(embedder.fields_) if embedder.fields_ else None)
