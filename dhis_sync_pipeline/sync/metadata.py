"""Sync one DHIS2 metadata type from a source to a destination.

Reads only what changed since the watermark (`fields=:owner`, `lastUpdated:ge:`), cleans each
object for the destination, posts it in chunks through `/api/metadata` with `identifier=UID`, and
reads every import report to the end. Knows nothing about Dagster: the asset around it decides
what the outcome means for the run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dhis_sync_pipeline.config import ImportOptions, PageSizes
from dhis_sync_pipeline.dhis2 import DHIS2Client, ImportResult
from dhis_sync_pipeline.dhis2.metadata_types import METADATA_TYPES
from dhis_sync_pipeline.sync.references import CleaningReport, DestinationDirectory, clean_object
from dhis_sync_pipeline.sync.tally import ImportTally

ProgressCallback = Callable[[int, int, int], None]  # (processed, errors, total expected)


@dataclass(kw_only=True)
class MetadataSyncOutcome(ImportTally):
    collection: str
    watermark: dt.datetime  # the source's clock when this sync started
    since: dt.datetime | None
    cleaned: CleaningReport = field(default_factory=CleaningReport)

    def add(self, result: ImportResult) -> None:
        self.add_counts(result)
        self.errors.extend(result.rejections(self.collection))


def import_params(options: ImportOptions, strategy: str | None = None) -> dict[str, str]:
    """The `/api/metadata` query parameters for the configuration's import options."""
    return {
        "identifier": "UID",
        "importStrategy": strategy or options.import_strategy,
        "atomicMode": options.atomic_mode,
        "mergeMode": options.merge_mode,
        "skipSharing": str(options.skip_sharing).lower(),
        "importMode": "VALIDATE" if options.dry_run else "COMMIT",
        "importReportMode": "ERRORS",
    }


def format_watermark(moment: dt.datetime) -> str:
    """DHIS2's timestamp form: no zone, milliseconds, in the server's own time zone."""
    return moment.isoformat(timespec="milliseconds")


def sync_metadata_type(
    source: DHIS2Client,
    destination: DHIS2Client,
    collection: str,
    *,
    since: dt.datetime | None,
    options: ImportOptions,
    page_sizes: PageSizes,
    directory: DestinationDirectory,
    propagate_deletions: bool = False,
    progress: ProgressCallback | None = None,
) -> MetadataSyncOutcome:
    """Bring `collection` on the destination up to date with the source since `since`."""
    began = time.monotonic()
    outcome = MetadataSyncOutcome(collection=collection, watermark=source.system_info().server_date, since=since)
    filters = [f"lastUpdated:ge:{format_watermark(since)}"] if since else []
    total = source.count(collection, filters=filters)
    report_progress = progress or (lambda processed, errors, expected: None)
    report_progress(0, 0, total)

    objects = _changed_objects(source, collection, filters, page_sizes.metadata_read)
    for chunk in _chunks(objects, page_sizes.metadata_write):
        payload = [clean_object(obj, collection, directory, outcome.cleaned) for obj in chunk]
        outcome.read += len(payload)
        outcome.add(destination.post_metadata({collection: payload}, **import_params(options)))
        report_progress(outcome.read, len(outcome.errors), max(total, outcome.read))

    if propagate_deletions and since is not None:
        _propagate_deletions(source, destination, collection, since, options, outcome)

    outcome.duration_seconds = time.monotonic() - began
    return outcome


def resend_objects(
    source: DHIS2Client,
    destination: DHIS2Client,
    collection: str,
    uids: Iterable[str],
    *,
    options: ImportOptions,
    page_sizes: PageSizes,
    directory: DestinationDirectory,
    outcome: MetadataSyncOutcome,
) -> int:
    """Send these objects again, whatever their lastUpdated: how the destination is healed when
    it lacks what a watermark says was synced (a restored backup, a reset database)."""
    objects = _parents_first(collection, (obj for page in source.get_by_ids(collection, uids) for obj in page))
    sent = 0
    for chunk in _chunks(objects, page_sizes.metadata_write):
        payload = [clean_object(obj, collection, directory, outcome.cleaned) for obj in chunk]
        sent += len(payload)
        outcome.add(destination.post_metadata({collection: payload}, **import_params(options)))
    return sent


def _changed_objects(
    source: DHIS2Client, collection: str, filters: list[str], page_size: int
) -> Iterator[dict[str, Any]]:
    pages = source.iter_pages(collection, fields=":owner", filters=filters, page_size=page_size)
    return _parents_first(collection, (obj for page in pages for obj in page))


def _parents_first(collection: str, objects: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    if not METADATA_TYPES[collection].is_org_unit_tree:
        yield from objects
        return
    # Parents must exist before their children are posted in a later chunk: sort the changed
    # units by depth in the tree. Org unit trees are small enough to hold (tens of thousands).
    units = sorted(objects, key=_depth)
    yield from units


def _depth(unit: dict[str, Any]) -> int:
    path = unit.get("path")
    if isinstance(path, str) and path:
        return path.count("/")
    return int(unit.get("level") or 0)


def _chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _propagate_deletions(
    source: DHIS2Client,
    destination: DHIS2Client,
    collection: str,
    since: dt.datetime,
    options: ImportOptions,
    outcome: MetadataSyncOutcome,
) -> None:
    klass = METADATA_TYPES[collection].klass
    deleted = sorted({entry["uid"] for entry in source.iter_deleted_objects(klass, since)})
    if not deleted:
        return
    # Deleting what the destination never had is an error in DHIS2; already gone is success.
    present = [obj["id"] for chunk in destination.get_by_ids(collection, deleted, fields="id") for obj in chunk]
    for chunk in _chunks(({"id": uid} for uid in present), 500):
        outcome.add(destination.post_metadata({collection: chunk}, **import_params(options, "DELETE")))
