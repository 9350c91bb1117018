"""Imports over real HTTP on DHIS2 2.36, 2.40 and 2.43: async polling, 409 reports, conflicts."""

from __future__ import annotations

import json

import pytest

from dhis_sync_pipeline.dhis2 import DHIS2ImportTimeout
from dhis_sync_pipeline_tests.dhis2.conftest import ORG_UNIT, api_requests, data_elements, data_set_metadata

VERSIONS = ["2.36", "2.40", "2.43"]
COC = "HllvX50cXC0"


def broken_payload() -> dict:
    """One valid data element and one referencing a category combo that does not exist."""
    good, bad = data_elements(2, prefix="imp")
    bad["categoryCombo"] = {"id": "ccMissing01"}
    return {"dataElements": [good, bad]}


@pytest.mark.parametrize("version", VERSIONS)
def test_async_metadata_import_is_polled_to_completion(version, emulator_factory, client_factory):
    server = emulator_factory(version)
    client = client_factory(server.base_url, name="destination")
    result = client.post_metadata({"dataElements": data_elements(3, prefix="ok")})
    assert result.ok and result.created == 3, result
    assert api_requests(server, "metadata", "POST")
    assert [e for e in server.state.request_log if "/api/system/tasks/" in e[1]]
    assert [e for e in server.state.request_log if "/api/system/taskSummaries/" in e[1]]
    assert len(server.state.objects("dataElements")) == 3


@pytest.mark.parametrize("version", VERSIONS)
def test_async_metadata_import_errors_are_parsed(version, emulator_factory, client_factory):
    server = emulator_factory(version)
    client = client_factory(server.base_url, name="destination")
    result = client.post_metadata(broken_payload(), atomicMode="ALL")
    assert result.status == "ERROR" and not result.ok and result.created == 0
    (error,) = [e for e in result.errors if e.error_code == "E5002"]
    assert (error.uid, error.object_type, error.property) == ("imp00000002", "DataElement", "categoryCombo")
    assert server.state.objects("dataElements") == []


@pytest.mark.parametrize("version", VERSIONS)
def test_sync_metadata_import_warning_is_a_report_not_an_exception(version, emulator_factory, client_factory):
    server = emulator_factory(version)
    client = client_factory(server.base_url)
    result = client.post_metadata(broken_payload(), atomicMode="NONE", async_=False)
    assert result.status == "WARNING" and result.created == 1 and not result.ok
    assert {e.error_code for e in result.errors} == {"E5002"}
    assert not [e for e in server.state.request_log if "/api/system/tasks/" in e[1]]


def seed_data_set(server) -> list[str]:
    des = data_elements(2, prefix="dv")
    server.state.import_metadata({"dataElements": des, **data_set_metadata([de["id"] for de in des])})
    return [de["id"] for de in des]


def values(de_ids: list[str]) -> dict:
    rows = [
        {"dataElement": de_ids[0], "period": "202401", "orgUnit": ORG_UNIT, "categoryOptionCombo": COC,
         "attributeOptionCombo": COC, "value": "5"},
        {"dataElement": de_ids[1], "period": "202401", "orgUnit": ORG_UNIT, "categoryOptionCombo": COC,
         "attributeOptionCombo": COC, "value": "7"},
        {"dataElement": "deMissing01", "period": "202401", "orgUnit": ORG_UNIT, "categoryOptionCombo": COC,
         "attributeOptionCombo": COC, "value": "9"},
    ]
    return {"dataValues": rows}


def test_data_value_warning_is_parsed_into_conflicts(emulator_factory, client_factory):
    server = emulator_factory("2.40")  # 409 WARNING, value by value
    client = client_factory(server.base_url)
    result = client.post_data_values(values(seed_data_set(server)), async_=False)
    assert api_requests(server, "dataValueSets", "POST")
    assert result.status == "WARNING" and not result.ok
    assert (result.created, result.ignored) == (2, 1)
    (conflict,) = result.errors
    assert conflict.uid == "deMissing01" and conflict.indexes == (2,)
    assert conflict.error_code and conflict.error_code.startswith("E7")
    assert conflict.object_type == "dataElement"
    assert result.rejected_indexes == (2,)
    assert len(server.state.data_values()) == 2


def test_a_2_43_group_with_a_foreign_data_element_is_rejected_whole(emulator_factory, client_factory):
    server = emulator_factory("2.43")  # DefaultDataEntryService: one bad key rejects the group, 409 ERROR
    client = client_factory(server.base_url)
    result = client.post_data_values({"dataSet": "dsMonthly01", **values(seed_data_set(server))}, async_=False)
    assert result.status == "ERROR" and not result.ok
    assert (result.created, result.updated) == (0, 0)
    (conflict,) = result.errors
    assert conflict.error_code == "E8020" and "deMissing01" in conflict.message
    assert server.state.data_values() == []


def test_a_2_43_bad_value_is_a_warning_for_that_value_only(emulator_factory, client_factory):
    server = emulator_factory("2.43")  # a value error (E812x) rejects one value: 200 WARNING
    client = client_factory(server.base_url)
    payload = values(seed_data_set(server))
    payload["dataValues"] = payload["dataValues"][:2]
    payload["dataValues"][1]["value"] = "not a number"
    result = client.post_data_values({"dataSet": "dsMonthly01", **payload}, async_=False)
    assert result.status == "WARNING" and not result.ok
    assert (result.created, result.updated) == (0, 1)  # 2.43 counts every write as updated
    (conflict,) = result.errors
    assert conflict.error_code.startswith("E812")
    assert [v["value"] for v in server.state.data_values()] == ["5"]


def test_data_value_conflicts_236_are_plain(emulator_factory, client_factory):
    server = emulator_factory("2.36")
    client = client_factory(server.base_url)
    result = client.post_data_values(values(seed_data_set(server)), async_=False)
    assert result.status == "WARNING" and result.created == 2 and not result.ok
    (conflict,) = result.errors
    assert conflict.uid == "deMissing01" and conflict.message


@pytest.mark.parametrize("version", ["2.36", "2.40"])
def test_async_data_value_import_as_bytes(version, emulator_factory, client_factory):
    server = emulator_factory(version)
    client = client_factory(server.base_url)
    body = json.dumps(values(seed_data_set(server))).encode()
    result = client.post_data_values(body, content_type="application/json")
    assert result.status == "WARNING" and result.created == 2 and len(result.errors) == 1
    assert [e for e in server.state.request_log if "/api/system/taskSummaries/" in e[1]]


def test_data_value_export(emulator_factory, client_factory):
    server = emulator_factory("2.40")
    client = client_factory(server.base_url)
    de_ids = seed_data_set(server)
    client.post_data_values(values(de_ids))
    export = client.stream_data_values({"dataSet": "dsMonthly01", "period": "202401", "orgUnit": ORG_UNIT})
    assert sorted(v["value"] for v in export) == ["5", "7"]


@pytest.mark.parametrize("version", ["2.36", "2.40"])
@pytest.mark.parametrize("run_async", [False, True])
def test_import_of_nothing_is_an_error_result(version, run_async, emulator_factory, client_factory):
    server = emulator_factory(version)
    client = client_factory(server.base_url)
    result = client.post_data_values(b"", async_=run_async)
    assert result.status == "ERROR" and result.has_errors and not result.ok
    assert "No content to map" in result.message


def test_slow_job_is_polled_until_done(emulator_factory, client_factory):
    server = emulator_factory("2.40")
    client = client_factory(server.base_url)
    server.faults.configure(latency=0.4, path_prefix="/api/metadata")  # delays the job too
    result = client.post_metadata({"dataElements": data_elements(2, prefix="slow")})
    assert result.ok and result.created == 2
    assert len([e for e in server.state.request_log if "/api/system/tasks/" in e[1]]) > 3


def test_job_not_done_within_task_timeout_raises(emulator_factory, client_factory):
    server = emulator_factory("2.40")
    client = client_factory(server.base_url, task_timeout=0.2, name="destination")
    server.faults.configure(latency=1.0, path_prefix="/api/metadata")
    with pytest.raises(DHIS2ImportTimeout) as info:
        client.post_metadata({"dataElements": data_elements(1, prefix="late")})
    assert info.value.job_type == "METADATA_IMPORT" and "destination" in str(info.value)
    assert not [e for e in server.state.request_log if "/api/system/taskSummaries/" in e[1]]


def test_deleted_objects(emulator_factory, client_factory):
    server = emulator_factory("2.40")
    client = client_factory(server.base_url)
    server.state.import_metadata({"dataElements": data_elements(3, prefix="del")})
    before = server.state.now()
    server.state.advance_clock(5)
    server.state.delete_object("dataElements", "del00000002")
    deleted = list(client.iter_deleted_objects("DataElement", before))
    assert [entry["uid"] for entry in deleted] == ["del00000002"]
