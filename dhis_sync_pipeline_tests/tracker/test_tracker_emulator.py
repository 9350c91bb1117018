"""The emulated /api/tracker, version by version: paging shapes, parameters, validation codes, jobs."""

from __future__ import annotations

import time

import pytest
import requests

from dhis_sync_pipeline.emulator.tracker_generator import seed_tracker, tracker_programs
from dhis_sync_pipeline.emulator.tracker_store import snapshot
from dhis_sync_pipeline_tests.tracker.helpers import tracker_metadata

AUTH = ("admin", "district")


@pytest.fixture(scope="module")
def metadata():
    return tracker_metadata()


def server(start_emulator, metadata, version: str):
    srv = start_emulator(version=version)
    assert srv.state.import_metadata(metadata)["status"] == "OK"
    seed_tracker(srv.state, metadata, tracked_entities=12, events_per_enrollment=1, single_events=5, relationships=2)
    return srv


def get(srv, path: str, **params):
    return requests.get(f"{srv.base_url}/api/tracker/{path}", params=params, auth=AUTH, timeout=10)


def post(srv, body: dict, **params):
    return requests.post(f"{srv.base_url}/api/tracker", params=params, json=body, auth=AUTH, timeout=10)


@pytest.mark.parametrize("version,expected_keys", [
    ("2.38", {"page", "pageSize", "instances"}),
    ("2.40", {"page", "pageSize", "instances"}),
    ("2.41", {"pager", "page", "pageSize", "trackedEntities"}),
    ("2.42", {"pager", "trackedEntities"}),
    ("2.43", {"pager", "trackedEntities"}),
])
def test_paging_shapes_per_version(version, expected_keys, start_emulator, metadata):
    srv = server(start_emulator, metadata, version)
    child, _ = tracker_programs(metadata)
    root = metadata["organisationUnits"][0]["id"]
    units = {"orgUnit": root, "ouMode": "DESCENDANTS"} if version < "2.41" else {
        "orgUnits": root, "orgUnitMode": "DESCENDANTS"}
    body = get(srv, "trackedEntities", program=child["id"], pageSize=5, **units).json()
    assert set(body) == expected_keys
    pager = body.get("pager", body)
    assert "total" not in pager  # totalPages is off by default
    assert ("nextPage" in pager) == (version >= "2.42")
    if version >= "2.42":  # follow the link to the last page
        seen = len(body["trackedEntities"])
        while "nextPage" in body["pager"]:
            body = requests.get(body["pager"]["nextPage"], auth=AUTH, timeout=10).json()
            seen += len(body["trackedEntities"])
        assert seen == 12 and "prevPage" in body["pager"]
    total = get(srv, "trackedEntities", program=child["id"], pageSize=5, totalPages="true", **units).json()
    assert total.get("pager", total)["total"] == 12 and total.get("pager", total)["pageCount"] == 3


def test_2_42_ignores_ou_mode_and_2_41_refuses_both_modes(start_emulator, metadata):
    child, _ = tracker_programs(metadata)
    facility = child["organisationUnits"][0]["id"]
    new = server(start_emulator, metadata, "2.42")
    # ouMode is not read by 2.42: orgUnits alone means SELECTED
    only = get(new, "trackedEntities", program=child["id"], orgUnits=facility, ouMode="ALL").json()
    assert {t["orgUnit"] for t in only["trackedEntities"]} == {facility}
    assert get(new, "trackedEntities").status_code == 400  # program, type or uids needed
    old = server(start_emulator, metadata, "2.41")
    both = get(old, "trackedEntities", program=child["id"], orgUnits=facility, ouMode="SELECTED",
               orgUnitMode="SELECTED")
    assert both.status_code == 400 and "orgUnitMode" in both.json()["message"]
    v243 = server(start_emulator, metadata, "2.43")
    assert get(v243, "events").status_code == 400  # 2.43: program is mandatory


def test_validation_codes_and_atomic_modes(start_emulator, metadata):
    srv = server(start_emulator, metadata, "2.42")
    child, malaria = tracker_programs(metadata)
    te = snapshot(srv.state, "trackedEntities")[0]
    stage = next(s for s in metadata["programStages"] if s["program"]["id"] == malaria["id"])
    unit = malaria["organisationUnits"][0]["id"]
    attribute = next(a for a in metadata["trackedEntityAttributes"] if a.get("optionSet"))
    bad = {
        "trackedEntities": [
            {"trackedEntity": "Te000000001", "trackedEntityType": "NoSuchType1", "orgUnit": unit},
            {"trackedEntity": "Te000000002", "trackedEntityType": te["trackedEntityType"], "orgUnit": "NoSuchUnit1"},
            {"trackedEntity": "Te000000003", "trackedEntityType": te["trackedEntityType"], "orgUnit": unit,
             "attributes": [{"attribute": attribute["id"], "value": "NOT_AN_OPTION"}]},
        ],
        "enrollments": [{"enrollment": "En000000001", "trackedEntity": "Te000000001", "program": child["id"],
                         "orgUnit": unit, "enrolledAt": "2024-01-01"}],
        "events": [
            {"event": "Ev000000001", "program": "NoProgram01", "programStage": stage["id"], "orgUnit": unit},
            {"event": "Ev000000002", "program": malaria["id"], "programStage": "NoStage0001", "orgUnit": unit},
            {"event": "Ev000000003", "program": malaria["id"], "programStage": stage["id"],
             "orgUnit": metadata["organisationUnits"][0]["id"]},
            {"event": "Ev000000004", "program": malaria["id"], "programStage": stage["id"], "orgUnit": unit,
             "occurredAt": "2024-02-01"},
        ],
    }
    all_or_nothing = post(srv, bad, atomicMode="ALL", **{"async": "false"})
    assert all_or_nothing.status_code == 409 and all_or_nothing.json()["status"] == "ERROR"
    assert "Ev000000004" not in {e["event"] for e in snapshot(srv.state, "events")}
    report = post(srv, bad, atomicMode="OBJECT", **{"async": "false"})
    assert report.status_code == 200 and report.json()["status"] == "OK"
    codes = {(e["uid"], e["errorCode"]) for e in report.json()["validationReport"]["errorReports"]}
    assert codes == {("Te000000001", "E1005"), ("Te000000002", "E1049"), ("Te000000003", "E1125"),
                     ("En000000001", "E5000"), ("Ev000000001", "E1010"), ("Ev000000002", "E1013"),
                     ("Ev000000003", "E1029")}
    assert report.json()["stats"] == {"created": 1, "updated": 0, "deleted": 0, "ignored": 7, "total": 8}
    again = post(srv, {"events": [{"event": "Ev000000004", "program": malaria["id"], "programStage": stage["id"],
                                   "orgUnit": unit}]}, importStrategy="CREATE", atomicMode="OBJECT",
                 **{"async": "false"}).json()
    assert again["validationReport"]["errorReports"][0]["errorCode"] == "E1030"


def test_async_job_report_is_404_until_ready_and_deletes_are_soft(start_emulator, metadata):
    srv = server(start_emulator, metadata, "2.40")
    # jobs run one at a time: a slow job ahead keeps the tracker job from finishing yet
    srv.jobs.submit("METADATA_IMPORT", lambda: (time.sleep(0.5), ({}, "done"))[1])
    te = snapshot(srv.state, "trackedEntities")[0]["trackedEntity"]
    started = post(srv, {"trackedEntities": [{"trackedEntity": te}]}, importStrategy="DELETE").json()
    assert started["response"]["responseType"] == "TrackerJob"
    job = started["response"]["id"]
    assert requests.get(f"{srv.base_url}/api/tracker/jobs/{job}/report", auth=AUTH, timeout=10).status_code == 404
    for _ in range(100):
        notes = requests.get(f"{srv.base_url}/api/tracker/jobs/{job}", auth=AUTH, timeout=10).json()
        if notes and notes[0]["completed"]:
            break
        time.sleep(0.05)
    report = requests.get(f"{srv.base_url}/api/tracker/jobs/{job}/report", auth=AUTH, timeout=10).json()
    assert report["stats"]["deleted"] == 1
    child, _ = tracker_programs(metadata)
    root = metadata["organisationUnits"][0]["id"]
    live = get(srv, "trackedEntities", program=child["id"], orgUnit=root, ouMode="DESCENDANTS", skipPaging="true")
    assert te not in {t["trackedEntity"] for t in live.json()["instances"]}
    with_deleted = get(srv, "trackedEntities", trackedEntities=te, includeDeleted="true", ouMode="ALL").json()
    assert with_deleted["instances"][0]["deleted"] is True
    # the cascade soft-deleted its enrollment too, and a deleted uid cannot come back (E1114)
    assert all(e["deleted"] for e in snapshot(srv.state, "enrollments", True) if e["trackedEntity"] == te)
    back = post(srv, {"trackedEntities": [{"trackedEntity": te, "trackedEntityType": "x", "orgUnit": root}]},
                atomicMode="OBJECT", **{"async": "false"}).json()
    assert back["validationReport"]["errorReports"][0]["errorCode"] == "E1114"
