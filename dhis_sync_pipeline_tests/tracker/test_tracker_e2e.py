"""Tracker data end to end through the Dagster job, on every version whose tracker API differs.

Every version runs the whole story: complete arrival, a second run that moves nothing, then
updates, deletions and new relationships that move exactly those, and an event the destination
rejects (its org unit is no longer in the programme) listed with its code while the rest arrives
(2.38: PagingWrapper, `orgUnit`/`ouMode`; 2.42: `pager.nextPage`, `orgUnits`/`orgUnitMode`,
`ouMode` ignored; 2.43: `program` required).
"""

from __future__ import annotations

import pytest
from dagster import DagsterEventType

from dhis_sync_pipeline.emulator.tracker_generator import sibling, tracker_programs
from dhis_sync_pipeline.emulator.tracker_import import import_tracker
from dhis_sync_pipeline.emulator.tracker_store import touch
from dhis_sync_pipeline_tests.sync.test_metadata_e2e import run_sync
from dhis_sync_pipeline_tests.tracker.helpers import content, seed_pair, tracker_section

KINDS = ("trackedEntities", "enrollments", "events", "relationships")
SIZES = {"tracked_entities": 40, "events_per_enrollment": 2, "single_events": 40, "relationships": 6}


def tracker_metadata(instance, run_id: str) -> dict[str, dict]:
    """Per programme, the materialization's or the failure's metadata values."""
    out: dict[str, dict] = {}
    for entry in instance.all_logs(run_id, of_type={DagsterEventType.ASSET_MATERIALIZATION,
                                                    DagsterEventType.STEP_FAILURE}):
        event = entry.dagster_event
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            m = event.step_materialization_data.materialization
            if m.asset_key.path[1] == "tracker":
                out[m.asset_key.path[2]] = {k: v.value for k, v in m.metadata.items()}
        elif "tracker" in (event.step_key or ""):
            user = event.step_failure_data.user_failure_data
            out[event.step_key.rsplit("__", 1)[-1]] = {
                "failure": user.description, **{k: v.value for k, v in user.metadata.items()}}
    return out


def moved(summary_meta: dict[str, dict], name: str) -> int:
    return sum(int(m.get(name, 0)) for m in summary_meta.values())


def arrive_then_idle(start_emulator, write_config, dagster_instance, version):
    source, destination, metadata, payload = seed_pair(start_emulator, version, **SIZES)
    sync_file = write_config(source, destination, tracker_section(metadata, page_size=25))
    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    for kind in KINDS:
        assert content(destination, kind) == content(source, kind), kind
    assert len(content(destination, "events")) == 40 * 2 + 40
    assert len(content(destination, "relationships")) == 6

    second = run_sync(sync_file, dagster_instance)
    assert second.succeeded, second.table()
    idle = tracker_metadata(dagster_instance, second.run_id)
    assert moved(idle, "created") + moved(idle, "updated") + moved(idle, "deleted") == 0
    assert moved(idle, "read") == 0
    return source, destination, metadata, payload, sync_file


@pytest.mark.slow
@pytest.mark.parametrize("version", ["2.40", "2.41", "2.43"])
def test_tracker_arrives_then_a_second_run_moves_nothing(version, start_emulator, write_config, dagster_instance):
    arrive_then_idle(start_emulator, write_config, dagster_instance, version)


@pytest.mark.slow
@pytest.mark.parametrize("version", ["2.38", "2.40", "2.41", "2.42", "2.43"])
def test_only_changes_move_and_a_rejected_event_is_listed(version, start_emulator, write_config, dagster_instance):
    source, destination, metadata, payload, sync_file = arrive_then_idle(
        start_emulator, write_config, dagster_instance, version)
    child, malaria = tracker_programs(metadata)
    tes = payload["trackedEntities"]
    single = [e for e in payload["events"] if e["program"] == malaria["id"]]
    first_name = tes[0]["attributes"][0]["attribute"]

    # 20 updates: 10 tracked entities' names, 10 single events' values
    for te in tes[30:40]:
        touch(source.state, "trackedEntities", te["trackedEntity"],
              {"attributes": [{"attribute": first_name, "value": "Changed"}, *[
                  a for a in content_attributes(source, te["trackedEntity"]) if a["attribute"] != first_name]]})
    for event in single[:10]:
        touch(source.state, "events", event["event"], {"dataValues": [
            {"dataElement": event["dataValues"][1]["dataElement"], "value": "99"}, event["dataValues"][0],
            event["dataValues"][2]]})
    # 5 deletions and 3 new relationships, through the source's own importer
    gone = [e["event"] for e in single[10:15]]
    assert import_tracker(source.state, {"events": [{"event": u} for u in gone]},
                          {"importStrategy": "DELETE"})["status"] == "OK"
    new = [sibling(f"Rel{i}aaaaaa{i}", tes[20 + 2 * i]["trackedEntity"], tes[21 + 2 * i]["trackedEntity"])
           for i in range(3)]
    assert import_tracker(source.state, {"relationships": new}, {})["status"] == "OK"
    # the destination will refuse one event: its org unit left the single-event programme
    outcast = next(e for e in single[15:] if e["orgUnit"] not in {c["orgUnit"] for c in single[:10]})
    units = [u for u in malaria["organisationUnits"] if u["id"] != outcast["orgUnit"]]
    source.state.update_object("programs", malaria["id"], {"organisationUnits": units})
    touch(source.state, "events", outcast["event"], {"status": "ACTIVE"})

    third = run_sync(sync_file, dagster_instance)
    assert not third.succeeded
    meta = tracker_metadata(dagster_instance, third.run_id)
    assert "E1029" in meta[malaria["id"]]["failure"] and outcast["event"] in meta[malaria["id"]]["failure"]
    assert [(r["errorCode"], r["uid"]) for r in meta[malaria["id"]]["rejected_objects_json"]] == [
        ("E1029", outcast["event"])]
    # exactly the changes moved: 10 TEs updated + 6 bumped by the new relationships (DHIS2 does),
    # 10 + 1 events, 5 deletions, 3 relationships
    assert int(meta[child["id"]]["read_trackedEntities"]) == 16
    assert int(meta[child["id"]]["read_events"]) == 0
    assert int(meta[malaria["id"]]["read_events"]) == 16
    assert int(meta[malaria["id"]]["deleted_events"]) == 5
    assert int(meta[child["id"]]["read_relationships"]) == 3
    expected = content(source, "events")
    arrived = content(destination, "events")
    assert arrived.pop(outcast["event"]) != expected.pop(outcast["event"])
    assert arrived == expected
    for kind in ("trackedEntities", "enrollments", "relationships"):
        assert content(destination, kind) == content(source, kind), kind


def content_attributes(server, uid: str) -> list[dict]:
    from dhis_sync_pipeline.emulator.tracker_store import store_of
    return [dict(a) for a in store_of(server.state).get("trackedEntities", uid)["attributes"]]
