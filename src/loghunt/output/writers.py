"""Write findings to disk: Parquet, CSV safe against formula injection, metrics JSON."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson
import polars as pl

from loghunt.errors import ConfigError
from loghunt.output.findings import Findings

#: Extra output formats ``write_findings`` can add to the table, CSV and summary.
FORMATS = ("ocsf",)

# A spreadsheet treats a cell starting with these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_findings(
    findings: Findings, out_dir: Path, formats: Sequence[str] = ()
) -> dict[str, Path]:
    """Write findings.parquet, findings.csv and summary.json into ``out_dir``.

    Also metrics.json and pr_table.csv with labels, and findings.ocsf.jsonl (OCSF Detection
    Findings) when ``formats`` holds ``"ocsf"``.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ConfigError(f"unknown output format(s) {sorted(unknown)}; choose from {FORMATS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "parquet": out_dir / "findings.parquet",
        "csv": out_dir / "findings.csv",
        "summary": out_dir / "summary.json",
    }
    findings.table.write_parquet(paths["parquet"])
    to_csv_safe(findings.table).write_csv(paths["csv"])
    paths["summary"].write_bytes(
        orjson.dumps(findings.summary(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )
    if findings.metrics:
        paths["metrics"] = out_dir / "metrics.json"
        metrics = [m.to_dict() for m in findings.metrics]
        paths["metrics"].write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2))
    if findings.pr_table is not None:
        paths["pr_table"] = out_dir / "pr_table.csv"
        findings.pr_table.write_csv(paths["pr_table"])
    if "ocsf" in formats:
        from loghunt.output.ocsf import write_ocsf

        paths["ocsf"] = out_dir / "findings.ocsf.jsonl"
        write_ocsf(findings, paths["ocsf"])
    return paths


def to_csv_safe(table: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as formulas get a leading apostrophe.

    Nested columns (lists, structs) are written as JSON text first, since CSV has no nesting.
    """
    nested = [n for n, t in table.schema.items() if isinstance(t, pl.List | pl.Struct | pl.Array)]
    table = table.with_columns(
        pl.Series(n, [orjson.dumps(v).decode() for v in table.get_column(n).to_list()])
        for n in nested
    )
    text = [n for n, t in table.schema.items() if t == pl.Utf8]
    return table.with_columns(_defuse(pl.col(n)).alias(n) for n in text)


def _defuse(col: pl.Expr) -> pl.Expr:
    risky = col.str.starts_with(_FORMULA_START[0])
    for prefix in _FORMULA_START[1:]:
        risky = risky | col.str.starts_with(prefix)
    return pl.when(risky).then(pl.lit("'") + col).otherwise(col)
