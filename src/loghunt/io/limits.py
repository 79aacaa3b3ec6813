"""Limits that keep hostile or oversized input from exhausting memory or exploding the table."""

from __future__ import annotations

from dataclasses import dataclass

from loghunt.errors import ConfigError

DEFAULT_JSON_SUBTREES: tuple[str, ...] = (
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
    "resources",
    "tlsDetails",
)


@dataclass(frozen=True)
class ReadLimits:
    """Limits applied while reading and flattening events.

    Parameters
    ----------
    max_line_bytes : int
        Longest accepted line of a line-oriented file (JSON Lines). A longer line is
        dead-lettered without ever being held in memory whole; the rest of the file is read.
    max_document_bytes : int
        Largest whole-document input (a JSON array, a ``{"Records": [...]}`` file, CSV,
        Parquet, a nested archive) that is loaded into memory; a larger one is dead-lettered.
    max_depth : int
        Deepest key path flattened into its own column (top-level keys have depth 1). A
        subtree below it is kept as one compact JSON string.
    max_keys_per_event : int
        Most flattened keys kept per event; further keys are dropped and ``_truncated`` set.
    max_string_len : int
        Longest string value (in characters, JSON strings included); longer ones are cut and
        ``_truncated`` set.
    max_columns : int
        Most data columns in the table; past it the most frequent columns are kept and the
        rest folded, per row, into one ``_overflow`` JSON string column.
    json_subtrees : tuple of str
        Keys whose value is kept as one compact JSON string (sorted keys) instead of being
        flattened, wherever they occur. CloudTrail's request parameters vary per API call and
        would otherwise explode into thousands of sparse columns.

    Examples
    --------
    >>> from loghunt.io import ReadLimits
    >>> ReadLimits(max_depth=4).max_depth
    4
    """

    max_line_bytes: int = 1 << 20
    max_document_bytes: int = 1 << 30
    max_depth: int = 8
    max_keys_per_event: int = 500
    max_string_len: int = 4096
    max_columns: int = 512
    json_subtrees: tuple[str, ...] = DEFAULT_JSON_SUBTREES

    def __post_init__(self) -> None:
        for name in (
            "max_line_bytes",
            "max_document_bytes",
            "max_depth",
            "max_keys_per_event",
            "max_string_len",
            "max_columns",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"ReadLimits.{name} must be a positive int, got {value!r}")
        if isinstance(self.json_subtrees, str):
            raise ConfigError("ReadLimits.json_subtrees must be a sequence of key names")
        # Frozen dataclass: normalise through object.__setattr__ so lists are accepted too.
        object.__setattr__(self, "json_subtrees", tuple(self.json_subtrees))
