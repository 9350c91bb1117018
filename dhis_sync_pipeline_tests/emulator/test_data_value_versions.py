"""/api/dataValueSets as each emulated DHIS2 version does it (see emulator/data_values.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests

from .conftest import AUTH, Api

OLD = ["2.36", "2.38", "2.39", "2.40", "2.41", "2.42"]
ALL = OLD + ["2.43"]
DS_A, DS_B = "dsAAAAAAAAA", "dsBBBBBBBBB"
DE_A = ["deA00000001", "deA00000002", "deA00000003"]
DE_B, DE_LONE = "deB00000001", "deLone00001"
PARENT, CHILD, OTHER = "ouParent001", "ouChild0001", "ouOther0001"
MONTHS = [f"2024{m:02d}" for m in range(1, 13)]

METADATA = {
    "organisationUnits": [
        {"id": PARENT, "name": "Parent", "shortName": "Parent", "openingDate": "2000-01-01"},
        {"id": CHILD, "name": "Child", "shortName": "Child", "openingDate": "2000-01-01",
         "parent": {"id": PARENT}},
        {"id": OTHER, "name": "Other", "shortName": "Other", "openingDate": "2000-01-01"}],
    "dataElements": [{"id": uid, "name": uid, "shortName": uid, "valueType": "NUMBER",
                      "aggregationType": "SUM", "domainType": "AGGREGATE"}
                     for uid in [*DE_A, DE_B, DE_LONE]],
    "dataSets": [
        {"id": DS_A, "name": "A", "shortName": "A", "periodType": "Monthly",
         "organisationUnits": [{"id": PARENT}, {"id": CHILD}],
         "dataSetElements": [{"dataElement": {"id": de}} for de in DE_A]},
        {"id": DS_B, "name": "B", "shortName": "B", "periodType": "Monthly",
         "organisationUnits": [{"id": PARENT}, {"id": CHILD}, {"id": OTHER}],
         "dataSetElements": [{"dataElement": {"id": DE_B}}]}]}


def _a_values(value: str = "1") -> list[dict]:
    return [{"dataElement": de, "period": pe, "orgUnit": ou, "value": value}
            for de in DE_A for pe in MONTHS for ou in (PARENT, CHILD)]


def _start(make_server, version: str, timezone: str = "UTC") -> Api:
    api = Api(make_server(version=version, timezone=timezone, seed=[METADATA]))
    response = api.post("dataValueSets", {"dataSet": DS_A, "dataValues": _a_values()})
    assert response.status_code == 200, response.text[:500]
    return api


def _export(api: Api, **params) -> dict:
    params = {"dataSet": DS_A, "orgUnit": PARENT, "children": "true", **params}
    if "lastUpdated" not in params:
        params.setdefault("startDate", "2024-01-01")
        params.setdefault("endDate", "2024-12-31")
    response = api.get("dataValueSets", **params)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def _key(row: dict, header: dict | None = None) -> tuple:
    header = header or {}
    return (row["dataElement"], row.get("period", header.get("period")),
            row.get("orgUnit", header.get("orgUnit")), row["categoryOptionCombo"])


@pytest.mark.parametrize("version", OLD)
def test_before_243_rows_come_unordered_and_offset_is_ignored(make_server, version):
    api = _start(make_server, version)
    first = [_key(r) for r in _export(api)["dataValues"]]
    second = [_key(r) for r in _export(api)["dataValues"]]
    assert len(first) == 72 and set(first) == set(second)
    assert first != second  # no ORDER BY: a fresh order per request (72! orders)
    # `offset` does not exist: a "page" far into the result is just another `limit` rows
    page = [_key(r) for r in _export(api, limit=50, offset=60)["dataValues"]]
    assert len(page) == 50 and set(page) <= set(first)
    assert {_key(r) for r in _export(api, offset=60)["dataValues"]} == set(first)


def test_243_offset_pages_follow_period_created_element_order(make_server):
    api = _start(make_server, "2.43")
    everything = [_key(r) for r in _export(api)["dataValues"]]
    assert len(everything) == 72
    pages = []
    for offset in range(0, 72, 20):
        pages += _export(api, limit=20, offset=offset)["dataValues"]
    assert len(pages) == 72 and _export(api, limit=20, offset=80)["dataValues"] == []
    # ORDER BY period start, created, dataElement: ties (same element, other org unit) are the
    # only rows whose order is left open, so pages may swap them but never reorder the rest.
    order = [(row["period"], row["created"], row["dataElement"]) for row in pages]
    assert order == sorted(order)
    assert {k[:2] for k in map(_key, pages)} == {k[:2] for k in everything}


@pytest.mark.parametrize("version", ALL)
def test_timestamps_are_utc_with_offset(make_server, version):
    api = _start(make_server, version, timezone="America/Bogota")  # UTC-5, no DST
    local = api.server.state.now()
    row = _export(api)["dataValues"][0]
    for name in ("created", "lastUpdated"):
        assert row[name].endswith("+0000"), row[name]
        stamped = datetime.strptime(row[name][:19], "%Y-%m-%dT%H:%M:%S")
        assert abs(stamped - (local + timedelta(hours=5))) < timedelta(minutes=2)


@pytest.mark.parametrize("version,comment", [("2.36", "absent"), ("2.38", "null"),
                                             ("2.40", "null"), ("2.42", "null"),
                                             ("2.43", "absent")])
def test_null_fields_per_writer(make_server, version, comment):
    api = _start(make_server, version)
    row = _export(api)["dataValues"][0]
    if comment == "null":  # JsonDataValueSetWriter writes every field
        assert "comment" in row and row["comment"] is None
    else:
        assert "comment" not in row
    empty = api.get("dataValueSets", dataSet=DS_B, period="202401", orgUnit=OTHER).json()
    if version == "2.36":  # StreamingJsonDataValueSet opens the array with the first value
        assert "dataValues" not in empty and "completeDate" not in empty
    else:
        assert empty["dataValues"] == []
    if version in ("2.38", "2.40", "2.42"):
        assert "completeDate" in empty and empty["completeDate"] is None


@pytest.mark.parametrize("version", OLD)
def test_header_only_for_one_data_set_period_and_org_unit(make_server, version):
    api = _start(make_server, version)
    one = api.get("dataValueSets", dataSet=DS_A, period="202401", orgUnit=PARENT).json()
    assert (one["dataSet"], one["period"], one["orgUnit"]) == (DS_A, "202401", PARENT)
    assert len(one["dataValues"]) == 3 and all("period" in r for r in one["dataValues"])
    two = api.get("dataValueSets", dataSet=DS_A, period=["202401", "202402"],
                  orgUnit=PARENT).json()
    assert set(two) == {"dataValues"} and len(two["dataValues"]) == 6


def test_243_header_per_id_and_values_leave_it_out(make_server):
    api = _start(make_server, "2.43")
    two = api.get("dataValueSets", dataSet=DS_A, period=["202401", "202402"],
                  orgUnit=PARENT).json()
    assert two["dataSet"] == DS_A and two["orgUnit"] == PARENT and "period" not in two
    assert all("orgUnit" not in r and "period" in r for r in two["dataValues"])
    children = _export(api, period="202401", startDate=None, endDate=None)
    assert "orgUnit" not in children and children["period"] == "202401"
    assert {r["orgUnit"] for r in children["dataValues"]} == {PARENT, CHILD}
    assert all("period" not in r for r in children["dataValues"])


def test_243_0_needs_a_period_filter_besides_last_updated(make_server):
    api = _start(make_server, "2.43")
    response = api.get("dataValueSets", dataSet=DS_A, orgUnit=PARENT, lastUpdated="2020-01-01")
    assert response.status_code == 409 and response.json()["errorCode"] == "E2002"


def test_request_line_over_8000_characters_is_414_before_dhis2(make_server):
    api = Api(make_server(version="2.40", seed=[METADATA]))
    url = api.url("dataValueSets")
    path = url[len(api.server.base_url):]
    # path + query stay under 8000, the request line ("GET … HTTP/1.1") does not
    query = "dataSet=" + DS_A + "&orgUnit=" + PARENT + "&period=202401&x="
    query += "a" * (7995 - len(path) - 1 - len(query))
    response = requests.get(f"{url}?{query}", auth=AUTH, timeout=30)
    assert response.status_code == 414
    assert "json" not in response.headers["content-type"]
    assert requests.get(f"{url}?{query[:-100]}", auth=AUTH, timeout=30).status_code == 200


@pytest.mark.parametrize("version,quirk", [("2.40", True), ("2.43", False)])
def test_last_updated_filter_on_a_server_west_of_utc(make_server, version, quirk):
    api = Api(make_server(version=version, timezone="America/Bogota", seed=[METADATA]))
    state = api.server.state
    state.advance_clock(3600)
    mark = state.now()
    value = {"dataElement": DE_A[0], "period": "202403", "orgUnit": CHILD, "value": "5"}
    assert api.post("dataValueSets", {"dataSet": DS_A, "dataValues": [value]}).status_code == 200

    def changed(since: datetime) -> list:
        text = since.strftime("%Y-%m-%dT%H:%M:%S")
        return _export(api, lastUpdated=text, startDate=None, endDate=None,
                       **({"period": "202403"} if version == "2.43" else {}))["dataValues"]
    if quirk:  # 2.36–2.42 compare the local column with UTC text: the window starts 5 h late
        assert changed(mark) == []
        assert len(changed(mark - timedelta(hours=5))) == 1
    else:
        assert len(changed(mark)) == 1
        assert changed(mark + timedelta(minutes=5)) == []


def test_243_one_foreign_value_rejects_the_whole_data_set_group(make_server):
    api = Api(make_server(version="2.43", seed=[METADATA]))
    good = _a_values()[:3]
    payload = {"dataSet": DS_A, "dataValues": [*good, {**good[0], "dataElement": DE_B}]}
    response = api.post("dataValueSets", payload)
    assert response.status_code == 409
    summary = response.json()["response"]
    assert summary["status"] == "ERROR"
    assert summary["importCount"] == {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
    assert summary["conflicts"] == [{
        "objects": {"args": f"{DS_A}-[{DE_B}]"}, "errorCode": "E8020", "indexes": [0, 1, 2, 3],
        "value": f"Data set {DS_A} not usable with data element(s): `[{DE_B}]`"}]
    assert summary["rejectedIndexes"] == [0, 1, 2, 3]
    assert api.server.state.data_values() == []  # nothing of the group was written
    foreign_unit = api.post("dataValueSets", {"dataSet": DS_A, "dataValues": [
        *good, {**good[0], "orgUnit": OTHER}]}).json()["response"]
    assert [c["errorCode"] for c in foreign_unit["conflicts"]] == ["E8022"]
    assert api.server.state.data_values() == []


def test_243_without_data_set_the_elements_must_point_at_one_set(make_server):
    api = Api(make_server(version="2.43", seed=[METADATA]))
    mixed = {"dataValues": [{"dataElement": DE_A[0], "period": "202401", "orgUnit": CHILD,
                             "value": "1"},
                            {"dataElement": DE_B, "period": "202401", "orgUnit": CHILD,
                             "value": "2"}]}
    response = api.post("dataValueSets", mixed)
    assert response.status_code == 409
    conflict = response.json()["response"]["conflicts"][0]
    assert conflict["errorCode"] == "E8002" and conflict["indexes"] == [0, 1]
    assert DS_A in conflict["value"] and DS_B in conflict["value"]
    lone = {"dataValues": [{"dataElement": DE_LONE, "period": "202401", "orgUnit": CHILD,
                            "value": "1"}]}
    assert api.post("dataValueSets", lone).json()["response"]["conflicts"][0]["errorCode"] == "E8003"
    alone = {"dataValues": mixed["dataValues"][:1]}  # one set: detected, no dataSet needed
    assert api.post("dataValueSets", alone).json()["response"]["status"] == "SUCCESS"


def test_243_writes_count_as_updated_and_bad_values_warn_with_200(make_server):
    api = Api(make_server(version="2.43", seed=[METADATA]))
    values = _a_values()[:4]
    first = api.post("dataValueSets", {"dataSet": DS_A, "dataValues": values}).json()["response"]
    assert first["importCount"] == {"imported": 0, "updated": 4, "ignored": 0, "deleted": 0}
    assert "description" not in first
    create = api.post("dataValueSets", {"dataSet": DS_A, "dataValues": values},
                      {"importStrategy": "CREATE"}).json()["response"]
    assert create["importCount"]["updated"] == 4  # CREATE vs UPDATE is not honoured
    bad = [values[0], {**values[1], "value": "many"}]
    response = api.post("dataValueSets", {"dataSet": DS_A, "dataValues": bad})
    assert response.status_code == 200 and response.json()["status"] == "WARNING"
    summary = response.json()["response"]
    assert summary["importCount"] == {"imported": 0, "updated": 1, "ignored": 1, "deleted": 0}
    assert summary["conflicts"][0]["errorCode"] == "E8122"
    assert "object" not in summary["conflicts"][0] and "property" not in summary["conflicts"][0]
    assert summary["rejectedIndexes"] == [1]
    gone = api.post("dataValueSets", {"dataSet": DS_A, "dataValues": values},
                    {"importStrategy": "DELETE"}).json()["response"]
    assert gone["importCount"] == {"imported": 0, "updated": 0, "ignored": 0, "deleted": 4}
    assert api.server.state.data_values() == []


@pytest.mark.parametrize("version,unchanged", [("2.36", "updated"), ("2.38", "ignored"),
                                               ("2.39", "ignored"), ("2.41", "ignored"),
                                               ("2.42", "ignored")])
def test_unchanged_values_are_ignored_from_the_2_38_6_fix_on(make_server, version, unchanged):
    api = _start(make_server, version)
    before = {(v["dataElement"], v["period"], v["orgUnit"]): v["lastUpdated"]
              for v in api.server.state.data_values()}
    api.server.state.advance_clock(5)
    again = api.post("dataValueSets", {"dataSet": DS_A, "dataValues": _a_values()[:5]}).json()
    summary = again.get("response", again)
    assert summary["importCount"][unchanged] == 5 and not summary["conflicts"]
    after = {(v["dataElement"], v["period"], v["orgUnit"]): v["lastUpdated"]
             for v in api.server.state.data_values()}
    assert (after == before) == (unchanged == "ignored")  # an ignored value is not rewritten


@pytest.mark.parametrize("version,present", [("2.38", False), ("2.39", True), ("2.40", True),
                                             ("2.42", True)])
def test_rejected_indexes_from_2_39_2_and_2_40_1(make_server, version, present):
    api = _start(make_server, version)
    response = api.post("dataValueSets", {"dataValues": [
        {"dataElement": "deMissing01", "period": "202401", "orgUnit": CHILD, "value": "1"}]})
    summary = response.json()["response"]
    assert summary["conflicts"][0]["errorCode"] == "E7610"
    assert ("rejectedIndexes" in summary) is present
