"""One rejected data element stops only what refers to it (issue 10).

The destination already holds another data element with the code of a4Cw4iPcMrY (DHIS2's unique-code
rule, E5003), so the source's element is rejected. Every other object and every value not
referencing it must still arrive; the run fails naming that rejection; once the conflict is gone,
the next run reads again only what had a rejection and leaves the destination equal to the source.
"""

from __future__ import annotations

import json

from dhis_sync_pipeline.dhis2.metadata_types import DEFAULT_METADATA_RESOURCES
from dhis_sync_pipeline_tests.sync.test_data_values_e2e import DATA, exported, source_with_values  # noqa: F401
from dhis_sync_pipeline_tests.sync.test_metadata_e2e import owner_export, run_sync

REJECTED = "a4Cw4iPcMrY"  # TA MAL - Malaria cases classified: has values in the window
CONFLICT = "aaaaaaaaaa1"  # the destination's own element holding the same code
TYPES = DEFAULT_METADATA_RESOURCES  # every type a configuration syncs by default
FIELDS = ("dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo", "value")


def in_window(source) -> set[tuple]:
    """The source's values of both dataSets in the window, as the export gives them."""
    return {tuple(dict(row).get(name) for name in FIELDS) for row in exported(source)}


def held(server) -> set[tuple]:
    """What a server's database holds (a destination whose dataSet was rejected cannot export by it)."""
    return {tuple(str(value.get(name)) for name in FIELDS) for value in server.state.data_values()}


def test_one_rejected_data_element_stops_only_what_refers_to_it(
    source_with_values, start_emulator, write_config, dagster_instance  # noqa: F811
):
    source, destination = source_with_values, start_emulator()
    code = source.state.get_object("dataElements", REJECTED)["code"]
    destination.state.import_metadata({"dataElements": [{
        "id": CONFLICT, "name": "Local malaria cases", "shortName": "Local malaria cases", "code": code,
        "valueType": "NUMBER", "domainType": "AGGREGATE", "aggregationType": "SUM",
    }]})
    sync_file = write_config(source, destination, DATA)

    first = run_sync(sync_file, dagster_instance)

    assert first.status == "FAILURE"
    failures = {r.asset: r.failure for r in first.resources if r.failure}
    assert "E5003" in failures["metadata/dataElements"] and REJECTED in failures["metadata/dataElements"]
    # Every object that does not refer to the rejected element arrived as it is on the source.
    for collection in TYPES:
        arrived = owner_export(destination, collection)
        for uid, obj in owner_export(source, collection).items():
            if uid != REJECTED and REJECTED not in json.dumps(obj):
                assert arrived.get(uid) == obj, (collection, uid)
    assert REJECTED not in owner_export(destination, "dataElements")
    # Every value not of the rejected element arrived; none of it did.
    wanted = {row for row in in_window(source) if row[0] != REJECTED}
    assert held(destination) == wanted
    assert len(wanted) < len(in_window(source))
    rejected_types = {r.asset for r in first.resources if r.asset.startswith("metadata/") and r.counts.get("errors")}
    assert "metadata/dataElements" in rejected_types
    print(f"\n[rejection isolation] types with rejections: {sorted(rejected_types)}; values arrived "
          f"{len(wanted)} of {len(in_window(source))}")

    destination.state.delete_object("dataElements", CONFLICT)  # the administrator resolves the conflict
    second = run_sync(sync_file, dagster_instance)

    assert second.succeeded, second.table()
    read_again = {r.asset for r in second.resources if r.asset.startswith("metadata/") and r.counts.get("read")}
    assert read_again == rejected_types  # only the types that had a rejection were read again
    for collection in TYPES:
        assert owner_export(destination, collection) == owner_export(source, collection), collection
    assert held(destination) == in_window(source)
