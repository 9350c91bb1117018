"""Metadata sync end to end: real HTTP between two emulated DHIS2 servers, a real Dagster instance."""

from __future__ import annotations

from typing import Any

import requests
from dagster import AssetKey, DagsterEventType

from dhis_sync_pipeline.dhis2.metadata_types import DEFAULT_METADATA_RESOURCES
from dhis_sync_pipeline.launch import execute_in_process
from dhis_sync_pipeline.orchestration.run_summary import RunSummary, summarize_run
from dhis_sync_pipeline.orchestration.watermarks import last_watermark

SERVER_MANAGED = {"created", "lastUpdated", "href", "access"}


def owner_export(server, collection: str) -> dict[str, dict[str, Any]]:
    """What DHIS2 would export with fields=:owner, keyed by UID, without server-managed fields."""
    response = requests.get(
        f"{server.base_url}/api/{collection}",
        params={"fields": ":owner", "paging": "false"},
        auth=("admin", "district"),
        timeout=30,
    )
    response.raise_for_status()
    return {
        obj["id"]: {k: v for k, v in obj.items() if k not in SERVER_MANAGED}
        for obj in response.json()[collection]
    }


def run_sync(sync_file, instance, **kwargs) -> RunSummary:
    return summarize_run(instance, execute_in_process(sync_file, "e2e", instance, **kwargs))


def total(summary: RunSummary, name: str) -> int:
    return sum(resource.counts.get(name, 0) for resource in summary.resources)


def writes(server) -> list[tuple[str, str, str]]:
    return [entry for entry in server.state.request_log if entry[0] in ("POST", "PUT", "DELETE", "PATCH")]


def test_first_run_copies_everything_then_later_runs_move_only_changes(
    sierra_leone_source, start_emulator, write_config, dagster_instance
):
    source, destination = sierra_leone_source, start_emulator()
    sync_file = write_config(source, destination, "metadata: {propagate_deletions: true}\n")

    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    for collection in DEFAULT_METADATA_RESOURCES:
        assert owner_export(destination, collection) == owner_export(source, collection), collection
    assert total(first, "created") > 100
    assert all(r.check_passed for r in first.resources if r.asset.startswith("metadata/"))

    second = run_sync(sync_file, dagster_instance)
    assert second.succeeded, second.table()
    assert total(second, "read") == 0
    assert total(second, "created") + total(second, "updated") + total(second, "deleted") == 0

    source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "TA External funding (renamed)"})
    source.state.update_object("indicators", "K1DkT2kokjD", {"description": "Changed on the source"})
    source.state.update_object("organisationUnits", "DiszpKrYNg8", {"shortName": "Ngelehun CHC (new)"})
    source.state.delete_object("dataElementGroups", "ri242cU0Sm5")

    third = run_sync(sync_file, dagster_instance)
    assert third.succeeded, third.table()
    assert total(third, "updated") == 3 and total(third, "created") == 0
    assert total(third, "deleted") == 1
    moved = {r.asset for r in third.resources if r.counts.get("updated") or r.counts.get("deleted")}
    assert moved == {"metadata/dataElements", "metadata/indicators", "metadata/organisationUnits",
                     "metadata/dataElementGroups"}
    for collection in ("dataElements", "indicators", "organisationUnits", "dataElementGroups"):
        assert owner_export(destination, collection) == owner_export(source, collection), collection
    assert "ri242cU0Sm5" not in owner_export(destination, "dataElementGroups")


def test_rejected_objects_fail_the_step_with_their_uids_and_codes(
    sierra_leone_source, start_emulator, write_config, dagster_instance
):
    source = sierra_leone_source
    # The destination already has another data element using the code of FRbgzTZ74Hh (E5003), and
    # the configuration leaves out optionSets, so a data element using one cannot resolve it (E5002).
    destination = start_emulator()
    destination.state.import_metadata({"dataElements": [{
        "id": "aaaaaaaaaa1", "name": "Local external funding", "shortName": "Local ext funding",
        "code": source.state.get_object("dataElements", "FRbgzTZ74Hh")["code"],
        "valueType": "NUMBER", "domainType": "AGGREGATE", "aggregationType": "SUM",
    }]})
    with_option_set = [de["id"] for de in source.state.objects("dataElements") if de.get("optionSet")]
    assert with_option_set, "the fixture has a data element with an option set"
    sync_file = write_config(
        source, destination,
        "metadata: {resources: [organisationUnits, categoryOptions, categories, categoryCombos,"
        " categoryOptionCombos, legendSets, dataElements]}\n",
    )

    summary = run_sync(sync_file, dagster_instance)

    assert summary.status == "FAILURE"
    failure = next(r for r in summary.resources if r.asset == "metadata/dataElements").failure
    assert failure is not None
    assert "E5003" in failure and "FRbgzTZ74Hh" in failure
    assert "E5002" in failure and with_option_set[0] in failure
    rejected = {"FRbgzTZ74Hh", *with_option_set}
    synced = owner_export(destination, "dataElements")
    expected = {uid for uid in owner_export(source, "dataElements") if uid not in rejected}
    assert expected and expected <= set(synced)  # the accepted objects were committed
    assert rejected.isdisjoint(synced)
    assert last_watermark(dagster_instance, AssetKey(["e2e", "metadata", "dataElements"])) is None
    assert last_watermark(dagster_instance, AssetKey(["e2e", "metadata", "categoryCombos"])) is not None


def test_wrong_password_fails_before_anything_is_written(
    sierra_leone_source, start_emulator, write_config, dagster_instance, monkeypatch
):
    destination = start_emulator()
    sync_file = write_config(sierra_leone_source, destination)
    monkeypatch.setenv("TEST_DHIS2_PASSWORD", "not-the-password")

    summary = run_sync(sync_file, dagster_instance)

    assert summary.status == "FAILURE"
    failure = next(r for r in summary.resources if r.asset == "preflight").failure
    assert failure.startswith("source (") and "authentication failed" in failure
    assert "not-the-password" not in failure
    assert writes(destination) == []
    logs = dagster_instance.all_logs(summary.run_id)
    assert not any("not-the-password" in (entry.user_message or "") for entry in logs)
    assert not any(e.dagster_event and e.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
                   and "metadata" in e.dagster_event.asset_key.path for e in logs)


def test_unreachable_source_is_a_clear_error(start_emulator, write_config, dagster_instance):
    destination = start_emulator()
    sync_file = write_config("http://127.0.0.1:9", destination)

    summary = run_sync(sync_file, dagster_instance)

    assert summary.status == "FAILURE"
    failure = next(r for r in summary.resources if r.asset == "preflight").failure
    assert "source" in failure and "127.0.0.1:9" in failure
    assert writes(destination) == []


def test_sharing_with_users_missing_on_the_destination_does_not_break_imports(
    start_emulator, write_config, dagster_instance
):
    user_group = {"id": "ugOnlySrc01", "name": "Only on the source", "users": []}
    data_element = {
        "id": "deShared001", "name": "Shared element", "shortName": "Shared element",
        "valueType": "NUMBER", "domainType": "AGGREGATE", "aggregationType": "SUM",
        "sharing": {"public": "rw------", "userGroups": {"ugOnlySrc01": {"id": "ugOnlySrc01", "access": "rw------"}}},
    }
    source = start_emulator(seed=[{"userGroups": [user_group]}, {"dataElements": [data_element]}])
    destination = start_emulator()
    sync_file = write_config(source, destination, "metadata: {resources: [dataElements]}\n")

    summary = run_sync(sync_file, dagster_instance)

    assert summary.succeeded, summary.table()
    copied = owner_export(destination, "dataElements")["deShared001"]
    assert copied["name"] == "Shared element"
    assert copied["sharing"]["public"] == "rw------"
    assert "ugOnlySrc01" not in copied["sharing"].get("userGroups", {})


def test_a_national_size_hierarchy_syncs_completely(start_emulator, write_config, dagster_instance):
    """5,000 organisation units in a 5-level tree and 1,500 data elements (bench/ measures speed)."""
    source = start_emulator(seed="generated", generator_options={
        "org_units": 5000, "levels": 5, "data_elements": 1500, "data_values": 0})
    destination = start_emulator()
    sync_file = write_config(source, destination)

    summary = run_sync(sync_file, dagster_instance)

    assert summary.succeeded, summary.table()
    for collection in ("organisationUnits", "organisationUnitLevels", "categoryOptionCombos", "dataElements",
                       "dataElementGroups", "dataSets"):
        assert owner_export(destination, collection) == owner_export(source, collection), collection
    units = owner_export(destination, "organisationUnits")
    assert len(units) >= 5000
    assert len(owner_export(destination, "dataElements")) >= 1500
