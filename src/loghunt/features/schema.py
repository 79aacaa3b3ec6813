"""The feature schema: what a fitted Featurizer expects as input and what it produces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

#: Kinds an input column can have. ``text`` columns give rarity and string statistics;
#: ``json`` blobs and ``freetext`` (near-unique prose such as log messages) give string
#: statistics only; ``role`` columns are read for their security role (failures, entities) but
#: give no features of their own (for example a status column constant in the fit data).
KINDS = ("categorical", "numeric", "time", "text", "json", "freetext", "boolean", "role")

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class InputColumn:
    """One input column a fitted featurizer reads, and how it reads it."""

    name: str
    kind: str


@dataclass(frozen=True)
class FeatureSchema:
    """Input columns, roles and output features of a fitted :class:`Featurizer`.

    ``hash()`` covers what decides the meaning of the output matrix (input columns and their
    kinds, roles, feature names); ``excluded`` only records why columns were left out.

    Examples
    --------
    >>> s = FeatureSchema(columns=(InputColumn("bytes", "numeric"),), roles={},
    ...                   feature_names=("num:bytes",))
    >>> s.input_columns
    ['bytes']
    >>> len(s.hash())
    64
    """

    columns: tuple[InputColumn, ...]
    roles: dict[str, str]
    feature_names: tuple[str, ...]
    excluded: dict[str, str] = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    @property
    def input_columns(self) -> list[str]:
        """Names of the columns ``transform`` needs."""
        return [c.name for c in self.columns]

    def kind_of(self, name: str) -> str:
        """The kind of input column ``name`` (KeyError if it is not an input)."""
        for col in self.columns:
            if col.name == name:
                return col.kind
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form; :meth:`from_dict` reverses it."""
        return {
            "version": self.version,
            "columns": [{"name": c.name, "kind": c.kind} for c in self.columns],
            "roles": dict(self.roles),
            "feature_names": list(self.feature_names),
            "excluded": dict(self.excluded),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        """Rebuild a schema written by :meth:`to_dict`."""
        return cls(
            columns=tuple(InputColumn(c["name"], c["kind"]) for c in data["columns"]),
            roles=dict(data["roles"]),
            feature_names=tuple(data["feature_names"]),
            excluded=dict(data.get("excluded", {})),
            version=int(data.get("version", SCHEMA_VERSION)),
        )

    def hash(self) -> str:
        """sha256 of a canonical JSON of the parts that decide the output's meaning."""
        canonical = {
            "version": self.version,
            "columns": [[c.name, c.kind] for c in self.columns],
            "roles": dict(sorted(self.roles.items())),
            "feature_names": list(self.feature_names),
        }
        return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
