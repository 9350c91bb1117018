"""Shared pieces of the tracker tests: generated tracker content on emulators, scope exports."""

from __future__ import annotations

import requests

from dhis_sync_pipeline.emulator.generator import generate_metadata
from dhis_sync_pipeline.emulator.tracker_generator import add_relationship_types, seed_tracker, tracker_programs
from dhis_sync_pipeline.emulator.tracker_store import snapshot

METADATA_RESOURCES = ("[organisationUnits, categoryOptions, categories, categoryCombos, categoryOptionCombos, "
                      "options, optionSets, dataElements, trackedEntityAttributes, trackedEntityTypes, "
                      "programStages, programs]")
COMPARED = {"trackedEntities": ("trackedEntityType", "orgUnit", "attributes"),
            "enrollments": ("trackedEntity", "program", "orgUnit", "status", "enrolledAt", "occurredAt"),
            "events": ("program", "programStage", "enrollment", "orgUnit", "status", "occurredAt", "dataValues"),
            "relationships": ("relationshipType", "from", "to")}


def tracker_metadata(org_units: int = 20) -> dict:
    return generate_metadata(org_units=org_units, levels=3, data_elements=4, data_sets=1, tracker=True)


def seed_pair(start_emulator, version: str, **sizes):
    """A source with generated tracker data and an empty destination knowing the relationship type."""
    metadata = tracker_metadata()
    source = start_emulator(version=version)
    assert source.state.import_metadata(metadata)["status"] == "OK"
    payload = seed_tracker(source.state, metadata, **sizes)
    destination = start_emulator(version=version)
    add_relationship_types(destination.state, metadata)
    return source, destination, metadata, payload


def tracker_section(metadata: dict, **extra) -> str:
    child, malaria = tracker_programs(metadata)
    root = metadata["organisationUnits"][0]["id"]
    lines = [f"metadata: {{resources: {METADATA_RESOURCES}}}", "tracker:",
             f"  programs: [{child['id']}, {malaria['id']}]", f"  org_units: [{root}]",
             "  org_unit_mode: DESCENDANTS"] + [f"  {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def content(server, kind: str, include_deleted: bool = False) -> dict[str, tuple]:
    """uid -> the fields a sync must carry, from the server's own store."""
    id_field = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event",
                "relationships": "relationship"}[kind]
    out = {}
    for obj in snapshot(server.state, kind, include_deleted):
        values = []
        for name in COMPARED[kind]:
            value = obj.get(name)
            if isinstance(value, list):
                value = sorted(tuple(sorted(v.items())) for v in value)
            elif isinstance(value, dict):
                value = repr(sorted(value.items()))
            values.append(value)
        out[obj[id_field]] = (tuple(values), bool(obj.get("deleted")))
    return out


def api(server, path: str, **params):
    response = requests.get(f"{server.base_url}/api/{path}", params=params, auth=("admin", "district"), timeout=30)
    return response
