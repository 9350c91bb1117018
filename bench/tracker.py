"""Tracker benchmark: the sync of tracked entities and events against a raw export + import floor.

    python -m bench.tracker [--version 2.42] [--tracked-entities 10000] [--events 100000]

Two emulators per measurement, the same generated content on the source (a tracker programme,
one enrollment per tracked entity, its events, the rest single events). The floor is the
plainest client possible in the same run: pages of the export read with `requests` and each posted
at once with `async=false`, no checks. The sync is `sync_program` (paging as the version wants,
async jobs polled to their report, rejections read to the object). Prints what arrived against
the source's counts, events/s and tracked entities/s of both and their ratio (target ≥ 0.8), then
a second sync from the first one's watermarks, which must move nothing.
"""

from __future__ import annotations

import argparse
import time

import requests

from dhis_sync_pipeline.config import ImportOptions, TrackerSection
from dhis_sync_pipeline.dhis2 import BasicAuth, DHIS2Client
from dhis_sync_pipeline.emulator import EmulatorServer
from dhis_sync_pipeline.emulator.generator import generate_metadata
from dhis_sync_pipeline.emulator.tracker_generator import add_relationship_types, seed_tracker, tracker_programs
from dhis_sync_pipeline.emulator.tracker_store import store_of
from dhis_sync_pipeline.sync.tracker import sync_program

AUTH = ("admin", "district")


def _servers(version: str, metadata: dict, sizes: dict) -> tuple[EmulatorServer, EmulatorServer]:
    source = EmulatorServer(version=version)
    source.state.import_metadata(metadata)
    seed_tracker(source.state, metadata, **sizes)
    destination = EmulatorServer(version=version)
    destination.state.import_metadata(metadata)
    add_relationship_types(destination.state, metadata)
    return source.start(), destination.start()


def raw_floor(source: EmulatorServer, destination: EmulatorServer, programs: list[dict], root: str,
              page_size: int) -> float:
    """Export every page and post it as it comes (async=false), children after parents."""
    session = requests.Session()
    session.auth = AUTH
    new = source.state.version_tuple() >= (2, 41)
    started = time.perf_counter()
    for program in programs:
        kinds = ("trackedEntities", "enrollments", "events") if program["programType"] == "WITH_REGISTRATION" \
            else ("events",)
        for kind in kinds:
            units = {"orgUnit": root} if kind == "events" or not new else {"orgUnits": root}
            units["orgUnitMode" if new else "ouMode"] = "DESCENDANTS"
            page = 1
            while True:
                body = session.get(f"{source.base_url}/api/tracker/{kind}", params={
                    "program": program["id"], "page": page, "pageSize": page_size, **units}, timeout=300).json()
                items = body.get(kind, body.get("instances", []))
                if items:
                    session.post(f"{destination.base_url}/api/tracker", params={
                        "async": "false", "atomicMode": "OBJECT"}, json={kind: items}, timeout=300).raise_for_status()
                if len(items) < page_size:
                    break
                page += 1
    return time.perf_counter() - started


def measure(version: str, tracked_entities: int, events: int, page_size: int) -> dict:
    metadata = generate_metadata(org_units=200, levels=4, data_elements=10, data_sets=1, tracker=True)
    per_enrollment = max(1, events // (2 * max(1, tracked_entities)))
    sizes = {"tracked_entities": tracked_entities, "events_per_enrollment": per_enrollment,
             "single_events": max(0, events - tracked_entities * per_enrollment), "relationships": 0}
    child, malaria = tracker_programs(metadata)
    root = metadata["organisationUnits"][0]["id"]
    results: dict = {"version": version}

    source, floor_destination = _servers(version, metadata, sizes)
    try:
        results["floor_seconds"] = raw_floor(source, floor_destination, [child, malaria], root, page_size)
    finally:
        floor_destination.stop()
    destination = EmulatorServer(version=version)
    destination.state.import_metadata(metadata)
    add_relationship_types(destination.state, metadata)
    destination.start()
    try:
        tracker = TrackerSection(programs=(child["id"], malaria["id"]), org_units=(root,), page_size=page_size)
        auth = BasicAuth("admin", "district")
        with DHIS2Client(source.base_url, auth, name="source", poll_interval=0.05) as src, \
                DHIS2Client(destination.base_url, auth, name="destination", poll_interval=0.05) as dst:
            started = time.perf_counter()
            errors = 0
            watermarks = {}
            for program in (child["id"], malaria["id"]):
                outcome = sync_program(src, dst, tracker, program, since=None, options=ImportOptions())
                errors += len(outcome.errors)
                watermarks[program] = outcome.watermark
            results["sync_seconds"] = time.perf_counter() - started
            # A second run from the first run's watermarks, nothing changed: it must move nothing.
            started = time.perf_counter()
            moved = 0
            for program, since in watermarks.items():
                again = sync_program(src, dst, tracker, program, since=since, options=ImportOptions())
                moved += again.created + again.updated + again.deleted + len(again.errors)
            results["second_run_seconds"] = time.perf_counter() - started
            results["second_run_moved"] = moved
        results["errors"] = errors
        store, theirs = store_of(destination.state), store_of(source.state)
        results["events"] = store.count("events")
        results["tracked_entities"] = store.count("trackedEntities")
        results["enrollments"] = store.count("enrollments")
        results["complete"] = all(store.count(kind) == theirs.count(kind)
                                  for kind in ("trackedEntities", "enrollments", "events"))
    finally:
        destination.stop()
        source.stop()
    for who in ("floor", "sync"):
        seconds = results[f"{who}_seconds"]
        results[f"{who}_events_per_s"] = round(results["events"] / seconds, 1)
        results[f"{who}_tes_per_s"] = round(results["tracked_entities"] / seconds, 1)
    results["ratio"] = round(results["floor_seconds"] / results["sync_seconds"], 2)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="append", help="DHIS2 version(s) to emulate (default 2.42)")
    parser.add_argument("--tracked-entities", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1_000)
    args = parser.parse_args(argv)
    for version in args.version or ["2.42"]:
        r = measure(version, args.tracked_entities, args.events, args.page_size)
        print(f"{r['version']}: {r['tracked_entities']} TEs, {r['enrollments']} enrollments, {r['events']} events "
              f"on the destination ({'all' if r['complete'] else 'NOT all'} of the source's), errors {r['errors']} | "
              f"floor {r['floor_seconds']:.1f} s ({r['floor_events_per_s']} events/s, {r['floor_tes_per_s']} TEs/s) | "
              f"sync {r['sync_seconds']:.1f} s ({r['sync_events_per_s']} events/s, {r['sync_tes_per_s']} TEs/s) | "
              f"ratio {r['ratio']} | second run: {r['second_run_moved']} moved in {r['second_run_seconds']:.1f} s",
              flush=True)


if __name__ == "__main__":
    main()
