"""POST /api/metadata against DHIS2's own payloads: counts, error codes, strategies, versions."""

from __future__ import annotations

import time

import pytest

from dhis_sync_pipeline.emulator.schema import DEFAULT_CATEGORY_COMBO

from .conftest import Api


def _objects(payload: dict) -> int:
    return sum(len(v) for k, v in payload.items() if isinstance(v, list) and k != "system")


def _errors(report: dict) -> list[dict]:
    return [e for t in report["typeReports"] for o in t["objectReports"] for e in o["errorReports"]]


def test_sierra_leone_metadata_imports_with_counts_matching_the_files(api: Api, load):
    setup, aggregate = load("sierra_leone_ta/1_setup_metadata.json"), load(
        "sierra_leone_ta/2_aggregate_metadata.json")
    first = api.post("metadata", setup)
    assert first.status_code == 200, first.text
    stats = first.json()["response"]["stats"]
    # The file carries the default category combo, which exists on every server: one update.
    assert stats == {"created": _objects(setup) - 1, "updated": 1, "deleted": 0, "ignored": 0,
                     "total": _objects(setup)}
    second = api.post("metadata", aggregate)
    assert second.status_code == 200, second.text
    assert second.json()["response"]["stats"]["created"] == _objects(aggregate) == 147
    by_klass = {t["klass"].rsplit(".", 1)[1]: t["stats"]["created"]
                for t in second.json()["response"]["typeReports"]}
    assert by_klass["DataElement"] == 75 and by_klass["Indicator"] == 19
    assert by_klass["CategoryOptionCombo"] == 12

    values = api.post("dataValueSets", load("sierra_leone_ta/3_data_values_bulk.json"))
    assert values.status_code == 200, values.text
    assert values.json()["response"]["importCount"] == {"imported": 231, "updated": 0,
                                                        "ignored": 0, "deleted": 0}
    single = api.post("dataValueSets", load("sierra_leone_ta/4_data_values_single_dataset.json"))
    assert single.json()["response"]["importCount"]["imported"] == 2
    assert single.json()["response"]["dataSetComplete"] == "2019-06-05"


def test_empty_file_is_refused_like_dhis2(api: Api, fixtures_dir):
    body = (fixtures_dir / "sierra_leone_ta/empty_file.json").read_bytes()
    assert body == b""
    meta = api.post("metadata", body)
    assert meta.status_code == 400
    assert meta.json()["status"] == "ERROR"
    assert "No content to map due to end-of-input" in meta.json()["message"]
    data = api.post("dataValueSets", body)
    assert data.status_code == 409
    assert data.json()["response"]["status"] == "ERROR"
    assert "No content to map due to end-of-input" in data.json()["response"]["description"]


def test_duplicate_code_gives_e5003_on_the_later_object(api: Api, load):
    response = api.post("metadata", load("metadata_errors/de_duplicate_code.json"),
                        {"atomicMode": "NONE", "skipSharing": "true"})
    report = response.json()["response"]
    assert response.status_code == 409
    assert report["status"] == "WARNING"
    errors = _errors(report)
    assert [e["errorCode"] for e in errors] == ["E5003"]
    assert errors[0]["mainId"] == "CCwk5Yx440o" and errors[0]["errorProperty"] == "code"
    assert report["stats"]["created"] == 1 and report["stats"]["ignored"] == 1


def test_unknown_user_reference_is_e5002_unless_sharing_is_skipped(api: Api, load):
    report = api.post("metadata", load("metadata_errors/de_duplicate_code.json")).json()["response"]
    codes = {(e["mainId"], e["errorCode"]) for e in _errors(report)}
    assert ("SG4HuKlNEFH", "E5002") in codes and ("CCwk5Yx440o", "E5003") in codes
    assert report["status"] == "ERROR" and report["stats"]["ignored"] == 2
    assert api.get("dataElements/SG4HuKlNEFH").status_code == 404  # atomicMode=ALL


def test_duplicate_uid_in_one_payload_is_an_error(api: Api, load):
    response = api.post("metadata", load("metadata_errors/de_duplicate_uid.json"))
    report = response.json()["response"]
    assert response.status_code == 409 and report["status"] == "ERROR"
    assert [e["errorCode"] for e in _errors(report)] == ["E5004"]
    assert api.get("dataElements/CCwk5Yx440o").status_code == 404


def test_data_element_without_category_combo_gets_the_default(api: Api, load):
    response = api.post("metadata", load("metadata_errors/de_no_cc.json"))
    assert response.status_code == 200, response.text
    elements = api.get("dataElements", fields="name,categoryCombo[id,name]",
                       filter="name:eq:CCCC").json()["dataElements"]
    assert elements == [{"name": "CCCC", "categoryCombo": {"id": DEFAULT_CATEGORY_COMBO,
                                                           "name": "default"}}]


def test_invalid_references_are_e5002_with_dhis2_message(api: Api, load):
    group = load("metadata_errors/degAUidRef_invalid.json")
    group["shortName"] = "DEG A"
    report = api.post("metadata", {"dataElementGroups": [group]}).json()["response"]
    errors = _errors(report)
    assert {e["errorCode"] for e in errors} == {"E5002"}
    invalid = {e["args"][0] for e in errors}
    assert invalid == {"[deabcdefghA] (DataElement)", "[INVALID_DATAELEMENT_1] (DataElement)",
                       "[INVALID_DATAELEMENT_2] (DataElement)", "[INVALID_USER] (User)"}
    message = next(e["message"] for e in errors if "INVALID_DATAELEMENT_1" in e["message"])
    assert message.startswith("Invalid reference [INVALID_DATAELEMENT_1] (DataElement) on object "
                              "DataElementGroupA [")
    assert message.endswith("(DataElementGroup) for association `dataElements`.")


def test_children_may_come_before_parents_and_paths_are_computed(api: Api, load):
    assert api.post("metadata", load("metadata/ou_with_levels.json")).status_code == 200
    units = api.get("organisationUnits", fields="name,path,level,parent",
                    paging="false").json()["organisationUnits"]
    by_name = {u["name"]: u for u in units}
    assert by_name["OrgUnitA"]["level"] == 1 and by_name["OrgUnitA"]["path"] == "/inVD5SdytkT"
    child = by_name["OrgUnitC"]
    assert child["level"] == 2 and child["path"].startswith("/inVD5SdytkT/")
    assert child["parent"] == {"id": "inVD5SdytkT"}


@pytest.mark.parametrize("name", ["cat_model_expected_cocs.json", "data_element_and_dataset_with_catcombo.json",
                                  "ou_with_group_and_set.json", "metadata_no_defaults.json",
                                  "dataset_with_sections.json"])
def test_self_contained_metadata_files_import(make_server, load, name):
    api = Api(make_server(version="2.40"))
    payload = load(f"metadata/{name}")
    response = api.post("metadata", payload, {"atomicMode": "ALL"})
    assert response.status_code == 200, response.text[:2000]
    stats = response.json()["response"]["stats"]
    assert stats["ignored"] == 0 and stats["total"] == _objects(payload)


def test_missing_required_properties_are_e4000(api: Api):
    report = api.post("metadata", {"dataElements": [{"id": "deNoName001", "shortName": "x"}]}
                      ).json()["response"]
    missing = sorted(e["errorProperty"] for e in _errors(report) if e["errorCode"] == "E4000")
    assert missing == ["aggregationType", "domainType", "name", "valueType"]


def _de(uid: str, name: str, **extra) -> dict:
    return {"id": uid, "name": name, "shortName": name, "valueType": "NUMBER",
            "aggregationType": "SUM", "domainType": "AGGREGATE", **extra}


def test_strategies_atomic_none_and_report_modes(api: Api):
    assert api.post("metadata", {"dataElements": [_de("deStrat0001", "A")]}).status_code == 200
    create = api.post("metadata", {"dataElements": [_de("deStrat0001", "A")]},
                      {"importStrategy": "CREATE"}).json()["response"]
    assert [e["errorCode"] for e in _errors(create)] == ["E5000"]
    update = api.post("metadata", {"dataElements": [_de("deStrat0002", "B")]},
                      {"importStrategy": "UPDATE"}).json()["response"]
    assert [e["errorCode"] for e in _errors(update)] == ["E5001"]
    mixed = api.post("metadata", {"dataElements": [
        _de("deStrat0003", "C"), _de("deStrat0004", "D", categoryCombo={"id": "ccMissing01"})]},
        {"atomicMode": "NONE", "importReportMode": "FULL"})
    report = mixed.json()["response"]
    assert mixed.status_code == 409 and report["status"] == "WARNING"
    assert report["stats"]["created"] == 1 and report["stats"]["ignored"] == 1
    assert len(report["typeReports"][0]["objectReports"]) == 2  # FULL lists every object
    assert api.get("dataElements/deStrat0003").status_code == 200
    assert api.get("dataElements/deStrat0004").status_code == 404
    validate = api.post("metadata", {"dataElements": [_de("deStrat0005", "E")]},
                        {"importMode": "VALIDATE"})
    assert validate.status_code == 200
    assert api.get("dataElements/deStrat0005").status_code == 404
    refused = api.post("metadata", {"dataElements": []}, {"identifier": "CODE"})
    assert refused.status_code == 400


def test_reimport_bumps_last_updated_and_merge_mode_keeps_other_fields(api: Api, server):
    api.post("metadata", {"dataElements": [_de("deMerge0001", "M", description="keep me")]})
    before = server.state.get_object("dataElements", "deMerge0001")
    server.state.advance_clock(60)
    again = api.post("metadata", {"dataElements": [{"id": "deMerge0001", "name": "M2"}]},
                     {"mergeMode": "MERGE"}).json()["response"]
    assert again["stats"]["updated"] == 1
    after = server.state.get_object("dataElements", "deMerge0001")
    assert after["name"] == "M2" and after["description"] == "keep me"
    assert after["created"] == before["created"] and after["lastUpdated"] > before["lastUpdated"]
    assert after["lastUpdatedBy"] == {"id": "M5zQapPyTZI"}


def test_delete_refused_while_referenced_then_recorded_in_deleted_objects(api: Api, server):
    api.post("metadata", {"dataElements": [_de("deDelete001", "Del", code="DEL")],
                          "dataElementGroups": [{"id": "degDelete01", "name": "G",
                                                 "shortName": "G",
                                                 "dataElements": [{"id": "deDelete001"}]}]})
    refused = api.post("metadata", {"dataElements": [{"id": "deDelete001"}]},
                       {"importStrategy": "DELETE"}).json()["response"]
    assert [e["errorCode"] for e in _errors(refused)] == ["E4030"]
    start = server.state.now_str()
    done = api.post("metadata", {"dataElementGroups": [{"id": "degDelete01"}],
                                 "dataElements": [{"id": "deDelete001"}]},
                    {"importStrategy": "DELETE"}).json()["response"]
    assert done["status"] == "OK" and done["stats"]["deleted"] == 2
    deleted = api.get("deletedObjects", klass="DataElement", deletedAt=start).json()
    assert [(d["uid"], d["klass"], d["code"]) for d in deleted["deletedObjects"]] == [
        ("deDelete001", "DataElement", "DEL")]
    assert deleted["pager"]["total"] == 1
    server.state.advance_clock(5)
    later = server.state.now_str()
    assert api.get("deletedObjects", deletedAt=later).json()["deletedObjects"] == []
    both = api.get("deletedObjects", klass=["DataElement", "DataElementGroup"]).json()
    assert both["pager"]["total"] == 2


def test_sharing_with_unknown_user_group_is_e5002(api: Api):
    obj = _de("deShare0001", "S", sharing={"public": "rw------", "userGroups": {
        "OPVIvvXzNTw": {"id": "OPVIvvXzNTw", "access": "rw------"},
        "ugMissing01": {"id": "ugMissing01", "access": "rw------"}}})
    report = api.post("metadata", {"dataElements": [obj]}).json()["response"]
    errors = _errors(report)
    assert [(e["errorCode"], e["errorProperty"]) for e in errors] == [("E5002", "sharing.userGroups")]


@pytest.mark.parametrize("version,ok_status,bad_status,wrapped", [
    ("2.36", 200, 200, False), ("2.38", 200, 409, True), ("2.43", 200, 409, True)])
def test_import_report_shape_per_version(make_server, version, ok_status, bad_status, wrapped):
    api = Api(make_server(version=version))
    ok = api.post("metadata", {"dataElements": [_de("deVersion01", "V")]})
    bad = api.post("metadata", {"dataElements": [_de("deVersion02", "W",
                                                     categoryCombo={"id": "ccMissing01"})]})
    assert (ok.status_code, bad.status_code) == (ok_status, bad_status)
    if wrapped:
        assert ok.json()["response"]["responseType"] == "ImportReport"
        assert bad.json()["status"] == "WARNING" and bad.json()["httpStatusCode"] == 409
        assert bad.json()["response"]["status"] == "ERROR"
    else:
        assert "response" not in ok.json() and ok.json()["status"] == "OK"
        assert bad.json()["status"] == "ERROR" and "typeReports" in bad.json()


def test_async_metadata_import_polls_to_completion(api: Api, server):
    server.faults.configure(latency=0.3, path_prefix="/api/metadata")
    started = api.post("metadata", {"dataElements": [_de("deAsync0001", "Async")]},
                       {"async": "true"})
    server.faults.clear()
    assert started.status_code == 200
    job = started.json()["response"]
    assert job["jobType"] == "METADATA_IMPORT" and job["relativeNotifierEndpoint"].endswith(job["id"])
    assert api.get(f"system/taskSummaries/METADATA_IMPORT/{job['id']}").content == b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        notes = api.get(f"system/tasks/METADATA_IMPORT/{job['id']}").json()
        if notes and notes[0]["completed"]:
            break
        time.sleep(0.05)
    assert notes[0]["completed"] is True and not any(n["completed"] for n in notes[1:])
    summary = api.get(f"system/taskSummaries/METADATA_IMPORT/{job['id']}").json()
    assert summary["status"] == "OK" and summary["stats"]["created"] == 1
    assert "responseType" not in summary or summary.get("responseType") == "ImportReport"
