"""/api/dataValueSets and completeDataSetRegistrations: selection, conflicts, strategies."""

from __future__ import annotations

import time

import pytest

from .conftest import Api

DS_MONTHLY, DS_YEARLY = "VEM58nY22sO", "qNtxTrp56wV"
BO, SIERRA_LEONE, BADJIA = "O6uvpzGd5pu", "ImspTQPwCqd", "YuQRtpLP10I"
DE_INT = "BjDrgVrkBI3"  # monthly data set, category combo BwnnrV1AkNj
COC_0_4 = "oPcWGgS2Liz"
DE_DEFAULT = "tpz77FcntKx"  # yearly data set, default combo


@pytest.fixture
def sl(sierra_leone) -> Api:
    return Api(sierra_leone)


def _values(response) -> list[dict]:
    assert response.status_code == 200, response.text[:500]
    return response.json()["dataValues"]


def test_export_requires_data_set_time_and_org_unit(sl: Api):
    cases = [({"period": "2018", "orgUnit": BO}, "E2001"),
             ({"dataSet": DS_YEARLY, "orgUnit": BO}, "E2002"),
             ({"dataSet": DS_YEARLY, "period": "2018"}, "E2006"),
             ({"dataSet": DS_YEARLY, "period": "2018", "startDate": "2018-01-01",
               "endDate": "2018-12-31", "orgUnit": BO}, "E2003"),
             ({"dataSet": DS_YEARLY, "lastUpdatedDuration": "ten", "orgUnit": BO}, "E2005")]
    for params, code in cases:
        response = sl.get("dataValueSets", **params)
        assert response.status_code == 409, params
        assert response.json()["errorCode"] == code


def test_export_by_period_dates_children_and_data_set_membership(sl: Api):
    yearly = _values(sl.get("dataValueSets", dataSet=DS_YEARLY, period="2018", orgUnit=BO))
    assert yearly and {v["period"] for v in yearly} == {"2018"}
    assert all(v["orgUnit"] == BO for v in yearly)
    both = _values(sl.get("dataValueSets", dataSet=[DS_YEARLY, DS_MONTHLY],
                          period=["2018", "201912", "201911"], orgUnit=BO))
    assert len(both) == 233  # 231 bulk + 2 single
    # Parent org unit alone has no values; children=true reaches Bo.
    assert _values(sl.get("dataValueSets", dataSet=DS_MONTHLY, period="201912",
                          orgUnit=SIERRA_LEONE)) == []
    with_children = _values(sl.get("dataValueSets", dataSet=DS_MONTHLY, period="201912",
                                   orgUnit=SIERRA_LEONE, children="true"))
    assert with_children and {v["orgUnit"] for v in with_children} == {BO}
    # Dates select periods contained in the window: 2019 monthly values, not the 2018 yearly ones.
    by_dates = _values(sl.get("dataValueSets", dataSet=[DS_YEARLY, DS_MONTHLY],
                              startDate="2019-01-01", endDate="2019-12-31", orgUnit=BO))
    assert {v["period"] for v in by_dates} == {"201911", "201912"}
    assert _values(sl.get("dataValueSets", dataSet=DS_YEARLY, startDate="2018-06-01",
                          endDate="2018-12-31", orgUnit=BO)) == []


def test_value_rows_have_dhis2_shape(sl: Api):
    rows = _values(sl.get("dataValueSets", dataSet=DS_MONTHLY, period="201912", orgUnit=BO))
    commented = next(v for v in rows if v.get("comment") == "Important!")
    assert commented["followup"] is True and commented["value"] == "true"
    plain = next(v for v in rows if v["comment"] is None)  # 2.40 writes explicit nulls
    assert set(plain) == {"dataElement", "period", "orgUnit", "categoryOptionCombo",
                          "attributeOptionCombo", "value", "storedBy", "created", "lastUpdated",
                          "comment", "followup"}
    kept = next(v for v in rows if v["dataElement"] == "UMD2TSAxtFr"
                and v["categoryOptionCombo"] == "gjWSzL7cfIe")
    # 2.40 keeps the payload's created and lastUpdated (to the second, as its batch writer does)
    assert kept["created"] == "2019-09-02T15:40:24.000+0000"
    assert kept["lastUpdated"] == "2019-09-02T15:44:34.000+0000"
    single = _values(sl.get("dataValueSets", dataSet=DS_MONTHLY, period="201911", orgUnit=BO))
    fresh = next(v for v in single if v["dataElement"] == DE_INT)  # posted without timestamps
    assert fresh["lastUpdated"] > "2020" and fresh["lastUpdated"].endswith("+0000")


def test_last_updated_selection(sl: Api, sierra_leone):
    state = sierra_leone.state
    state.advance_clock(600)
    mark = state.now_str()
    assert _values(sl.get("dataValueSets", dataSet=DS_MONTHLY, lastUpdated=mark, orgUnit=BO)) == []
    state.advance_clock(1)
    sl.post("dataValueSets", {"dataValues": [{"dataElement": DE_INT, "period": "201912",
                                              "orgUnit": BO, "categoryOptionCombo": COC_0_4,
                                              "value": "77"}]})
    changed = _values(sl.get("dataValueSets", dataSet=DS_MONTHLY, lastUpdated=mark, orgUnit=BO))
    assert [(v["dataElement"], v["value"]) for v in changed] == [(DE_INT, "77")]
    recent = _values(sl.get("dataValueSets", dataSet=DS_MONTHLY, lastUpdatedDuration="1m",
                            orgUnit=BO))
    assert len(recent) == 1


def test_import_conflicts_carry_codes_objects_and_indexes(sl: Api):
    good = {"dataElement": DE_DEFAULT, "period": "2018", "orgUnit": BO, "value": "5"}
    payload = {"dataValues": [
        good,
        {**good, "dataElement": "deMissing01"},
        {**good, "period": "2018X"},
        {**good, "orgUnit": "ouMissing01"},
        {**good, "categoryOptionCombo": "cocMissing1"},
        {**good, "attributeOptionCombo": "aocMissing1"},
        {**good, "dataElement": "deMissing01", "value": "6"},
        {**good, "categoryOptionCombo": COC_0_4},
        {**good, "value": "-3"},
    ]}
    response = sl.post("dataValueSets", payload)
    assert response.status_code == 409  # WARNING is a 409 in 2.38–2.42
    summary = response.json()["response"]
    assert summary["status"] == "WARNING"
    assert summary["importCount"] == {"imported": 0, "updated": 1, "ignored": 8, "deleted": 0}
    by_code = {c["errorCode"]: c for c in summary["conflicts"]}
    assert set(by_code) == {"E7610", "E7611", "E7612", "E7613", "E7615", "E7634", "E7619"}
    assert by_code["E7610"] == {"object": "deMissing01", "objects": {"dataElement": "deMissing01"},
                                "value": "Data element not found or not accessible: `deMissing01`",
                                "errorCode": "E7610", "property": "dataElement", "indexes": [1, 6]}
    assert by_code["E7612"]["indexes"] == [3] and by_code["E7612"]["property"] == "orgUnit"
    assert summary["rejectedIndexes"] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_strategies_deletes_and_include_deleted(make_server, load):
    api = Api(make_server(version="2.40"))
    api.post("metadata", load("sierra_leone_ta/1_setup_metadata.json"))
    api.post("metadata", load("sierra_leone_ta/2_aggregate_metadata.json"))
    value = {"dataElement": DE_DEFAULT, "period": "2018", "orgUnit": BO, "value": "5"}
    first = api.post("dataValueSets", {"dataValues": [value]}).json()["response"]
    assert first["importCount"]["imported"] == 1
    same = api.post("dataValueSets", {"dataValues": [value]}).json()["response"]
    assert same["importCount"]["ignored"] == 1 and not same["conflicts"]  # unchanged (2.40.3)
    changed = api.post("dataValueSets", {"dataValues": [{**value, "value": "6"}]}).json()
    assert changed["response"]["importCount"]["updated"] == 1
    api.post("dataValueSets", {"dataValues": [value]})
    create_only = api.post("dataValueSets", {"dataValues": [value]},
                           {"importStrategy": "CREATE"}).json()["response"]
    assert create_only["importCount"]["ignored"] == 1
    assert create_only["rejectedIndexes"] == [0] and not create_only["conflicts"]
    dry = api.post("dataValueSets", {"dataValues": [{**value, "value": "9"}]},
                   {"dryRun": "true"}).json()["response"]
    assert dry["importCount"]["updated"] == 1
    params = {"dataSet": DS_YEARLY, "period": "2018", "orgUnit": BO}
    assert _values(api.get("dataValueSets", **params))[0]["value"] == "5"
    no_value = {k: v for k, v in value.items() if k != "value"}
    deleted = api.post("dataValueSets", {"dataValues": [no_value]}).json()["response"]
    assert deleted["importCount"]["deleted"] == 1
    assert _values(api.get("dataValueSets", **params)) == []
    tombstones = _values(api.get("dataValueSets", includeDeleted="true", **params))
    # the tombstone is the posted row (no value), as DHIS2's batch update writes it
    assert tombstones[0]["deleted"] is True and tombstones[0]["value"] is None
    again = api.post("dataValueSets", {"dataValues": [no_value]}).json()["response"]
    assert again["importCount"]["ignored"] == 1
    revived = api.post("dataValueSets", {"dataValues": [value]}).json()["response"]
    assert revived["importCount"]["imported"] == 1
    gone = api.post("dataValueSets", {"dataValues": [value]},
                    {"importStrategy": "DELETE"}).json()["response"]
    assert gone["importCount"]["deleted"] == 1


def test_fixture_value_without_cocs_defaults_and_no_value_deletes(make_server, load):
    api = Api(make_server(version="2.40"))
    metadata = {
        "organisationUnits": [{"id": "DiszpKrYNg8", "name": "Ngelehun", "shortName": "Ngelehun",
                               "openingDate": "1970-01-01"}],
        "dataElements": [{"id": "f7n9E0hX8qk", "name": "DE J", "shortName": "DE J",
                          "valueType": "NUMBER", "aggregationType": "SUM",
                          "domainType": "AGGREGATE"}],
        "dataSets": [{"id": "dsJJJJJJJJJ", "name": "J", "shortName": "J", "periodType": "Monthly",
                      "dataSetElements": [{"dataElement": {"id": "f7n9E0hX8qk"}}]}]}
    assert api.post("metadata", metadata).status_code == 200
    imported = api.post("dataValueSets", load("data_values/dataValueSetJ.json")).json()["response"]
    assert imported["importCount"]["imported"] == 1
    row = _values(api.get("dataValueSets", dataSet="dsJJJJJJJJJ", period="201201",
                          orgUnit="DiszpKrYNg8"))[0]
    assert row["categoryOptionCombo"] == row["attributeOptionCombo"] == "HllvX50cXC0"
    deleted = api.post("dataValueSets", load("data_values/dataValueSetJDeleteNoValue.json"))
    assert deleted.json()["response"]["importCount"]["deleted"] == 1


def test_csv_import_with_header(make_server, fixtures_dir):
    api = Api(make_server(version="2.40"))
    api.post("metadata", {
        "organisationUnits": [{"id": uid, "name": uid, "shortName": uid, "openingDate": "2000-01-01"}
                              for uid in ("DiszpKrYNg8", "BdfsJfj87js")],
        "dataElements": [{"id": uid, "name": uid, "shortName": uid, "valueType": "NUMBER",
                          "aggregationType": "SUM", "domainType": "AGGREGATE"}
                         for uid in ("f7n9E0hX8qk", "Ix2HsbDMLea", "eY5ehpbEsB7")]})
    body = (fixtures_dir / "data_values/dataValueSetB.csv").read_bytes()
    response = api.post("dataValueSets", body, headers={"Content-Type": "application/csv"})
    assert response.status_code == 200, response.text
    assert response.json()["response"]["importCount"]["imported"] == 12


@pytest.mark.parametrize("version,warning_status", [("2.38", 409), ("2.42", 409), ("2.43", 200)])
def test_warning_status_code_per_version(make_server, load, version, warning_status):
    api = Api(make_server(version=version, seed=[load("sierra_leone_ta/1_setup_metadata.json"),
                                                 load("sierra_leone_ta/2_aggregate_metadata.json")]))
    good = {"dataElement": DE_DEFAULT, "period": "2018", "orgUnit": BO, "value": "5"}
    assert api.post("dataValueSets", {"dataValues": [good]}).status_code == 200
    # a value-level problem (a value of the wrong type) is a WARNING in every version
    warning = api.post("dataValueSets", {"dataValues": [good, {**good, "period": "2017",
                                                               "value": "-3"}]})
    assert warning.status_code == warning_status
    assert warning.json()["status"] == "WARNING" and warning.json()["response"]["status"] == "WARNING"
    error = api.post("dataValueSets", {"dataSet": "dsMissing01", "dataValues": [good]})
    assert error.status_code == 409 and error.json()["response"]["status"] == "ERROR"


def test_version_236_summary_is_plain_with_reduced_conflicts(make_server, load):
    api = Api(make_server(version="2.36", seed=[load("sierra_leone_ta/1_setup_metadata.json"),
                                                load("sierra_leone_ta/2_aggregate_metadata.json")]))
    response = api.post("dataValueSets", {"dataValues": [
        {"dataElement": "deMissing01", "period": "2018", "orgUnit": BO, "value": "1"}]})
    assert response.status_code == 200
    body = response.json()
    assert body["responseType"] == "ImportSummary" and body["status"] == "WARNING"
    assert body["conflicts"] == [{"object": "deMissing01",
                                  "value": "Data element not found or not accessible: `deMissing01`"}]


@pytest.mark.parametrize("version,name_prefix", [("2.40", "dataValueImport"),
                                                 ("2.41", "DATAVALUE_IMPORT (")])
def test_async_data_value_import(make_server, load, version, name_prefix):
    server = make_server(version=version, seed=[load("sierra_leone_ta/1_setup_metadata.json"),
                                                load("sierra_leone_ta/2_aggregate_metadata.json")])
    api = Api(server)
    started = api.post("dataValueSets", load("sierra_leone_ta/3_data_values_bulk.json"),
                       {"async": "true"}).json()
    job = started["response"]
    assert job["jobType"] == "DATAVALUE_IMPORT" and job["name"].startswith(name_prefix)
    assert started["message"] == f"Initiated {job['name']}"
    deadline = time.monotonic() + 10
    summary = b""
    while time.monotonic() < deadline:
        notes = api.get(job["relativeNotifierEndpoint"].removeprefix("/api/")).json()
        if notes and notes[0]["completed"]:
            summary = api.get(f"system/taskSummaries/DATAVALUE_IMPORT/{job['id']}").json()
            break
        time.sleep(0.05)
    assert summary["responseType"] == "ImportSummary"
    assert summary["importCount"]["imported"] == 231


def test_complete_registrations(sl: Api):
    found = sl.get("completeDataSetRegistrations", dataSet=DS_MONTHLY, period="201911",
                   orgUnit=SIERRA_LEONE, children="true").json()["completeDataSetRegistrations"]
    assert [(r["dataSet"], r["period"], r["organisationUnit"]) for r in found] == [
        (DS_MONTHLY, "201911", BO)]
    response = sl.post("completeDataSetRegistrations", {"completeDataSetRegistrations": [
        {"dataSet": DS_MONTHLY, "period": "201912", "organisationUnit": BO,
         "attributeOptionCombo": "HllvX50cXC0", "completed": True, "date": "2020-01-05",
         "storedBy": "admin"},
        {"dataSet": "dsMissing01", "period": "201912", "organisationUnit": BO}]})
    summary = response.json()["response"]
    assert summary["importCount"]["imported"] == 1 and summary["importCount"]["ignored"] == 1
    # DefaultCompleteDataSetRegistrationExchangeService: plain {object, value} conflicts
    assert summary["conflicts"] == [{"object": "dsMissing01",
                                     "value": "Data set not found or not accessible"}]
    dates = sl.get("completeDataSetRegistrations", dataSet=DS_MONTHLY, startDate="2019-12-01",
                   endDate="2019-12-31", orgUnit=BO).json()["completeDataSetRegistrations"]
    assert [r["date"] for r in dates] == ["2020-01-05"]  # exported as a date only
    # 2.40: `dataSet` is a required request parameter (400 before validation)
    assert sl.get("completeDataSetRegistrations", period="201912", orgUnit=BO).status_code == 400


def test_large_import_and_export_are_fast(make_server):
    from dhis_sync_pipeline.emulator.generator import generate_data_values, generate_metadata
    metadata = generate_metadata(org_units=300, levels=3, data_elements=60, data_sets=2, seed=3)
    server = make_server(version="2.40", seed=[metadata])
    api = Api(server)
    values = list(generate_data_values(metadata, 50_000, seed=3))
    started = time.monotonic()
    response = api.post("dataValueSets", {"dataValues": values})
    assert response.json()["response"]["importCount"]["imported"] == 50_000
    root = metadata["organisationUnits"][0]["id"]
    rows = _values(api.get("dataValueSets", dataSet=[d["id"] for d in metadata["dataSets"]],
                           startDate="2024-01-01", endDate="2024-12-31", orgUnit=root,
                           children="true"))
    assert len(rows) == 50_000
    assert time.monotonic() - started < 15
