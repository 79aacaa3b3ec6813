from __future__ import annotations

import polars as pl

from loghunt.output import to_csv_safe


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    table = pl.DataFrame(
        {
            "ua": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "aws-cli/2.0"],
            "n": [1, 2, 3, 4, 5],
            "tags": [["=x"], [], ["a"], ["b"], ["c"]],
        }
    )
    safe = to_csv_safe(table)
    assert safe.get_column("ua").to_list() == [
        '\'=HYPERLINK("http://x")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "aws-cli/2.0",
    ]
    assert safe.get_column("n").to_list() == [1, 2, 3, 4, 5]
    assert safe.get_column("tags").to_list()[0] == '["=x"]'
