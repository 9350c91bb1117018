"""Data values the way real DHIS2 serves them: no paging, unordered answers, time zones, 2.43.

The source emulator answers `dataValueSets` without `offset` before 2.43 and in an order that
changes between requests, so a sync that relied on paging or order would lose or double values
here as it would on a real server.
"""

from __future__ import annotations

import pytest
import requests
from dagster import AssetKey

from dhis_sync_pipeline.emulator.generator import generate_data_values, generate_metadata
from dhis_sync_pipeline.emulator.state import SUPPORTED_VERSIONS
from dhis_sync_pipeline_tests.sync.test_metadata_e2e import run_sync

pytestmark = pytest.mark.slow

WINDOW = "  start_date: 2024-01-01\n  end_date: 2024-12-31\n"
METADATA = "metadata: {resources: [organisationUnits, categoryOptions, categories, categoryCombos, " \
           "categoryOptionCombos, dataElements, dataSets]}\n"


def generated(values: int, data_sets: int = 1, org_units: int = 120):
    metadata = generate_metadata(org_units=org_units, levels=4, data_elements=40, data_sets=data_sets, seed=7)
    rows = list(generate_data_values(metadata, values, seed=7))
    return metadata, rows


def values_of(server, data_set: str | None = None) -> set[tuple]:
    """(key…, value) of every live value, optionally of one dataSet's data elements."""
    elements = None
    if data_set is not None:
        ds = server.state.get_object("dataSets", data_set)
        elements = {e["dataElement"]["id"] for e in ds["dataSetElements"]}
    return {
        (v["dataElement"], v["period"], v["orgUnit"], v["categoryOptionCombo"], v["attributeOptionCombo"], v.get("value"))
        for v in server.state.data_values()
        if elements is None or v["dataElement"] in elements
    }


def materialization(instance, *path: str) -> dict:
    event = instance.get_latest_materialization_event(AssetKey(["e2e", *path]))
    assert event is not None, f"no materialization of {path}"
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def data_config(metadata, cap: int, roots: list[str] | None = None) -> str:
    data_sets = ", ".join(ds["id"] for ds in metadata["dataSets"])
    root = roots or [next(o["id"] for o in metadata["organisationUnits"] if "parent" not in o)]
    return (
        METADATA
        + f"page_sizes: {{data_values: 5000, data_values_slice_cap: {cap}}}\n"
        + f"data:\n  data_sets: [{data_sets}]\n  org_units: [{', '.join(root)}]\n" + WINDOW
    )


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_fifty_thousand_values_arrive_complete_through_slices(version, start_emulator, write_config, dagster_instance):
    metadata, rows = generated(50_000)
    assert len(rows) == 50_000
    source = start_emulator(version=version, seed=[metadata])
    source.state.import_data_values({"dataValues": rows})
    destination = start_emulator(version=version)
    sync_file = write_config(source, destination, data_config(metadata, cap=10_000))
    data_set = metadata["dataSets"][0]["id"]

    first = run_sync(sync_file, dagster_instance)

    assert first.succeeded, first.table()
    assert values_of(destination) == values_of(source)
    assert len(values_of(destination)) == 50_000
    stats = materialization(dagster_instance, "data", data_set)
    assert stats["read"] == 50_000  # each value read (and posted) once, though slices were read again
    assert stats["slice_splits"] > 0 and stats["export_requests"] > 5
    # Each split re-reads at most the cap rows its too-big answer had already handed out.
    assert 0 < stats["rows_read_again"] <= 10_000 * stats["slice_splits"]

    second = run_sync(sync_file, dagster_instance)
    assert second.succeeded, second.table()
    assert materialization(dagster_instance, "data", data_set)["read"] == 0


def _raw_export(server, **params) -> list[dict]:
    response = requests.get(f"{server.base_url}/api/dataValueSets", params=params, auth=("admin", "district"), timeout=30)
    response.raise_for_status()
    return response.json().get("dataValues", [])


@pytest.mark.parametrize("zone", ["America/Bogota", "Asia/Kolkata"])
def test_a_value_changed_just_before_the_next_run_arrives_in_that_run(zone, start_emulator, write_config, dagster_instance):
    metadata, rows = generated(2_000)
    source = start_emulator(version="2.40", timezone=zone, seed=[metadata])
    source.state.import_data_values({"dataValues": rows})
    destination = start_emulator(version="2.40")
    sync_file = write_config(source, destination, data_config(metadata, cap=100_000))
    data_set = metadata["dataSets"][0]["id"]
    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    watermark = materialization(dagster_instance, "data", data_set)["watermark"]

    # A minute later on the source's clock, one value changes; the next run starts right after.
    source.state.advance_clock(60)
    counts = {e["id"] for e in metadata["dataElements"] if e["valueType"] == "INTEGER_ZERO_OR_POSITIVE"}
    changed = next(r for r in rows if r["dataElement"] in counts)
    source.state.set_data_value(changed["dataElement"], changed["period"], changed["orgUnit"], "999",
                                changed["categoryOptionCombo"], changed["attributeOptionCombo"])
    root = next(o["id"] for o in metadata["organisationUnits"] if "parent" not in o)
    asked_naively = _raw_export(source, dataSet=data_set, orgUnit=root, children="true", lastUpdated=watermark)
    if zone == "America/Bogota":
        # DHIS2 2.40 compares lastUpdated as UTC text with its local column: 5 hours late west of UTC.
        assert not any(v["value"] == "999" for v in asked_naively), "the emulator should miss it, as DHIS2 does"

    second = run_sync(sync_file, dagster_instance)

    assert second.succeeded, second.table()
    assert values_of(destination) == values_of(source)
    stats = materialization(dagster_instance, "data", data_set)
    assert stats["read"] == 1  # the change, once: what the overlap re-read was not sent again
    assert ("999",) == tuple({v["value"] for v in destination.state.data_values()
                              if v["dataElement"] == changed["dataElement"] and v["orgUnit"] == changed["orgUnit"]
                              and v["period"] == changed["period"]
                              and v["categoryOptionCombo"] == changed["categoryOptionCombo"]})


def test_a_2_43_destination_rejecting_one_element_reports_that_sets_values_and_loses_nothing_else(
    start_emulator, write_config, dagster_instance
):
    metadata, rows = generated(6_000, data_sets=2)
    source = start_emulator(version="2.43", seed=[metadata])
    source.state.import_data_values({"dataValues": rows})
    destination = start_emulator(version="2.43")
    sync_file = write_config(source, destination, data_config(metadata, cap=100_000))
    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    rejected_set, other_set = (ds["id"] for ds in metadata["dataSets"])

    # On the destination, one data element leaves the first dataSet: 2.43 then rejects every
    # value of that set's payload (E8020), while the other set's values are committed.
    ds = destination.state.get_object("dataSets", rejected_set)
    removed = ds["dataSetElements"][0]["dataElement"]["id"]
    destination.state.update_object("dataSets", rejected_set, {
        "dataSetElements": [e for e in ds["dataSetElements"] if e["dataElement"]["id"] != removed]})
    for row in rows:
        source.state.set_data_value(row["dataElement"], row["period"], row["orgUnit"], "1",
                                    row["categoryOptionCombo"], row["attributeOptionCombo"])
    sync_file = write_config(source, destination, data_config(metadata, cap=100_000).replace(METADATA, ""))

    summary = run_sync(sync_file, dagster_instance)

    assert summary.status == "FAILURE"
    failed = next(r for r in summary.resources if r.asset == f"data/{rejected_set}")
    in_rejected_set = values_of(source, rejected_set)
    assert failed.counts["errors"] == len(in_rejected_set)  # every value of the set, each listed
    assert "E8020" in (failed.failure or "")
    assert values_of(destination, other_set) == values_of(source, other_set)  # nothing else lost


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_incremental_runs_with_registrations_succeed(version, start_emulator, write_config, dagster_instance):
    metadata, rows = generated(1_000)
    source = start_emulator(version=version, seed=[metadata])
    source.state.import_data_values({"dataValues": rows})
    data_set = metadata["dataSets"][0]["id"]
    first_unit, second_unit = rows[0]["orgUnit"], next(r["orgUnit"] for r in rows if r["orgUnit"] != rows[0]["orgUnit"])
    _complete(source, data_set, "202401", first_unit)
    destination = start_emulator(version=version)
    sync_file = write_config(source, destination, data_config(metadata, cap=100_000))

    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    assert _registered(destination, data_set) == {("202401", first_unit)}

    # Completed later on the source: seen through `created` (no lastUpdated filter exists).
    source.state.advance_clock(120)
    _complete(source, data_set, "202402", second_unit)
    second = run_sync(sync_file, dagster_instance)
    assert second.succeeded, second.table()
    assert _registered(destination, data_set) == {("202401", first_unit), ("202402", second_unit)}

    third = run_sync(sync_file, dagster_instance)
    assert third.succeeded, third.table()


def _complete(server, data_set: str, period: str, org_unit: str) -> None:
    response = requests.post(
        f"{server.base_url}/api/completeDataSetRegistrations",
        json={"completeDataSetRegistrations": [{"dataSet": data_set, "period": period, "organisationUnit": org_unit,
                                                "completed": True}]},
        auth=("admin", "district"), timeout=30,
    )
    assert response.status_code in (200, 201), response.text


def _registered(server, data_set: str) -> set[tuple[str, str]]:
    return {(r["period"], r["organisationUnit"]) for r in server.state.registrations.values()
            if r["dataSet"] == data_set and r.get("completed", True)}


def test_a_data_set_missing_on_the_source_is_reported_before_anything_is_written(
    start_emulator, write_config, dagster_instance
):
    metadata, rows = generated(100)
    source = start_emulator(seed=[metadata])
    destination = start_emulator()
    config = data_config(metadata, cap=1000).replace("data_sets: [", "data_sets: [Abcdefghij1, ")
    sync_file = write_config(source, destination, config)
    destination.state.reset_request_log()

    summary = run_sync(sync_file, dagster_instance)

    assert summary.status == "FAILURE"
    failure = next(r for r in summary.resources if r.failure).failure
    assert "data.data_sets[0] (line" in failure and "Abcdefghij1" in failure
    assert not [e for e in destination.state.request_log if e[0] == "POST"]
