"""Watermarks live in Dagster's own event log, as metadata of an asset's materializations.

A materialization is only recorded when a step succeeds, so "the latest materialization's
watermark" is exactly "the source's clock when the last successful sync of this asset started",
in whatever storage the Dagster instance uses (SQLite or PostgreSQL), with its history in the UI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dagster import AssetKey, DagsterInstance, EventLogEntry

from dhis_sync_pipeline.orchestration.tags import FULL_SYNC_TAG

WATERMARK_KEY = "watermark"


def last_watermark(instance: DagsterInstance, asset_key: AssetKey) -> dt.datetime | None:
    return _watermark(instance.get_latest_materialization_event(asset_key))


def _watermark(event: EventLogEntry | None) -> dt.datetime | None:
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(WATERMARK_KEY)
    if value is None or not getattr(value, "value", None):
        return None
    return dt.datetime.fromisoformat(str(value.value))


def wants_full_sync(run_tags: dict[str, str]) -> bool:
    """A run tagged `dhis_sync/full_sync=true` ignores watermarks (periodic or manual full sync)."""
    return run_tags.get(FULL_SYNC_TAG, "").lower() == "true"


DESTINATION_SYSTEM_KEY = "destination_system_id"


def sync_since(
    instance: DagsterInstance, asset_key: AssetKey, run_tags: dict[str, str], destination_system_id: str | None
) -> tuple[dt.datetime | None, str]:
    """Where this run's sync of an asset starts, and why, in words for the run's log."""
    return sync_since_all(instance, [asset_key], run_tags, destination_system_id)[asset_key]


def sync_since_all(
    instance: DagsterInstance, asset_keys: Sequence[AssetKey], run_tags: dict[str, str],
    destination_system_id: str | None,
) -> dict[AssetKey, tuple[dt.datetime | None, str]]:
    """`sync_since` of several assets, read from the event log in one query (the metadata step
    asks for every type at once).

    A destination whose `systemId` changed since the last sync is another database (a restored
    or re-installed server): its watermark says nothing about it, so everything is sent again.
    """
    if wants_full_sync(run_tags):
        return {key: (None, "full sync requested") for key in asset_keys}
    events = instance.get_latest_materialization_events(asset_keys)
    return {key: _since(events.get(key), destination_system_id) for key in asset_keys}


def _since(event: EventLogEntry | None, destination_system_id: str | None) -> tuple[dt.datetime | None, str]:
    if event is None or event.asset_materialization is None:
        return None, "first sync"
    recorded = event.asset_materialization.metadata.get(DESTINATION_SYSTEM_KEY)
    recorded_id = getattr(recorded, "value", None)
    if recorded_id and destination_system_id and recorded_id != destination_system_id:
        return None, (
            f"the destination's systemId changed from {recorded_id} to {destination_system_id} (another or "
            "restored database): full sync"
        )
    since = _watermark(event)
    return since, f"changes since {since.isoformat(timespec='milliseconds')}" if since else "first sync"
