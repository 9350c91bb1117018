"""/api/completeDataSetRegistrations as DHIS2's source has it (DefaultCompleteDataSetRegistration-
ExchangeService, JdbcCompleteDataSetRegistrationExchangeStore, CompleteDataSetRegistrationController),
over real HTTP."""

from __future__ import annotations

import time

import pytest
import requests

from dhis_sync_pipeline.emulator import EmulatorServer

AUTH = ("admin", "district")
ROOT, CHILD_A, CHILD_B = "ouRootUnit1", "ouChildAaa1", "ouChildBbb1"
GROUP = "ougGroupAa1"
DS, OTHER_DS = "dsMonthly01", "dsOther0001"
DEFAULT_AOC = "HllvX50cXC0"

METADATA = {
    "organisationUnits": [
        {"id": ROOT, "name": "Root", "shortName": "Root", "openingDate": "2000-01-01"},
        {"id": CHILD_A, "name": "Child A", "shortName": "Child A", "openingDate": "2000-01-01",
         "parent": {"id": ROOT}},
        {"id": CHILD_B, "name": "Child B", "shortName": "Child B", "openingDate": "2000-01-01",
         "parent": {"id": ROOT}},
    ],
    "organisationUnitGroups": [{"id": GROUP, "name": "Group A", "shortName": "Group A",
                                "organisationUnits": [{"id": CHILD_A}]}],
    "dataSets": [
        {"id": DS, "name": "Monthly", "shortName": "Monthly", "periodType": "Monthly",
         "categoryCombo": {"id": "bjDvmb4bfuf"},
         "organisationUnits": [{"id": CHILD_A}, {"id": CHILD_B}]},
        {"id": OTHER_DS, "name": "Other", "shortName": "Other", "periodType": "Monthly",
         "categoryCombo": {"id": "bjDvmb4bfuf"}, "organisationUnits": [{"id": CHILD_A}]},
    ],
}


def reg(ou: str = CHILD_A, period: str = "202401", **extra) -> dict:
    return {"dataSet": DS, "period": period, "organisationUnit": ou,
            "attributeOptionCombo": DEFAULT_AOC, **extra}


class Client:
    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.url = f"{server.base_url}/api/completeDataSetRegistrations"

    def get(self, **params) -> requests.Response:
        return requests.get(self.url, params=params, auth=AUTH, timeout=30)

    def rows(self, **params) -> list[dict]:
        response = self.get(**params)
        assert response.status_code == 200, response.text
        return response.json().get("completeDataSetRegistrations", [])

    def post(self, registrations: list[dict] | None = None, body=None, **params):
        payload = body if body is not None else {"completeDataSetRegistrations": registrations}
        return requests.post(self.url, json=payload, params=params, auth=AUTH, timeout=30)

    def summary(self, registrations: list[dict], **params) -> dict:
        body = self.post(registrations, **params).json()
        return body.get("response", body)


@pytest.fixture
def make(make_server):
    def start(version: str = "2.40", timezone: str = "UTC") -> Client:
        server = make_server(version=version, timezone=timezone)
        report = server.state.import_metadata(METADATA)
        assert report["status"] == "OK", report
        return Client(server)
    return start


@pytest.fixture
def api(make) -> Client:
    return make()


# ----------------------------------------------------------------------------- validate()
@pytest.mark.parametrize(("params", "code", "message"), [
    ({"dataSet": "dsUnknown01", "period": "202401", "orgUnit": CHILD_A}, "E2013",
     "At least one data set must be specified"),
    ({"dataSet": DS, "orgUnit": CHILD_A}, "E2002",
     "At least one period, start/end dates, last updated or last updated duration must be "
     "specified"),
    ({"dataSet": DS, "orgUnit": CHILD_A, "startDate": "2024-01-01"}, "E2002", None),
    ({"dataSet": DS, "orgUnit": CHILD_A, "period": "notAPeriod"}, "E2002", None),
    ({"dataSet": DS, "orgUnit": CHILD_A, "startDate": "2024-02-01", "endDate": "2024-01-01"},
     "E2004", "Start date must be before end date"),
    ({"dataSet": DS, "orgUnit": CHILD_A, "createdDuration": "2weeks"}, "E2005",
     "Duration is not valid: `{0}`"),
    ({"dataSet": DS, "period": "202401"}, "E2006",
     "At least one organisation unit or organisation unit group must be specified"),
    ({"dataSet": DS, "period": "202401", "orgUnit": "ouUnknown01"}, "E2006", None),
    ({"dataSet": DS, "period": "202401", "orgUnit": ROOT, "orgUnitGroup": GROUP,
      "children": "true"}, "E2007",
     "Organisation unit children cannot be included for organisation unit groups"),
    ({"dataSet": DS, "period": "202401", "children": "true"}, "E2008",
     "At least one organisation unit must be specified when children are included"),
    ({"dataSet": DS, "period": "202401", "orgUnit": CHILD_A, "limit": "-1"}, "E2009",
     "Limit cannot be less than zero: `{0}`"),
    # Every failing check overwrites the previous one: the last one is reported.
    ({"dataSet": "dsUnknown01"}, "E2006", None),
    ({"dataSet": DS, "period": "202401", "orgUnitGroup": GROUP, "children": "true"}, "E2008",
     None),
])
def test_validation_codes_and_messages(api, params, code, message):
    response = api.get(**params)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["errorCode"] == code and body["status"] == "ERROR"
    if message:
        assert body["message"] == message


def test_lastupdated_is_not_a_time_selection(api):
    api.post([reg()])
    response = api.get(dataSet=DS, orgUnit=CHILD_A, lastUpdated="2000-01-01")
    assert response.status_code == 409 and response.json()["errorCode"] == "E2002"


@pytest.mark.parametrize(("version", "status", "code"), [("2.36", 400, None), ("2.40", 400, None),
                                                         ("2.41", 409, "E2013"),
                                                         ("2.43", 409, "E2013")])
def test_missing_dataset_parameter_per_version(make, version, status, code):
    response = make(version).get(period="202401", orgUnit=CHILD_A)
    assert response.status_code == status
    assert response.json().get("errorCode") == code


def test_bad_parameter_values_are_400(make):
    api = make("2.40")
    assert api.get(dataSet=DS, orgUnit=CHILD_A, created="yesterday").status_code == 400
    assert api.get(dataSet=DS, orgUnit=CHILD_A, period="202401", limit="x").status_code == 400
    assert api.get(dataSet=DS, orgUnit=CHILD_A, period="202401", children="maybe").status_code == 400
    # 2.43's Period.of refuses an invalid period; up to 2.42 it is dropped (then E2002).
    bad_period = make("2.43").get(dataSet=DS, orgUnit=CHILD_A, period="2024X1")
    assert bad_period.status_code == 400 and "Invalid Period `2024X1`" in bad_period.json()["message"]


# ----------------------------------------------------------------------------- export rows
def test_rows_have_the_writers_fields_and_a_date_only(api):
    assert api.summary([reg(date="2024-02-05T14:30:00.000", storedBy="clerk")])["status"] == "SUCCESS"
    rows = api.rows(dataSet=DS, period="202401", orgUnit=CHILD_A)
    assert rows == [{"period": "202401", "dataSet": DS, "organisationUnit": CHILD_A,
                     "attributeOptionCombo": DEFAULT_AOC, "date": "2024-02-05",
                     "storedBy": "clerk", "completed": True}]
    assert list(rows[0]) == ["period", "dataSet", "organisationUnit", "attributeOptionCombo",
                             "date", "storedBy", "completed"]


def test_no_rows_is_an_empty_object(api):
    response = api.get(dataSet=DS, period="202401", orgUnit=CHILD_A)
    assert response.status_code == 200 and response.json() == {}


def test_selection_by_children_group_dates_limit_and_id_scheme(api):
    api.post([reg(CHILD_A, "202401"), reg(CHILD_B, "202401"), reg(CHILD_A, "202402"),
              {**reg(CHILD_A, "202401"), "dataSet": OTHER_DS}])
    units = {r["organisationUnit"] for r in api.rows(dataSet=DS, period="202401", orgUnit=ROOT,
                                                     children="true")}
    assert units == {CHILD_A, CHILD_B}
    assert api.rows(dataSet=DS, period="202401", orgUnit=ROOT) == []  # no children: root only
    grouped = api.rows(dataSet=DS, period="202401", orgUnitGroup=GROUP)
    assert [r["organisationUnit"] for r in grouped] == [CHILD_A]
    # Periods contained in [startDate, endDate]; a `period` parameter wins over the dates.
    dated = api.rows(dataSet=DS, startDate="2024-02-01", endDate="2024-02-29", orgUnit=CHILD_A)
    assert [r["period"] for r in dated] == ["202402"]
    assert [r["period"] for r in api.rows(dataSet=DS, period="202401", startDate="2024-02-01",
                                          endDate="2024-02-29", orgUnit=CHILD_A)] == ["202401"]
    both = api.rows(dataSet=f"{DS},{OTHER_DS}", period="202401", orgUnit=CHILD_A)
    assert sorted(r["dataSet"] for r in both) == sorted([DS, OTHER_DS])
    assert len(api.rows(dataSet=DS, period="202401,202402", orgUnit=ROOT, children="true",
                        limit="2")) == 2
    by_name = api.rows(dataSet=DS, period="202401", orgUnit=CHILD_A, idScheme="NAME")
    assert by_name[0]["dataSet"] == "Monthly" and by_name[0]["organisationUnit"] == "Child A"


# ----------------------------------------------------------------------------- created
def test_created_finds_a_registration_completed_today_not_one_completed_before(api):
    today = api.server.state.now().date()
    api.post([reg(CHILD_A, "202401", date="2020-03-01"), reg(CHILD_B, "202401")])  # B: now
    rows = api.rows(dataSet=DS, orgUnit=ROOT, children="true", created=today.isoformat())
    assert [r["organisationUnit"] for r in rows] == [CHILD_B]
    assert rows[0]["date"] == today.isoformat()
    assert len(api.rows(dataSet=DS, orgUnit=ROOT, children="true", created="2020-02-29")) == 2
    assert [r["organisationUnit"] for r in api.rows(dataSet=DS, orgUnit=ROOT, children="true",
                                                    createdDuration="1d")] == [CHILD_B]


def test_created_is_compared_as_utc_text_against_local_dates(make):
    """createCreatedClause writes `created` in UTC; PostgreSQL drops the offset against the
    zone-less `date` column, so on a server west of UTC the window starts |offset| late."""
    api = make("2.42", timezone="America/Bogota")
    api.post([reg(CHILD_A, "202401", date="2024-05-01T03:00:00"),
              reg(CHILD_B, "202401", date="2024-05-01T06:00:00")])
    # Local midnight is 05:00 UTC: the 03:00 completion is missed, the 06:00 one found.
    rows = api.rows(dataSet=DS, orgUnit=ROOT, children="true", created="2024-05-01")
    assert [r["organisationUnit"] for r in rows] == [CHILD_B]
    east = make("2.42", timezone="Asia/Kolkata")
    east.post([reg(CHILD_A, "202401", date="2024-04-30T20:00:00")])
    # East of UTC it over-fetches: local midnight is 18:30 the day before in UTC.
    assert len(east.rows(dataSet=DS, orgUnit=ROOT, children="true", created="2024-05-01")) == 1


# ----------------------------------------------------------------------------- import
def test_completed_false_is_stored_and_exported(api):
    api.post([reg()])
    summary = api.summary([reg(completed=False)])
    assert summary["importCount"] == {"imported": 0, "updated": 1, "ignored": 0, "deleted": 0}
    rows = api.rows(dataSet=DS, period="202401", orgUnit=CHILD_A)
    assert [r["completed"] for r in rows] == [False]


def test_conflicts_and_the_organisation_unit_property(api):
    summary = api.summary([reg(), {**reg(), "dataSet": "dsUnknown01"},
                           {"dataSet": DS, "period": "202401", "orgUnit": CHILD_B},
                           reg(CHILD_B, "2024-13")])
    assert summary["importCount"] == {"imported": 1, "updated": 0, "ignored": 3, "deleted": 0}
    assert summary["status"] == "SUCCESS" and summary["description"] == "Import process complete."
    assert summary["conflicts"] == [
        {"object": "dsUnknown01", "value": "Data set not found or not accessible"},
        {"value": "Organisation unit not found or not accessible"},  # `orgUnit` is ignored
        {"object": "2024-13", "value": "Period not valid"},
    ]
    assert api.rows(dataSet=DS, period="202401", orgUnit=CHILD_B) == []


def test_nothing_applied_is_an_error(make):
    for version, status in (("2.36", 200), ("2.40", 409), ("2.42", 409), ("2.43", 409)):
        api = make(version)
        response = api.post([{**reg(), "dataSet": "dsUnknown01"}])
        assert response.status_code == status
        body = response.json()
        summary = body.get("response", body)
        assert summary["status"] == "ERROR"
        assert summary["importCount"]["ignored"] == 1


def test_response_shapes_2_36_and_2_42(make):
    old = make("2.36").post([reg()])
    assert old.status_code == 200
    assert old.json()["responseType"] == "ImportSummary" and "httpStatus" not in old.json()
    assert "rejectedIndexes" not in old.json()
    new = make("2.42").post([reg()])
    assert new.status_code == 200
    body = new.json()
    assert body["httpStatusCode"] == 200 and body["status"] == "OK"
    assert body["message"] == "Import was successful."
    assert body["response"]["responseType"] == "ImportSummary"
    assert body["response"]["importCount"]["imported"] == 1


def test_unreadable_body_and_bad_strategy(api):
    empty = requests.post(api.url, data=b"", headers={"Content-Type": "application/json"},
                          auth=AUTH, timeout=30)
    assert empty.status_code == 409
    assert empty.json()["response"]["description"].startswith("The import process failed:")
    bad_date = api.post([reg(date="the fifth")])
    assert bad_date.json()["response"]["description"] == 'The import process failed: Invalid format: "the fifth"'
    assert api.post([reg()], importStrategy="SOMETIMES").status_code == 400


def test_strategies_and_dry_run(api):
    assert api.summary([reg()], importStrategy="UPDATE")["importCount"]["ignored"] == 1
    assert api.summary([reg()], dryRun="true")["importCount"]["imported"] == 1
    assert api.rows(dataSet=DS, period="202401", orgUnit=CHILD_A) == []
    assert api.summary([reg()], importStrategy="CREATE")["importCount"]["imported"] == 1
    assert api.summary([reg()], importStrategy="CREATE")["importCount"]["ignored"] == 1


def test_import_strategy_delete_removes_the_registration(api):
    api.post([reg(CHILD_A), reg(CHILD_B)])
    summary = api.summary([reg(CHILD_A), reg(CHILD_A, "202412")], importStrategy="DELETE")
    assert summary["importCount"] == {"imported": 0, "updated": 0, "ignored": 1, "deleted": 1}
    rows = api.rows(dataSet=DS, period="202401", orgUnit=ROOT, children="true")
    assert [r["organisationUnit"] for r in rows] == [CHILD_B]


def test_delete_method_uncompletes(api):
    api.post([reg(CHILD_A), reg(CHILD_B)])
    response = requests.delete(api.url, params={"ds": DS, "pe": "202401", "ou": ROOT,
                                                "multiOu": "true"}, auth=AUTH, timeout=30)
    assert response.status_code == 204
    assert api.rows(dataSet=DS, period="202401", orgUnit=ROOT, children="true") == []
    unknown = requests.delete(api.url, params={"ds": "dsUnknown01", "pe": "202401", "ou": ROOT},
                              auth=AUTH, timeout=30)
    assert unknown.status_code == 409
    assert unknown.json()["message"] == "Illegal data set identifier in this list: [dsUnknown01]"


@pytest.mark.parametrize("version", ["2.36", "2.42"])
def test_async_import_runs_as_a_job(make, version):
    api = make(version)
    response = api.post([reg(CHILD_A), reg(CHILD_B)], **{"async": "true"})
    assert response.status_code == 200
    job = response.json()["response"]
    assert job["jobType"] == "COMPLETE_DATA_SET_REGISTRATION_IMPORT"
    base = api.server.base_url
    deadline = time.monotonic() + 20
    summary = None
    while time.monotonic() < deadline:
        notes = requests.get(f"{base}{job['relativeNotifierEndpoint']}", auth=AUTH,
                             timeout=30).json()
        if notes and notes[0]["completed"]:
            summary = requests.get(
                f"{base}/api/system/taskSummaries/COMPLETE_DATA_SET_REGISTRATION_IMPORT/"
                f"{job['id']}", auth=AUTH, timeout=30).json()
            break
        time.sleep(0.05)
    assert summary is not None, "the job never completed"
    assert summary["responseType"] == "ImportSummary" and summary["status"] == "SUCCESS"
    assert summary["importCount"]["imported"] == 2
    assert len(api.rows(dataSet=DS, period="202401", orgUnit=ROOT, children="true")) == 2
