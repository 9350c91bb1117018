"""Tracker data under faults: the runs end with the destination holding the source's tracked
entities, enrollments, events and relationships, and no run says SUCCESS while it does not.

A fault is injected on one emulator for the first run (step retries raised to 3, no delay, so
the product's own recovery is what is tested); a run the fault made fail is followed by one
without faults, which must succeed and leave the destination equal to the source.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dhis_sync_pipeline.config import load_config
from dhis_sync_pipeline_tests.sync.test_metadata_e2e import run_sync
from dhis_sync_pipeline_tests.tracker.helpers import content, seed_pair, tracker_section
from dhis_sync_pipeline_tests.tracker.test_tracker_e2e import KINDS

pytestmark = pytest.mark.slow
SIZES = {"tracked_entities": 30, "events_per_enrollment": 2, "single_events": 30, "relationships": 4}
FAULTS = {
    "destination: tracker import committed, then 500 x2": ("destination", {"fail_after_commit": 2, "fail_status": 500,
                                                                            "path_prefix": "/api/tracker"}),
    "destination: connection dropped x3 on /api/tracker": ("destination", {"drop": 3, "path_prefix": "/api/tracker"}),
    "source: 503 on 25% of tracker reads": ("source", {"error_rate": 0.25, "error_status": 503,
                                                       "path_prefix": "/api/tracker"}),
    "source: tracker page truncated x2": ("source", {"truncate": 2, "path_prefix": "/api/tracker/events"}),
}


def holds_source(source, destination) -> bool:
    return all(content(destination, kind) == content(source, kind) for kind in KINDS)


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_tracker_fault_ends_with_the_destination_holding_the_source(name, start_emulator, write_config,
                                                                      dagster_instance):
    side, settings = FAULTS[name]
    source, destination, metadata, _ = seed_pair(start_emulator, "2.42", **SIZES)
    write_config(source, destination, tracker_section(metadata, page_size=20))
    path = Path(os.environ["DHIS_SYNC_CONFIG"])
    path.write_text(path.read_text(encoding="utf-8").replace(
        "step_retries: {max_retries: 0}", "step_retries: {max_retries: 3, delay_seconds: 0}"), encoding="utf-8")
    sync_file = load_config(path)
    faulty = source if side == "source" else destination
    faulty.faults.configure(**settings)

    runs = [run_sync(sync_file, dagster_instance)]
    verdicts = [(runs[0].status, holds_source(source, destination))]
    faulty.faults.clear()
    if runs[-1].status != "SUCCESS":
        runs.append(run_sync(sync_file, dagster_instance))
        verdicts.append((runs[-1].status, holds_source(source, destination)))

    print(f"\n[tracker faults] {name}: injected {faulty.faults.injected()}, runs "
          + " -> ".join(f"{status} (holds the source: {holds})" for status, holds in verdicts))
    assert faulty.faults.injected(), "no fault was injected: the scenario proved nothing"
    assert all(holds for status, holds in verdicts if status == "SUCCESS"), verdicts  # honest
    assert verdicts[-1] == ("SUCCESS", True), (verdicts, runs[-1].table())
    for kind in KINDS:  # nothing lost, nothing extra, nothing changed on the way
        assert content(destination, kind) == content(source, kind), kind


def test_a_programme_missing_on_the_source_is_reported_before_anything_is_written(start_emulator, write_config,
                                                                                 dagster_instance):
    source, destination, metadata, _ = seed_pair(start_emulator, "2.42", **SIZES)
    section = tracker_section(metadata).replace("  programs: [", "  programs: [Abcdefghij1, ")
    sync_file = write_config(source, destination, section)
    destination.state.reset_request_log()

    summary = run_sync(sync_file, dagster_instance)

    assert summary.status == "FAILURE"
    failure = next(r for r in summary.resources if r.asset == "preflight").failure
    assert "tracker.programs[0] (line" in failure and "programme Abcdefghij1 does not exist" in failure
    assert not [e for e in destination.state.request_log if e[0] in ("POST", "PUT", "DELETE")]
