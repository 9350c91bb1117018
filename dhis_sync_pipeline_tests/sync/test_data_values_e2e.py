"""Aggregate data values end to end, with the real fixture values of DHIS2's own e2e tests."""

from __future__ import annotations

import pytest
import requests
from dagster import AssetKey

from dhis_sync_pipeline.orchestration.watermarks import last_watermark
from dhis_sync_pipeline_tests.sync.test_metadata_e2e import run_sync, total

YEARLY, MONTHLY, ROOT = "qNtxTrp56wV", "VEM58nY22sO", "ImspTQPwCqd"
DATA = f"""\
data:
  data_sets: [{YEARLY}, {MONTHLY}]
  org_units: [{ROOT}]
  start_date: 2018-01-01
  end_date: 2019-12-31
"""
SERVER_MANAGED = ("created", "lastUpdated")


def exported(server, **extra) -> set[tuple]:
    """Every value of both data sets in the window, as comparable tuples."""
    rows: set[tuple] = set()
    for data_set in (YEARLY, MONTHLY):
        response = requests.get(
            f"{server.base_url}/api/dataValueSets",
            params={"dataSet": data_set, "orgUnit": ROOT, "children": "true",
                    "startDate": "2018-01-01", "endDate": "2019-12-31", **extra},
            auth=("admin", "district"), timeout=30,
        )
        response.raise_for_status()
        for value in response.json().get("dataValues", []):
            rows.add(tuple(sorted((k, str(v)) for k, v in value.items() if k not in SERVER_MANAGED)))
    return rows


@pytest.fixture
def source_with_values(start_emulator, fixtures_dir):
    folder = fixtures_dir / "sierra_leone_ta"
    return start_emulator(seed=[folder / name for name in (
        "1_setup_metadata.json", "2_aggregate_metadata.json",
        "3_data_values_bulk.json", "4_data_values_single_dataset.json")])


def test_values_sync_then_only_changes_move(source_with_values, start_emulator, write_config, dagster_instance):
    source, destination = source_with_values, start_emulator()
    sync_file = write_config(source, destination, DATA)
    in_source = exported(source)
    assert len(in_source) == 233  # 231 bulk values + 2 of the single data set file

    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    assert exported(destination) == in_source
    assert total(first, "read") >= 233
    registrations = requests.get(
        f"{destination.base_url}/api/completeDataSetRegistrations",
        params={"dataSet": MONTHLY, "orgUnit": ROOT, "children": "true", "period": "201911"},
        auth=("admin", "district"), timeout=30,
    ).json()["completeDataSetRegistrations"]
    assert len(registrations) == 1  # the registration follows its values

    second = run_sync(sync_file, dagster_instance)
    assert second.succeeded, second.table()
    data_rows = [r for r in second.resources if r.asset.startswith("data/")]
    assert sum(r.counts.get("read", 0) for r in data_rows) == 0

    # Numeric values, so that the new values are valid for their data elements' value types.
    values = sorted((v for v in source.state.data_values() if v["value"].isdigit()),
                    key=lambda v: (v["dataElement"], v["period"], v["categoryOptionCombo"]))
    for value in values[:10]:
        source.state.set_data_value(value["dataElement"], value["period"], value["orgUnit"],
                                    str(int(value["value"]) + 1),
                                    value["categoryOptionCombo"], value["attributeOptionCombo"])
    for value in values[10:12]:
        source.state.delete_data_value(value["dataElement"], value["period"], value["orgUnit"],
                                       value["categoryOptionCombo"], value["attributeOptionCombo"])

    third = run_sync(sync_file, dagster_instance)
    assert third.succeeded, third.table()
    data_rows = [r for r in third.resources if r.asset.startswith("data/")]
    assert sum(r.counts.get("read", 0) for r in data_rows) == 12
    assert sum(r.counts.get("updated", 0) for r in data_rows) == 10
    assert sum(r.counts.get("deleted", 0) for r in data_rows) == 2
    assert exported(destination) == exported(source)
    assert len(exported(destination)) == 231


@pytest.mark.parametrize("destination_version", ["2.36", "2.40", "2.43"])
def test_values_of_a_missing_data_element_are_reported_one_by_one(
    source_with_values, start_emulator, write_config, dagster_instance, destination_version
):
    # 2.40 answers a partly rejected import with 409 WARNING, 2.43 with 200 WARNING, and 2.36 with
    # an unwrapped summary whose conflicts carry neither error codes nor row indexes.
    source, destination = source_with_values, start_emulator(version=destination_version)
    # Leave one data element out of the metadata that reaches the destination.
    missing = "FRbgzTZ74Hh"
    sync_file = write_config(source, destination, DATA)
    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    destination.state.delete_object("dataElements", missing)
    expected_rejections = {v["period"] for v in source.state.data_values() if v["dataElement"] == missing}
    assert expected_rejections
    for value in [v for v in source.state.data_values() if v["dataElement"] == missing]:
        source.state.set_data_value(value["dataElement"], value["period"], value["orgUnit"], "7",
                                    value["categoryOptionCombo"], value["attributeOptionCombo"])
    other = next(v for v in source.state.data_values() if v["dataElement"] != missing and v["value"].isdigit())
    source.state.set_data_value(other["dataElement"], other["period"], other["orgUnit"], "8",
                                other["categoryOptionCombo"], other["attributeOptionCombo"])
    sync_file = write_config(source, destination, DATA.replace("data:", "metadata: {resources: [organisationUnits]}\ndata:"))
    watermark_before = last_watermark(dagster_instance, AssetKey(["e2e", "data", YEARLY]))

    summary = run_sync(sync_file, dagster_instance)

    assert summary.status == "FAILURE"
    failure = next(r for r in summary.resources if r.asset == f"data/{YEARLY}").failure
    assert failure is not None and missing in failure
    if destination_version != "2.36":
        # 2.43 validates per dataSet (E8020 rejects the whole set's payload); before, value by value.
        assert ("E8020" if destination_version == "2.43" else "E7610") in failure
        assert failure.count(f"{missing}/") == len(expected_rejections)  # one line per rejected value
    yearly = {e["dataElement"]["id"] for e in source.state.get_object("dataSets", YEARLY)["dataSetElements"]}
    on_destination = {(v["dataElement"], v["value"]) for v in destination.state.data_values()
                      if v["period"] == other["period"] and v["orgUnit"] == other["orgUnit"]}
    if destination_version == "2.43" and other["dataElement"] in yearly:
        # …so the other changed value of that set was rejected with it, and reported.
        assert (other["dataElement"], "8") not in on_destination and f"{other['dataElement']}/" in failure
    else:
        assert (other["dataElement"], "8") in on_destination  # the accepted value was committed
    # The watermark stayed for the next run to retry.
    assert last_watermark(dagster_instance, AssetKey(["e2e", "data", YEARLY])) == watermark_before
