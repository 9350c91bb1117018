"""Tracker data end to end through the Dagster job, on every version the tracker API differs in."""

from __future__ import annotations

import pytest

from dhis_sync_pipeline.emulator.tracker_generator import sibling, tracker_programs
from dhis_sync_pipeline.emulator.tracker_import import import_tracker
from dhis_sync_pipeline.emulator.tracker_store import touch
from dhis_sync_pipeline_tests.sync.test_metadata_e2e import run_sync
from dhis_sync_pipeline_tests.tracker.helpers import content, seed_pair, tracker_section

KINDS = ("trackedEntities", "enrollments", "events", "relationships")


def tracker_counts(summary, name: str) -> int:
    return sum(r.counts.get(name, 0) for r in summary.resources if r.asset.startswith("tracker/"))


@pytest.mark.parametrize("version", ["2.38", "2.40", "2.41", "2.42", "2.43"])
def test_tracker_arrives_then_only_changes_move(version, start_emulator, write_config, dagster_instance):
    source, destination, metadata, payload = seed_pair(
        start_emulator, version, tracked_entities=40, events_per_enrollment=3, single_events=60, relationships=6)
    sync_file = write_config(source, destination, tracker_section(metadata, page_size=25))

    first = run_sync(sync_file, dagster_instance)
    assert first.succeeded, first.table()
    for kind in KINDS:
        assert content(destination, kind) == content(source, kind), kind
    assert len(content(destination, "events")) == 40 * 3 + 60

    second = run_sync(sync_file, dagster_instance)
    assert second.succeeded, second.table()
    assert tracker_counts(second, "created") + tracker_counts(second, "updated") + tracker_counts(second, "deleted") == 0
