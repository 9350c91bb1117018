"""A run is SUCCESS only when the destination was verified to hold what it was asked to sync.

Verification reads both sides' whole scope on every run, whatever the watermarks say, and heals
what differs in the same run: a destination restored from an old backup, values changed or
added by hand, a reset database with a new systemId.
"""

from __future__ import annotations

import pytest
from dagster import AssetCheckKey, AssetKey

from dhis_sync_pipeline.emulator.schema import DEFAULT_CATEGORY, DEFAULT_CATEGORY_COMBO, DEFAULT_CATEGORY_OPTION, DEFAULT_COC
from dhis_sync_pipeline_tests.sync.test_data_slices_e2e import data_config, generated, materialization, values_of
from dhis_sync_pipeline_tests.sync.test_metadata_e2e import run_sync

pytestmark = pytest.mark.slow

SYNCED_TYPES = ("dataSets", "dataElements", "categoryOptionCombos", "categoryCombos", "categories",
                "categoryOptions", "organisationUnits")  # dependants first, to delete them
DEFAULTS = {DEFAULT_CATEGORY, DEFAULT_CATEGORY_COMBO, DEFAULT_CATEGORY_OPTION, DEFAULT_COC}


def ids_of(server, collection: str) -> set[str]:
    return {obj["id"] for obj in server.state.objects(collection)} - DEFAULTS


@pytest.fixture
def synced(start_emulator, write_config, dagster_instance):
    """A source with 3,000 values, fully synced once into a destination."""
    metadata, rows = generated(3_000, org_units=60)
    source = start_emulator(version="2.40", seed=[metadata])
    source.state.import_data_values({"dataValues": rows})
    destination = start_emulator(version="2.40")
    sync_file = write_config(source, destination, data_config(metadata, cap=100_000))
    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    assert values_of(destination) == values_of(source)
    return source, destination, sync_file, metadata


def test_a_destination_restored_empty_is_healed_in_the_next_run(synced, dagster_instance):
    source, destination, sync_file, metadata = synced
    # The destination's database is restored from a backup taken before the first sync.
    for value in destination.state.data_values():
        destination.state.delete_data_value(value["dataElement"], value["period"], value["orgUnit"],
                                            value["categoryOptionCombo"], value["attributeOptionCombo"])
    for collection in SYNCED_TYPES:
        for uid in sorted(ids_of(destination, collection)):
            destination.state.delete_object(collection, uid)
    assert not values_of(destination) and not ids_of(destination, "organisationUnits")

    healed = run_sync(sync_file, dagster_instance)

    assert healed.succeeded, healed.table()
    for collection in SYNCED_TYPES:
        assert ids_of(destination, collection) == ids_of(source, collection), collection
    assert values_of(destination) == values_of(source)
    data_set = metadata["dataSets"][0]["id"]
    assert materialization(dagster_instance, "data", data_set)["read"] == 0  # the watermark saw no change…
    check = check_metadata(dagster_instance, data_set)  # …the check found the loss, resent every value
    assert check["values_resent"] == 3_000 and check["groups_still_differing"] == 0
    org_units = uid_check_metadata(dagster_instance, "organisationUnits")  # the UID check resent them
    assert org_units["resent_because_missing"] == len(ids_of(source, "organisationUnits"))
    assert org_units["missing_on_destination"] == 0


def uid_check_metadata(instance, collection: str) -> dict:
    key = AssetCheckKey(AssetKey(["e2e", "metadata", collection]), "destination_has_all_source_uids")
    [record] = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    evaluation = record.event.dagster_event.event_specific_data
    return {name: value.value for name, value in evaluation.metadata.items()}


def check_metadata(instance, data_set: str) -> dict:
    key = AssetCheckKey(AssetKey(["e2e", "data", data_set]), "destination_holds_source_values")
    [record] = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    evaluation = record.event.dagster_event.event_specific_data
    return {name: value.value for name, value in evaluation.metadata.items()}


def test_values_changed_or_added_by_hand_on_the_destination_are_put_right(synced, dagster_instance):
    source, destination, sync_file, metadata = synced
    changed, spare = sorted(destination.state.data_values(), key=lambda v: (v["orgUnit"], v["dataElement"]))[:2]
    destination.state.set_data_value(changed["dataElement"], changed["period"], changed["orgUnit"], "12345"
                                     if changed["value"].isdigit() else "edited by hand",
                                     changed["categoryOptionCombo"], changed["attributeOptionCombo"])
    source.state.delete_data_value(spare["dataElement"], spare["period"], spare["orgUnit"],
                                   spare["categoryOptionCombo"], spare["attributeOptionCombo"])
    # The source deletion is replayed by the sync; a value only the destination has is deleted by
    # the check: add one the source never had, in a period of the window.
    destination.state.set_data_value(spare["dataElement"], "202406" if spare["period"] != "202406" else "202407",
                                     spare["orgUnit"], spare["value"], spare["categoryOptionCombo"],
                                     spare["attributeOptionCombo"])
    assert values_of(destination) != values_of(source)

    summary = run_sync(sync_file, dagster_instance)

    assert summary.succeeded, summary.table()
    assert values_of(destination) == values_of(source)


def test_a_new_destination_system_id_means_a_full_sync(synced, dagster_instance):
    source, destination, sync_file, metadata = synced
    destination.state.system_id = "0f6e9c2a-1b1d-4c89-a5b0-2f5e0c1d7a11"  # a re-installed server

    summary = run_sync(sync_file, dagster_instance)

    assert summary.succeeded, summary.table()
    data_set = metadata["dataSets"][0]["id"]
    assert materialization(dagster_instance, "data", data_set)["read"] == 3_000
    assert materialization(dagster_instance, "data", data_set)["since"] == "first run"
    assert materialization(dagster_instance, "metadata", "dataElements")["read"] == len(ids_of(source, "dataElements"))


def test_a_destination_that_cannot_be_healed_fails_the_run(synced, write_config, dagster_instance):
    source, destination, sync_file, metadata = synced
    # A data element vanishes from the destination and this configuration does not sync
    # dataElements: its values can neither stay nor be sent again.
    gone = next(iter(ids_of(destination, "dataElements")))
    for value in [v for v in destination.state.data_values() if v["dataElement"] == gone]:
        destination.state.delete_data_value(value["dataElement"], value["period"], value["orgUnit"],
                                            value["categoryOptionCombo"], value["attributeOptionCombo"])
    destination.state.delete_object("dataElements", gone)
    narrowed = data_config(metadata, cap=100_000).replace(
        "metadata: {resources: [organisationUnits, categoryOptions, categories, categoryCombos, "
        "categoryOptionCombos, dataElements, dataSets]}", "metadata: {resources: [organisationUnits]}")
    sync_file = write_config(source, destination, narrowed)

    summary = run_sync(sync_file, dagster_instance)

    assert summary.status == "FAILURE"
