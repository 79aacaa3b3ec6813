from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from loghunt.errors import InputError
from loghunt.features import Featurizer
from loghunt.schema import infer_roles, normalize, ocsf


def _cloudtrail() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "eventName": ["GetObject", "ConsoleLogin", "AssumeRole"],
            "eventSource": ["s3.amazonaws.com", "signin.amazonaws.com", "sts.amazonaws.com"],
            "eventTime": ["2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z", None],
            "@timestamp": [None, None, "2020-09-14T00:44:23.000Z"],
            "eventID": ["e1", "e2", "e3"],
            "userIdentity.type": ["IAMUser", "IAMUser", "AssumedRole"],
            "userIdentity.userName": ["alice", "bob", None],
            "userIdentity.sessionContext.sessionIssuer.userName": [None, None, "ci-role"],
            "userIdentity.sessionContext.attributes.mfaAuthenticated": ["true", "false", None],
            "errorCode": [None, None, "AccessDenied"],
            "responseElements": [None, '{"ConsoleLogin":"Failure"}', None],
            "requestID": ["r1", "r2", "r3"],
            "@version": ["1", "1", "1"],
            "readOnly": [True, False, None],
        }
    )


def test_cloudtrail_maps_to_ocsf_api_activity() -> None:
    events = normalize(_cloudtrail())
    assert events.get_column(ocsf.OPERATION).to_list() == [
        "GetObject",
        "ConsoleLogin",
        "AssumeRole",
    ]
    assert events.get_column(ocsf.USER_NAME).to_list() == ["alice", "bob", "ci-role"]
    assert events.get_column(ocsf.STATUS).to_list() == ["Success", "Failure", "Failure"]
    assert events.get_column(ocsf.CLASS_UID).to_list() == [6003] * 3
    assert events.get_column(ocsf.SESSION_MFA).to_list() == [True, False, None]
    assert events.get_column(ocsf.EVENT_ID).to_list() == ["e1", "e2", "e3"]
    assert events.schema[ocsf.TIME] == pl.Datetime("ms", "UTC")
    assert events.get_column(ocsf.TIME).null_count() == 0
    # Raw ids and envelope fields are not kept as features; useful flags are.
    assert "requestID" not in events.columns and "@version" not in events.columns
    assert "readOnly" in events.columns


def test_sso_sessions_are_named_by_person_not_by_shared_role() -> None:
    table = pl.DataFrame(
        {
            "eventName": ["ListBuckets"],
            "eventSource": ["s3.amazonaws.com"],
            "userIdentity.type": ["AssumedRole"],
            "userIdentity.arn": [
                "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0a1b/alice@example.com"
            ],
            "userIdentity.sessionContext.sessionIssuer.userName": ["AWSReservedSSO_Admin_0a1b"],
        }
    )
    assert normalize(table).get_column(ocsf.USER_NAME).to_list() == ["alice@example.com"]


def test_ocsf_authentication_gets_actor_user() -> None:
    auth = pl.DataFrame(
        {
            "time": [1_772_445_600_000],
            "class_uid": [3002],
            "user.name": ["carol"],
            "status": ["Failure"],
            "metadata.uid": ["a1"],
        }
    )
    events = normalize(auth)
    assert events.get_column(ocsf.USER_NAME).to_list() == ["carol"]
    assert str(events.get_column(ocsf.TIME)[0]) == "2026-03-02 10:00:00+00:00"
    roles = infer_roles(events.columns)
    assert roles.user == ocsf.USER_NAME and roles.status == ocsf.STATUS


def test_mixed_cloudtrail_and_ocsf_rows() -> None:
    ct = _cloudtrail()
    auth = pl.DataFrame(
        {
            "time": ["2026-03-02T12:00:00Z"],
            "class_uid": [3002],
            "user.name": ["carol"],
            "status": ["Success"],
        }
    )
    events = normalize(pl.concat([ct, auth], how="diagonal_relaxed"))
    assert events.get_column(ocsf.CLASS_UID).to_list() == [6003, 6003, 6003, 3002]
    assert events.get_column(ocsf.USER_NAME).to_list()[-1] == "carol"
    assert events.get_column(ocsf.STATUS).to_list()[-1] == "Success"
    assert events.get_column(ocsf.TIME).null_count() == 0


def test_any_other_table_is_used_as_is_with_an_event_id() -> None:
    table = pl.DataFrame({"bytes": [1, 2, 3], "proto": ["tcp", "udp", "tcp"]})
    events = normalize(table)
    assert events.columns == ["bytes", "proto", ocsf.EVENT_ID]
    assert events.get_column(ocsf.EVENT_ID).n_unique() == 3


def test_event_id_falls_back_to_source_location() -> None:
    table = pl.DataFrame(
        {"x": [1, 2], ocsf.SOURCE_FILE: ["a.json", "a.json"], ocsf.SOURCE_LINE: [1, 2]}
    )
    ids = normalize(table).get_column(ocsf.EVENT_ID).to_list()
    assert len(set(ids)) == 2 and ids == normalize(table).get_column(ocsf.EVENT_ID).to_list()


def test_unreadable_class_and_time_become_null_and_the_event_still_scores() -> None:
    ct = _cloudtrail().head(1)
    odd = pl.DataFrame({"class_uid": ["x"], "time": [1e308], "user.name": ["mallory"]})
    events = normalize(pl.concat([ct, odd], how="diagonal_relaxed"))
    assert events.get_column(ocsf.CLASS_UID).to_list() == [6003, None]
    assert events.get_column(ocsf.TIME).to_list()[1] is None
    assert events.get_column(ocsf.USER_NAME).to_list() == ["alice", "mallory"]
    baseline = normalize(_cloudtrail())
    fz = Featurizer().fit(baseline)
    X = fz.transform(events.select(baseline.columns))
    assert X.shape == (2, len(fz.feature_names_)) and np.isfinite(X).all()


@pytest.mark.parametrize(
    "value", [1e308, -1e308, float("inf"), float("nan"), 9_223_372_036_854_775_807]
)
def test_epoch_times_past_the_calendar_are_null(value: float) -> None:
    events = normalize(pl.DataFrame({"time": [value, 1_772_445_600]}))
    times = events.get_column(ocsf.TIME)
    assert times[0] is None and str(times[1]) == "2026-03-02 10:00:00+00:00"


def test_a_table_that_cannot_be_mapped_raises_input_error() -> None:
    with pytest.raises(InputError, match="cannot map"):
        normalize(pl.DataFrame({"eventID": [[1, 2]]}))


def test_events_without_an_id_get_a_hash_of_their_location() -> None:
    def digest(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    table = pl.DataFrame(
        {
            "eventID": ["own", None, None],
            ocsf.SOURCE_FILE: ["a.json", "a.json", "b.json"],
            ocsf.SOURCE_LINE: [1, 1, 7],
        }
    )
    ids = normalize(table).get_column(ocsf.EVENT_ID).to_list()
    assert ids == ["own", digest("a.json:1:1"), digest("b.json:7:0")]
    plain = normalize(pl.DataFrame({"x": [5, 6]})).get_column(ocsf.EVENT_ID).to_list()
    assert plain == [digest("0"), digest("1")]


def test_an_already_normalized_table_comes_back_unchanged() -> None:
    events = normalize(_cloudtrail())
    assert normalize(events) is events  # the pipeline normalises the service's events again


def test_normalizing_again_still_fixes_what_is_not_normalized() -> None:
    events = normalize(_cloudtrail())
    # An event id that is not the source's own id, and a time column of nulls only.
    changed = events.with_columns(
        pl.Series(ocsf.EVENT_ID, ["x", "e2", "e3"]), pl.lit(None).alias(ocsf.TIME)
    )
    again = normalize(changed)
    assert again.get_column(ocsf.EVENT_ID).to_list() == ["e1", "e2", "e3"]
    assert again.schema[ocsf.TIME] == pl.Datetime("ms", "UTC")
    assert again.columns == changed.columns
