"""The generator: deterministic, valid uids, consistent tree, importable at volume."""

from __future__ import annotations

import time
from collections import Counter

from dhis_sync_pipeline.emulator import EmulatorState
from dhis_sync_pipeline.emulator.generator import generate_data_values, generate_metadata
from dhis_sync_pipeline.emulator.schema import UID_RE


def test_deterministic_for_a_seed():
    assert generate_metadata(org_units=300, seed=5) == generate_metadata(org_units=300, seed=5)
    assert generate_metadata(org_units=300, seed=5) != generate_metadata(org_units=300, seed=6)
    metadata = generate_metadata(org_units=300, seed=5)
    assert list(generate_data_values(metadata, 500, seed=2)) == list(
        generate_data_values(metadata, 500, seed=2))


def test_uids_tree_and_category_model_are_consistent():
    metadata = generate_metadata(org_units=500, levels=4, data_elements=40, data_sets=2, seed=9)
    ids = [o["id"] for objs in metadata.values() for o in objs]
    assert all(UID_RE.match(uid) for uid in ids) and len(ids) == len(set(ids))
    units = metadata["organisationUnits"]
    assert len(units) == 500 and len(metadata["organisationUnitLevels"]) == 4
    roots = [u for u in units if "parent" not in u]
    assert [r["name"] for r in roots] == ["Sierra Leone"]
    combos = Counter(e["categoryCombo"]["id"] for e in metadata["dataElements"])
    assert len(combos) == 2  # default and the two-category combo
    assert len(metadata["categoryOptionCombos"]) == 4
    assert len({e["valueType"] for e in metadata["dataElements"]}) >= 4


def test_large_payload_imports_quickly_with_values():
    metadata = generate_metadata(org_units=5000, levels=5, data_elements=1500)
    state = EmulatorState()
    started = time.monotonic()
    report = state.import_metadata(metadata)
    assert report["status"] == "OK", report["typeReports"]
    assert time.monotonic() - started < 10
    units = state.objects("organisationUnits")
    assert max(u["level"] for u in units) == 5
    assert all(u["path"].count("/") == u["level"] for u in units)
    values = list(generate_data_values(metadata, 20_000, seed=4))
    assert len({(v["dataElement"], v["period"], v["orgUnit"], v["categoryOptionCombo"])
                for v in values}) == 20_000
    summary = state.import_data_values({"dataValues": values})
    assert summary["status"] == "SUCCESS" and summary["importCount"]["imported"] == 20_000
    facility_level = {u["id"] for u in units if u["level"] == 5}
    assert {v["orgUnit"] for v in values} <= facility_level
    assert {v["period"][:4] for v in values} == {"2024"}


def test_generated_seed_serves_data(make_server):
    import requests
    server = make_server(seed="generated", generator_options={
        "org_units": 50, "levels": 3, "data_elements": 20, "data_values": 300})
    base, auth = server.base_url, ("admin", "district")
    assert requests.get(f"{base}/api/organisationUnits", auth=auth).json()["pager"]["total"] == 50
    assert len(server.state.data_values()) == 300
