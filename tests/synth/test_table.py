from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from loghunt.errors import ConfigError
from loghunt.schema import ocsf
from loghunt.synth import ATTACK_TYPES, generate_cloudtrail_table

COLUMNS = [
    ocsf.TIME, ocsf.USER_NAME, ocsf.USER_TYPE, ocsf.USER_UID, ocsf.ACCOUNT_UID, ocsf.OPERATION,
    ocsf.SERVICE, ocsf.SRC_IP, ocsf.USER_AGENT, ocsf.REGION, ocsf.ERROR, ocsf.STATUS,
    ocsf.EVENT_UID, "is_attack", "attack",
]  # fmt: skip


@pytest.fixture(scope="module")
def table() -> pl.DataFrame:
    return generate_cloudtrail_table(30_000, seed=5)


def test_rows_columns_and_types(table: pl.DataFrame) -> None:
    assert table.height == 30_000
    assert table.columns == COLUMNS
    assert table.schema[ocsf.TIME] == pl.Datetime("ms", "UTC")
    assert table.schema["is_attack"] == pl.Boolean
    assert all(table.schema[c] == pl.Utf8 for c in COLUMNS[1:-2] if c != ocsf.TIME)
    assert table.get_column(ocsf.TIME).is_sorted()
    assert table.get_column(ocsf.EVENT_UID).n_unique() == table.height


def test_attacks_are_labelled_at_a_low_rate(table: pl.DataFrame) -> None:
    rate = np.mean(table.get_column("is_attack").to_numpy())
    assert 0.01 <= rate <= 0.02
    assert set(table.filter("is_attack").get_column("attack").unique()) == set(ATTACK_TYPES)
    assert table.get_column("is_attack").eq(table.get_column("attack") != "").all()


def test_values_are_consistent_and_varied(table: pl.DataFrame) -> None:
    failed = table.get_column(ocsf.STATUS) == "Failure"
    assert np.mean(failed.to_numpy()) < 0.05
    assert (table.get_column(ocsf.ERROR).is_not_null() <= failed).all()
    assert table.get_column(ocsf.USER_NAME).n_unique() >= 40
    assert table.get_column(ocsf.OPERATION).n_unique() >= 200
    assert table.get_column(ocsf.SERVICE).n_unique() >= 40
    assert table.get_column(ocsf.SRC_IP).n_unique() >= 300
    assert table.get_column(ocsf.REGION).value_counts(sort=True).row(0)[0] == "us-east-1"


def test_same_seed_same_table_other_seed_differs() -> None:
    a = generate_cloudtrail_table(3_000, seed=2)
    assert a.equals(generate_cloudtrail_table(3_000, seed=2))
    b = generate_cloudtrail_table(3_000, seed=3)
    assert not np.array_equal(a.get_column(ocsf.EVENT_UID), b.get_column(ocsf.EVENT_UID))


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ConfigError):
        generate_cloudtrail_table(10)
    with pytest.raises(ConfigError):
        generate_cloudtrail_table(1_000, attack_rate=0.9)
