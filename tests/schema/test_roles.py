import polars as pl

from loghunt.schema.roles import failure_mask, infer_roles


def _failed(column: str, values: list[object]) -> list[bool]:
    table = pl.DataFrame({column: values})
    return failure_mask(table, infer_roles(table.columns)).to_list()


def test_ocsf_status_text_and_ids() -> None:
    assert _failed("status", ["Success", "Failure", None, "2", "1"]) == [
        False,
        True,
        False,
        True,
        False,
    ]


def test_cloudtrail_error_code_is_a_failure_when_present() -> None:
    assert _failed("errorCode", [None, "AccessDenied"]) == [False, True]


def test_windows_ntstatus_error_codes() -> None:
    # 0xc000006d bad user name or password, 0xc0000234 locked out; 0x0 success.
    values = ["0xC000006D", "0xc0000234", "0x0", "0x80000005", "0xc00"]
    assert _failed("Status", values) == [True, True, False, False, False]


def test_no_status_column_means_no_failures() -> None:
    assert _failed("other", ["x", "y"]) == [False, False]
