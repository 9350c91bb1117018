"""Sync DHIS2 metadata types from a source to a destination.

Reads only what changed since each type's watermark (`fields=:owner`, `lastUpdated:ge:`), cleans
each object for the destination, posts them in payloads through `/api/metadata` with
`identifier=UID`, and reads every import report to the end. Knows nothing about Dagster: the asset around it decides
what the outcome means for the run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dhis_sync_pipeline.config import ImportOptions, PageSizes
from dhis_sync_pipeline.dhis2 import DHIS2Client, ImportResult
from dhis_sync_pipeline.dhis2.metadata_types import METADATA_TYPES, in_import_order, upstream_types
from dhis_sync_pipeline.sync.references import CleaningReport, DestinationDirectory, clean_object
from dhis_sync_pipeline.sync.tally import ImportTally

T = TypeVar("T")
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


def sync_metadata_types(
    source: DHIS2Client,
    destination: DHIS2Client,
    since_by_type: Mapping[str, dt.datetime | None],
    *,
    options: ImportOptions,
    page_sizes: PageSizes,
    directory: DestinationDirectory,
    propagate_deletions: bool = False,
    progress: Callable[[str], ProgressCallback] | None = None,
) -> dict[str, MetadataSyncOutcome]:
    """Bring several types on the destination up to date with the source, each since its own
    watermark (None: everything), with as few requests as the Web API allows.

    One `GET /api/metadata` of ids tells what changed per type; the changed objects of all types
    come in one more `GET /api/metadata` (a type with more than `metadata_export` changes is read
    in pages instead); they are posted in payloads of up to `metadata_write` objects of any types
    in dependency order, because DHIS2 orders the types inside one payload itself and type by
    type fails on an empty destination. Every type is attempted whatever another type's
    rejections: DHIS2 rejects, object by object, what references a rejected object.
    """
    began = time.monotonic()
    watermark = source.system_info().server_date
    collections = dependency_order(list(since_by_type))
    outcomes = {c: MetadataSyncOutcome(collection=c, watermark=watermark, since=since_by_type[c]) for c in collections}
    filters = {c: _since_filters(since_by_type[c]) for c in collections}
    changed = source.export_metadata(filters, fields="id")
    reporters = {c: (progress(c) if progress else _no_progress) for c in collections}
    to_read = [c for c in collections if changed[c]]
    for collection in to_read:  # a type with nothing to do has nothing to report until it is done
        reporters[collection](0, 0, len(changed[collection]))

    objects = _read_changed(source, to_read, filters, {c: len(changed[c]) for c in to_read}, page_sizes)
    for chunk in _chunks(objects, page_sizes.metadata_write):
        payload: dict[str, list[dict[str, Any]]] = {}
        for collection, obj in chunk:
            outcome = outcomes[collection]
            payload.setdefault(collection, []).append(clean_object(obj, collection, directory, outcome.cleaned))
            outcome.read += 1
        result = destination.post_metadata(payload, **import_params(options))
        _add_by_type(result, payload, outcomes)
        for collection in payload:
            outcome = outcomes[collection]
            reporters[collection](outcome.read, len(outcome.errors), max(len(changed[collection]), outcome.read))

    if propagate_deletions:
        _propagate_deletions(source, destination, outcomes, options)

    elapsed = time.monotonic() - began
    for outcome in outcomes.values():
        outcome.duration_seconds = elapsed  # one step synced them all, so each took the whole time
    return outcomes


def dependency_order(collections: list[str]) -> list[str]:
    """Referenced types first (DHIS2's order where nothing is referenced), so that a type split
    over two payloads finds what it references already on the destination."""
    selected = frozenset(collections)
    ordered: list[str] = []
    pending = in_import_order(collections)
    while pending:
        ready = next(c for c in pending if upstream_types(c, selected) <= set(ordered))
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def list_uids(client: DHIS2Client, collections: Iterable[str]) -> dict[str, set[str]]:
    """Every UID of these types on a server, in one `GET /api/metadata`."""
    found = client.export_metadata({c: () for c in collections}, fields="id")
    return {collection: {obj["id"] for obj in objects} for collection, objects in found.items()}


def _since_filters(since: dt.datetime | None) -> list[str]:
    return [f"lastUpdated:ge:{format_watermark(since)}"] if since else []


def _no_progress(processed: int, errors: int, expected: int) -> None:
    return None


def _read_changed(
    source: DHIS2Client,
    collections: list[str],
    filters: Mapping[str, list[str]],
    counts: Mapping[str, int],
    page_sizes: PageSizes,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The changed objects, type by type in the given order, as (type, object)."""
    together = [c for c in collections if counts[c] <= page_sizes.metadata_export]
    exported: dict[str, list[dict[str, Any]]] = {}
    for batch in _batches(together, counts, page_sizes.metadata_export):
        exported.update(source.export_metadata({c: filters[c] for c in batch}))
    for collection in collections:
        if collection in exported:
            objects: Iterable[dict[str, Any]] = exported.pop(collection)
        else:  # too big for one answer
            objects = _changed_objects(source, collection, filters[collection], page_sizes.metadata_read)
        for obj in _parents_first(collection, iter(objects)):
            yield collection, obj


def _batches(collections: list[str], counts: Mapping[str, int], limit: int) -> Iterator[list[str]]:
    """Group types so that one export answer holds at most `limit` objects."""
    batch: list[str] = []
    size = 0
    for collection in collections:
        if batch and size + counts[collection] > limit:
            yield batch
            batch, size = [], 0
        batch.append(collection)
        size += counts[collection]
    if batch:
        yield batch


def _add_by_type(result: ImportResult, payload: Mapping[str, list], outcomes: Mapping[str, MetadataSyncOutcome]) -> None:
    """Share one payload's import report out to its types by the typeReports' classes."""
    by_klass = {METADATA_TYPES[c].klass: c for c in payload}
    for klass, counts in result.type_counts.items():
        collection = by_klass.get(klass)
        if collection is not None:
            outcome = outcomes[collection]
            outcome.created += counts["created"]
            outcome.updated += counts["updated"]
            outcome.deleted += counts["deleted"]
            outcome.ignored += counts["ignored"]
    if result.errors:
        for error in result.errors:
            # An error naming no type of the payload cannot be placed: it holds back every type
            # of the payload, so that no watermark passes over it.
            named = by_klass.get(error.object_type or "")
            for collection in [named] if named else list(payload):
                outcomes[collection].errors.append(error)
    elif result.has_errors:  # a failed import that names no object still counts, once per type
        for collection in payload:
            outcomes[collection].errors.extend(result.rejections(METADATA_TYPES[collection].klass))


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


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
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
    outcomes: Mapping[str, MetadataSyncOutcome],
    options: ImportOptions,
) -> None:
    """Delete on the destination what the source deleted since each type's watermark."""
    for collection, outcome in outcomes.items():
        if outcome.since is None:
            continue  # a first or full sync has no "since" to look for deletions from
        klass = METADATA_TYPES[collection].klass
        deleted = sorted({entry["uid"] for entry in source.iter_deleted_objects(klass, outcome.since)})
        if not deleted:
            continue
        # Deleting what the destination never had is an error in DHIS2; already gone is success.
        present = [obj["id"] for chunk in destination.get_by_ids(collection, deleted, fields="id") for obj in chunk]
        for chunk in _chunks(({"id": uid} for uid in present), 500):
            outcome.add(destination.post_metadata({collection: chunk}, **import_params(options, "DELETE")))
