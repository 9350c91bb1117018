"""Sync the tracker data of one programme: tracked entities, enrollments, events, relationships.

Scope: the programme's objects under the configured org unit roots (events: those occurred in
the window, if one is set). The first run reads the whole scope; later runs what changed since
the watermark (`updatedAfter`, with `includeDeleted=true` so deletions are seen). As for data
values the request starts before the watermark (`overlap_seconds`, for writes that committed
late) and rows the previous run already handed out (`updatedAt` before the watermark) are dropped
here, so nothing is posted twice.

Order: tracked entities, then enrollments, then events, relationships last (each read page is
posted at once, with `atomicMode=OBJECT`, while the next page is read); deletions are posted
with `importStrategy=DELETE`, children before parents. Every report is read to the object: each
rejection is an ObjectError with its code. A tracked entity counts as synced only when it and
its enrollments and events were accepted; the watermark may advance only when nothing was
rejected (the asset decides). Relationships are read with their tracked entities (a new
relationship bumps its tracked entities' `updatedAt` in DHIS2, DefaultTrackerBundleService).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dhis_sync_pipeline.config import ImportOptions, TrackerSection
from dhis_sync_pipeline.dhis2 import DHIS2Client, ObjectError
from dhis_sync_pipeline.dhis2.tracker import KINDS, iter_tracker, org_unit_params, post_tracker
from dhis_sync_pipeline.sync.metadata import format_watermark
from dhis_sync_pipeline.sync.read_ahead import read_ahead
from dhis_sync_pipeline.sync.tally import ImportTally

#: "does not exist" / "already deleted" codes (ValidationCode), harmless for a deletion.
ALREADY_GONE = frozenset({"E1063", "E1114", "E1081", "E1113", "E1032", "E1082", "E4016", "E4017"})
ProgressCallback = Callable[[int, int, int], None]
# Server-maintained or derived fields not posted back (the destination sets its own).
NOT_POSTED = ("createdAt", "updatedAt", "createdAtClient", "updatedAtClient", "deleted", "relationships",
              "programOwners", "enrollments", "events", "orgUnitName", "createdBy", "updatedBy")


@dataclass(kw_only=True)
class TrackerSyncOutcome(ImportTally):
    program: str
    program_type: str
    watermark: dt.datetime
    since: dt.datetime | None
    read_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    posted_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    deleted_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    already_synced: int = 0
    requests: int = 0
    tracked_entities_synced: int = 0  # accepted with all their enrollments and events

    @property
    def complete(self) -> bool:
        return not self.errors


def _stamp(text: Any) -> str:
    """A tracker timestamp in a comparable form (zone-less server-local text, milliseconds)."""
    return str(text or "")[:23]


def sync_program(
    source: DHIS2Client,
    destination: DHIS2Client,
    tracker: TrackerSection,
    program: str,
    *,
    since: dt.datetime | None,
    options: ImportOptions,
    progress: ProgressCallback = lambda p, e, t: None,
) -> TrackerSyncOutcome:
    started = time.monotonic()
    info = source.system_info()
    version = info.version
    program_type = (source.get(f"programs/{program}", {"fields": "id,programType"}) or {}).get(
        "programType", "WITH_REGISTRATION")
    outcome = TrackerSyncOutcome(program=program, program_type=program_type, watermark=info.server_date, since=since)
    since_text = format_watermark(since) if since else ""
    base: dict[str, Any] = {"program": program}
    if since is not None:
        base["updatedAfter"] = format_watermark(since - dt.timedelta(seconds=tracker.overlap_seconds))
        base["includeDeleted"] = "true" if tracker.propagate_deletions else "false"
    window = tracker.window(info.server_date.date())
    roots, mode = list(tracker.org_units), tracker.org_unit_mode
    deleted: dict[str, list[str]] = {k: [] for k in KINDS}
    relationships: dict[str, dict] = {}
    rejected_children: set[str] = set()  # tracked entities with a rejected enrollment or event
    enrollment_te: dict[str, str] = {}

    def pages(kind: str) -> Iterator[list[dict]]:
        if kind == "events":
            extra = {"fields": "*,!relationships"}
            if window:
                extra.update(occurredAfter=window[0].isoformat(), occurredBefore=window[1].isoformat())
            selections = [{**org_unit_params(version, kind, [root], mode), **extra} for root in roots]
        else:
            fields = "*,relationships" if kind == "trackedEntities" else "*,!relationships,!events"
            selections = [{**org_unit_params(version, kind, roots, mode), "fields": fields}]
        for selection in selections:
            for page in iter_tracker(source, version, kind, {**base, **selection}, tracker.page_size):
                outcome.requests += 1
                yield page

    def post(kind: str, objects: list[dict], strategy: str) -> set[str]:
        report = post_tracker(destination, {kind: objects}, import_strategy=strategy,
                              atomic_mode="OBJECT", dry_run=options.dry_run)
        if strategy == "DELETE":  # already gone (or never sent) is what a deletion wants
            report.errors = [e for e in report.errors if e.error_code not in ALREADY_GONE]
        outcome.created += report.created
        outcome.updated += report.updated
        outcome.deleted += report.deleted
        outcome.ignored += report.ignored
        outcome.errors.extend(report.errors)
        return {e.uid for e in report.errors if e.uid} or ({"*"} if report.status == "ERROR" else set())

    kinds = KINDS[:3] if program_type == "WITH_REGISTRATION" else ("events",)
    for kind in kinds:
        id_field = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event"}[kind]
        for page in read_ahead(pages(kind), name=f"dhis2-tracker-{kind}"):
            live = []
            for obj in page:
                if since is not None and _stamp(obj.get("updatedAt")) < since_text:
                    outcome.already_synced += 1
                    continue
                outcome.read += 1
                outcome.read_by_kind[kind] += 1
                if kind == "trackedEntities":
                    for rel in obj.get("relationships") or []:
                        relationships.setdefault(rel["relationship"], rel)
                if kind == "enrollments":
                    enrollment_te[obj["enrollment"]] = obj.get("trackedEntity")
                if obj.get("deleted"):
                    deleted[kind].append(obj[id_field])
                else:
                    live.append({k: v for k, v in obj.items() if k not in NOT_POSTED})
            if live:
                rejected = post(kind, live, options.import_strategy if options.import_strategy != "DELETE"
                                else "CREATE_AND_UPDATE")
                outcome.posted_by_kind[kind] += len(live)
                for obj in live:
                    if obj[id_field] in rejected or "*" in rejected:
                        te = obj.get("trackedEntity") or enrollment_te.get(obj.get("enrollment") or "")
                        if te:
                            rejected_children.add(te)
                if kind == "trackedEntities":
                    outcome.tracked_entities_synced += sum(1 for o in live if o["trackedEntity"] not in rejected)
            progress(outcome.read, len(outcome.errors), outcome.read)
    outcome.tracked_entities_synced = max(0, outcome.tracked_entities_synced - len(rejected_children))

    live_rels = [r for r in relationships.values() if not r.get("deleted")]
    gone_rels = [r["relationship"] for r in relationships.values() if r.get("deleted")]
    if live_rels:
        outcome.read_by_kind["relationships"] = len(relationships)
        post("relationships", [{k: v for k, v in r.items() if k not in NOT_POSTED} for r in live_rels],
             "CREATE_AND_UPDATE")
        outcome.posted_by_kind["relationships"] += len(live_rels)
    deleted["relationships"] = gone_rels
    if tracker.propagate_deletions:
        for kind in reversed(KINDS):  # children before parents
            uids = deleted[kind]
            if uids:
                id_field = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event",
                            "relationships": "relationship"}[kind]
                for start in range(0, len(uids), tracker.page_size):
                    chunk = uids[start:start + tracker.page_size]
                    post(kind, [{id_field: u} for u in chunk], "DELETE")
                outcome.deleted_by_kind[kind] += len(uids)
    outcome.duration_seconds = time.monotonic() - started
    progress(outcome.read, len(outcome.errors), outcome.read)
    return outcome


def describe(error: ObjectError) -> str:
    return f"{error.error_code or 'rejected'} {error.object_type or '?'} {error.uid or '?'}: {error.message}"
