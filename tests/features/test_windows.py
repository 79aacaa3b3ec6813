"""Per-entity windows and first-seen flags, on hand-made timelines."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from loghunt.features import Featurizer
from loghunt.features.base import ROW
from loghunt.features.windows import WindowFeatures

T = dt.datetime(2024, 3, 4, 10, 0, tzinfo=dt.UTC)
USER, IP, STATUS = "actor.user.name", "src_endpoint.ip", "status"


def _events(rows: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    """Rows of (minutes after 10:00, user, source ip, status)."""
    minutes, users, ips, statuses = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "time": [T + dt.timedelta(minutes=m) for m in minutes],
            USER: list(users),
            IP: list(ips),
            STATUS: list(statuses),
        }
    )


def _raw_windows(fz: Featurizer, df: pl.DataFrame) -> pl.DataFrame:
    """Unscaled window features of ``df``'s rows, in input order."""
    family = next(f for f in fz._families if isinstance(f, WindowFeatures))
    work = fz._prepare(df)
    raw = family.raw(work).with_columns(work.get_column(ROW))
    return raw.sort(ROW).drop(ROW)


TIMELINE = [
    (0, "alice", "1.1.1.1", "Failure"),
    (5, "alice", "1.1.1.1", "Failure"),
    (10, "alice", "1.1.1.1", "Failure"),
    (12, "alice", "2.2.2.2", "Success"),
    (40, "bob", "1.1.1.1", "Success"),
    (70, "alice", "1.1.1.1", "Success"),
    (75, "alice", "3.3.3.3", "Success"),
    (24 * 60, "alice", "1.1.1.1", "Success"),
]


def test_window_counts_on_a_hand_made_timeline() -> None:
    df = _events(TIMELINE)
    fz = Featurizer().fit(df)
    raw = _raw_windows(fz, df)
    col = raw.get_column
    # Windows are (t - 1h, t]: the failure at 10:10 is out of the window at 11:10.
    assert col("window:actor.user.name:events_1h").to_list() == [1, 2, 3, 4, 1, 2, 2, 1]
    assert col("window:actor.user.name:failures_1h").to_list() == [1, 2, 3, 3, 0, 0, 0, 0]
    assert col("window:actor.user.name:success_after_failures").to_list() == [0] * 3 + [1] + [0] * 4
    assert col("window:actor.user.name:distinct_ips_1d").to_list() == [3] * 4 + [1, 3, 3, 1]
    assert col("window:src_endpoint.ip:events_1h").to_list() == [1, 2, 3, 1, 4, 2, 1, 1]
    assert col("window:src_endpoint.ip:failures_1h").to_list() == [1, 2, 3, 0, 3, 0, 0, 0]
    assert col("window:src_endpoint.ip:distinct_users_1d").to_list() == [2, 2, 2, 1, 2, 2, 1, 1]


def test_scaled_window_features_keep_the_order_of_the_counts() -> None:
    df = _events(TIMELINE)
    fz = Featurizer().fit(df)
    X = fz.transform(df)
    events = X[:, fz.feature_names_.index("window:actor.user.name:events_1h")]
    assert np.argsort(events, kind="stable").tolist()[-1] == 3  # alice's fourth event


def test_brute_force_then_success_sets_the_flag() -> None:
    attack = [(m, "alice", "6.6.6.6", "Failure") for m in range(10)]
    attack.append((11, "alice", "6.6.6.6", "Success"))
    slow = [(60 + 10 * i, "bob", "1.1.1.1", "Failure") for i in range(6)]
    slow.append((115, "bob", "1.1.1.1", "Success"))  # only 2 failures in the last 15 minutes
    two = [(200, "carol", "2.2.2.2", "Failure"), (201, "carol", "2.2.2.2", "Failure")]
    two.append((202, "carol", "2.2.2.2", "Success"))
    df = _events(attack + slow + two)
    fz = Featurizer().fit(df)
    flag = fz.transform(df)[
        :, fz.feature_names_.index("window:actor.user.name:success_after_failures")
    ]
    assert np.flatnonzero(flag).tolist() == [10]


def test_failures_come_from_the_error_code_when_there_is_no_status() -> None:
    df = (
        _events(TIMELINE)
        .with_columns(
            pl.when(pl.col(STATUS) == "Failure")
            .then(pl.lit("AccessDenied"))
            .alias("api.response.error")
        )
        .drop(STATUS)
    )
    fz = Featurizer().fit(df)
    assert fz.roles_.status == "api.response.error"
    raw = _raw_windows(fz, df)
    assert raw.get_column("window:actor.user.name:success_after_failures").sum() == 1


def test_first_seen_relative_to_the_fit_data_and_earlier_events() -> None:
    fit = _events([(0, "alice", "1.1.1.1", "Success"), (5, "bob", "2.2.2.2", "Success")])
    fz = Featurizer().fit(fit)
    later = _events(
        [
            (60, "alice", "1.1.1.1", "Success"),  # known pair
            (70, "alice", "9.9.9.9", "Success"),  # new pair: first sighting
            (80, "alice", "9.9.9.9", "Success"),  # seen ten minutes ago
            (90, "bob", "1.1.1.1", "Success"),  # new pair for bob
        ]
    )
    flag = fz.transform(later)[
        :, fz.feature_names_.index("first_seen:actor.user.name×src_endpoint.ip")
    ]
    assert flag.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_first_seen_on_the_fit_data_marks_each_pairs_first_event() -> None:
    df = _events(TIMELINE)
    X = Featurizer().fit(df).transform(df)
    fz = Featurizer().fit(df)
    flag = X[:, fz.feature_names_.index("first_seen:actor.user.name×src_endpoint.ip")]
    assert flag.tolist() == [1, 0, 0, 1, 1, 0, 1, 0]


def test_rows_come_back_in_input_order() -> None:
    df = _events(TIMELINE)
    fz = Featurizer().fit(df)
    X = fz.transform(df)
    order = np.random.default_rng(0).permutation(df.height)
    shuffled = fz.transform(df[order.tolist()])
    assert np.array_equal(shuffled, X[order])


def test_no_windows_without_time_or_when_disabled() -> None:
    df = _events(TIMELINE)
    names = Featurizer(entity_windows=False).fit(df).feature_names_
    assert not any(n.startswith(("window:", "first_seen:")) for n in names)
    names = Featurizer().fit(df.drop("time")).feature_names_
    assert not any(n.startswith(("window:", "first_seen:", "time:")) for n in names)
    assert "pair_rarity:actor.user.name×src_endpoint.ip" in names


def test_windows_by_source_ip_only_when_there_is_no_user() -> None:
    fz = Featurizer().fit(_events(TIMELINE).drop(USER))
    windows = [n for n in fz.feature_names_ if n.startswith("window:")]
    assert windows == ["window:src_endpoint.ip:events_1h", "window:src_endpoint.ip:failures_1h"]


def test_describe_window_feature() -> None:
    df = _events(TIMELINE)
    fz = Featurizer().fit(df)
    i = fz.feature_names_.index("window:actor.user.name:failures_1h")
    assert fz.describe_value(i, df.row(2, named=True)) == (
        'failed events in the hour up to this one for actor.user.name="alice"'
    )
