"""Unit tests, no server: how source objects are cleaned and how a chunk of values is prepared."""

from __future__ import annotations

import copy
import datetime as dt
import json

from dhis_sync_pipeline.dhis2 import ImportResult, ObjectError
from dhis_sync_pipeline.sync.data_values import (
    DEFAULT_COMBO,
    _prepare,
    _split_deletions,
    _without_nulls,
    rejected_values,
)
from dhis_sync_pipeline.sync.references import CleaningReport, DestinationDirectory, clean_object

ON_DESTINATION = DestinationDirectory(users=frozenset({"userKnown01"}), user_groups=frozenset({"groupKnown1"}))


# ------------------------------------------------------------------------------ object cleaning


def test_cleaning_keeps_owner_properties_and_drops_what_the_destination_computes():
    option = {"id": "optionUid01", "code": "YES", "name": "Yes", "sortOrder": 1,
              "optionSet": {"id": "optSetUid01"},  # inverse: the option set owns its options
              "href": "https://source/api/options/optionUid01", "access": {"read": True},
              "displayName": "Yes", "lastUpdatedBy": {"id": "userKnown01"}}
    original = copy.deepcopy(option)
    report = CleaningReport()

    cleaned = clean_object(option, "options", ON_DESTINATION, report)

    assert cleaned == {"id": "optionUid01", "code": "YES", "name": "Yes", "sortOrder": 1}
    assert option == original  # the source object is left as it was
    assert report.summary() == {}  # computed properties are not "removed references"


def test_user_references_missing_on_the_destination_are_removed_and_counted():
    data_element = {
        "id": "deUid000001", "name": "ANC visits",
        "createdBy": {"id": "userGone001"},
        "user": {"id": "userKnown01"},
        "sharing": {"owner": "userGone001", "public": "rw------", "external": False,
                    "users": {"userKnown01": {"id": "userKnown01", "access": "rw------"},
                              "userGone001": {"id": "userGone001", "access": "r-------"}},
                    "userGroups": {"groupGone01": {"id": "groupGone01", "access": "r-------"}},
                    "groupKnown1": {"id": "groupKnown1"}},  # malformed: an entry straight under sharing
        "userAccesses": [{"user": {"id": "userGone001"}, "access": "r-------"},
                         {"id": "userKnown01", "access": "rw------"}],
        "userGroupAccesses": [{"userGroup": {"id": "groupKnown1"}, "access": "r-------"}],
    }
    report = CleaningReport()

    cleaned = clean_object(data_element, "dataElements", ON_DESTINATION, report)

    assert "createdBy" not in cleaned and cleaned["user"] == {"id": "userKnown01"}
    assert cleaned["sharing"] == {"owner": "userGone001", "public": "rw------", "external": False,
                                  "users": {"userKnown01": {"id": "userKnown01", "access": "rw------"}},
                                  "userGroups": {}}
    assert cleaned["userAccesses"] == [{"id": "userKnown01", "access": "rw------"}]
    assert cleaned["userGroupAccesses"] == data_element["userGroupAccesses"]
    assert report.summary() == {
        "createdBy (user not on destination)": 1,
        "malformed sharing entries": 1,
        "sharing user entries (not on destination)": 1,
        "sharing user group entries (not on destination)": 1,
        "userAccesses entries (not on destination)": 1,
    }


def test_organisation_unit_inverse_lists_are_not_sent():
    unit = {"id": "ouUid000001", "name": "Ngelehun", "parent": {"id": "ouUid000000"},
            "children": [{"id": "ouUid000002"}], "ancestors": [{"id": "ouUid000000"}],
            "dataSets": [{"id": "dsUid000001"}], "organisationUnitGroups": [{"id": "ougUid00001"}]}
    cleaned = clean_object(unit, "organisationUnits", ON_DESTINATION, CleaningReport())
    assert cleaned == {"id": "ouUid000001", "name": "Ngelehun", "parent": {"id": "ouUid000000"}}


# ---------------------------------------------------------------------- data-frame preparation


def row(element: str, value: str = "1", **extra) -> dict:
    return {"dataElement": element, "period": "202401", "orgUnit": "ouUid000001", "value": value, **extra}


def test_default_combos_are_filled_in():
    read, frame, invalid, overlapped = _prepare(
        [row("deA"), row("deB", categoryOptionCombo=None, attributeOptionCombo="aocUid00001")], since_utc=None)
    assert (read, invalid, overlapped) == (2, [], 0)
    assert frame["categoryOptionCombo"].tolist() == [DEFAULT_COMBO, DEFAULT_COMBO]
    assert frame["attributeOptionCombo"].tolist() == [DEFAULT_COMBO, "aocUid00001"]


def test_values_the_last_run_sent_are_dropped_and_counted_by_their_utc_time():
    since = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    rows = [
        row("deOld", lastUpdated="2024-03-01T11:59:59.000+0000"),  # before the watermark: sent already
        row("deNew", lastUpdated="2024-03-01T07:30:00.000-0500"),  # 12:30 UTC: new
        row("deOdd", lastUpdated="not a date"),  # unparseable: kept, never lost
    ]
    read, frame, invalid, overlapped = _prepare(rows, since)
    assert (read, overlapped, invalid) == (3, 1, [])
    assert frame["dataElement"].tolist() == ["deNew", "deOdd"]


def test_a_value_without_its_key_is_set_aside_with_what_it_lacks():
    read, frame, invalid, _ = _prepare([row("deA"), {"dataElement": "deB", "value": "3"}], since_utc=None)
    assert frame["dataElement"].tolist() == ["deA"]
    [error] = invalid
    assert error.property == "period, orgUnit"
    assert error.message == "the source exported a value without period, orgUnit"
    assert error.value_key == {"dataElement": "deB", "categoryOptionCombo": DEFAULT_COMBO,
                               "attributeOptionCombo": DEFAULT_COMBO}


def test_a_key_read_twice_keeps_its_last_value_and_deleted_is_boolean():
    rows = [row("deA", "1"), row("deB", "2", deleted=True), row("deA", "5")]
    _, frame, _, _ = _prepare(rows, since_utc=None)
    assert frame[["dataElement", "value"]].values.tolist() == [["deB", "2"], ["deA", "5"]]
    assert frame["deleted"].tolist() == [True, False]
    upserts, deletions = _split_deletions(frame)
    assert upserts["dataElement"].tolist() == ["deA"] and deletions["dataElement"].tolist() == ["deB"]


def test_nulls_are_left_out_of_the_payload_but_text_that_looks_like_one_stays():
    _, frame, _, _ = _prepare([row("deA", comment=None), row("deB", comment='say ,"x":null here')], since_utc=None)
    body = _without_nulls(frame[["dataElement", "value", "comment"]].to_json(orient="records").encode())
    assert json.loads(body) == [{"dataElement": "deA", "value": "1"},
                                {"dataElement": "deB", "value": "1", "comment": 'say ,"x":null here'}]


def test_a_whole_set_rejection_is_reported_on_every_value_it_covered():
    _, frame, _, _ = _prepare([row("deA"), row("deB"), row("deC")], since_utc=None)
    # 2.43: one foreign element rejects the dataSet's whole payload, with a conflict naming no row
    result = ImportResult(status="ERROR", errors=[ObjectError("dsUid000001", None, "E8022", None,
                                                              "Data element deC is not part of the dataSet")])
    errors = rejected_values(result, frame)
    assert [(e.error_code, e.value_key["dataElement"]) for e in errors] == [("E8022", "deA"), ("E8022", "deB"),
                                                                           ("E8022", "deC")]
