"""One Dagster asset per (configuration, programme) for tracker and event data.

Key `[<config_id>, "tracker", <program uid>]`. It depends on the preflight step and on the metadata
assets its objects refer to (programs, programStages, trackedEntityTypes, trackedEntityAttributes,
organisationUnits, optionSets, options, dataElements — those the configuration syncs), so nothing
is posted before its metadata exists on the destination. Progress goes to `sync_progress` like
the data assets'. The watermark (source clock at the start) is recorded only when nothing was
rejected; rejections are listed with their codes and fail the step beyond `error_tolerance`.

A blocking check, `destination_holds_source_tracker`, compares the uids of every kind per org
unit on both sides (source scope vs destination) after the sync and fails the run on any
difference. Self-contained (keys spelled here) until the orchestration refactor folds it in.
"""


from collections import Counter
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from dhis_sync_pipeline.config import SyncConfig
from dhis_sync_pipeline.dhis2.tracker import iter_tracker, org_unit_params
from dhis_sync_pipeline.orchestration.failures import dhis2_failures
from dhis_sync_pipeline.orchestration.rejections import failure_text, log_rejections, markdown_table
from dhis_sync_pipeline.orchestration.resources import resource_key
from dhis_sync_pipeline.orchestration.watermarks import DESTINATION_SYSTEM_KEY, WATERMARK_KEY, sync_since
from dhis_sync_pipeline.sync.metadata import format_watermark
from dhis_sync_pipeline.sync.tracker import TrackerSyncOutcome, describe, sync_program

REFERENCED_METADATA = ("organisationUnits", "options", "optionSets", "dataElements", "trackedEntityAttributes",
                       "trackedEntityTypes", "programStages", "programs")
TRACKER_CHECK = "destination_holds_source_tracker"


def tracker_key(config: SyncConfig, program: str) -> AssetKey:
    return AssetKey([config.id, "tracker", program])


def build_tracker_assets(config: SyncConfig) -> list:
    """Per programme, its sync asset and its blocking check; none without a `tracker:` section."""
    tracker = getattr(config, "tracker", None)
    if tracker is None:
        return []
    built: list = []
    for program in tracker.programs:
        built += [_build_one(config, program), _build_check(config, program)]
    return built


def _build_one(config: SyncConfig, program: str):
    key = tracker_key(config, program)
    source_key, destination_key = resource_key(config.source), resource_key(config.destination)
    upstream = [AssetKey([config.id, "preflight"])] + [
        AssetKey([config.id, "metadata", t]) for t in REFERENCED_METADATA if t in config.metadata_resources]
    tracker = config.tracker
    assert tracker is not None

    @asset(
        key=key,
        group_name=config.id,
        deps=upstream,
        required_resource_keys={source_key, destination_key, "sync_progress"},
        kinds={"dhis2"},
        tags={"dhis_sync/kind": "tracker"},
        description=f"Tracker data (tracked entities, enrollments, events, relationships) of programme "
        f"{program} from {config.source} to {config.destination}.",
    )
    def sync_tracker(context: AssetExecutionContext) -> MaterializeResult:
        with dhis2_failures(config.step_retries.max_retries, config.step_retries.delay_seconds):
            source = getattr(context.resources, source_key).client()
            destination = getattr(context.resources, destination_key).client()
            try:
                system_id = destination.system_info().system_id
                since, reason = sync_since(context.instance, key, context.run.tags, system_id)
                context.log.info(f"programme {program}: {reason}, from {config.source} to {config.destination}")
                outcome = sync_program(
                    source, destination, tracker, program, since=since, options=config.import_options,
                    progress=context.resources.sync_progress.reporter(
                        context, config_id=config.id, resource=program, kind="tracker"),
                )
            finally:
                source.close()
                destination.close()
        metadata = _metadata(outcome)
        metadata[DESTINATION_SYSTEM_KEY] = system_id or ""
        if not outcome.complete or config.import_options.dry_run:
            # not everything arrived: the next run reads from the same point again
            metadata[WATERMARK_KEY] = format_watermark(since) if since else ""
        lines = [f"tracker object rejected: {describe(e)}" for e in outcome.errors]
        log_rejections(context, lines, "rejected_objects")
        context.log.info(_summary(outcome))
        if len(outcome.errors) > config.error_tolerance:
            raise Failure(
                description=failure_text(
                    f"{config.destination} rejected {len(outcome.errors)} tracker objects of programme {program} "
                    f"(tolerance {config.error_tolerance}); accepted objects stay committed, the watermark was not "
                    "advanced so the next run retries them.", [describe(e) for e in outcome.errors]),
                metadata=metadata, allow_retries=False)
        return MaterializeResult(metadata=metadata)

    return sync_tracker


def _summary(outcome: TrackerSyncOutcome) -> str:
    read = ", ".join(f"{k} {v}" for k, v in outcome.read_by_kind.items())
    gone = ", ".join(f"{k} {v}" for k, v in outcome.deleted_by_kind.items() if v) or "none"
    return (f"programme {outcome.program}: read {read} in {outcome.requests} pages; created {outcome.created}, "
            f"updated {outcome.updated}, deleted {outcome.deleted} (deletions: {gone}), errors {len(outcome.errors)}, "
            f"{outcome.per_second} objects/s")


def _metadata(outcome: TrackerSyncOutcome) -> dict[str, Any]:
    rows = [[e.object_type or "", e.uid or "", e.error_code or "", e.message] for e in outcome.errors]
    return {
        "read": outcome.read,
        **{f"read_{k}": v for k, v in outcome.read_by_kind.items()},
        **{f"deleted_{k}": v for k, v in outcome.deleted_by_kind.items()},
        "created": outcome.created,
        "updated": outcome.updated,
        "deleted": outcome.deleted,
        "ignored": outcome.ignored,
        "errors": len(outcome.errors),
        "tracked_entities_synced": outcome.tracked_entities_synced,
        "already_synced_in_overlap": outcome.already_synced,
        "export_requests": outcome.requests,
        WATERMARK_KEY: format_watermark(outcome.watermark),
        "since": format_watermark(outcome.since) if outcome.since else "first run",
        "duration_seconds": round(outcome.duration_seconds, 3),
        "objects_per_second": outcome.per_second,
        "rejected_objects": MetadataValue.md(markdown_table(
            ["type", "uid", "errorCode", "message"], rows, "rejected_objects_json", "No object was rejected.")),
        "rejected_objects_json": MetadataValue.json(
            [{"type": e.object_type, "uid": e.uid, "errorCode": e.error_code, "message": e.message}
             for e in outcome.errors]),
    }


def scope_counts(client, program: str, tracker, program_type: str) -> dict[str, Counter]:
    """uids per kind and org unit of a programme's scope (live objects only)."""
    version = client.system_info().version
    counts: dict[str, Counter] = {}
    kinds = ("trackedEntities", "enrollments", "events") if program_type == "WITH_REGISTRATION" else ("events",)
    roots = list(tracker.org_units)
    for kind in kinds:
        id_field = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event"}[kind]
        selections = ([org_unit_params(version, kind, [r], tracker.org_unit_mode) for r in roots]
                      if kind == "events" else [org_unit_params(version, kind, roots, tracker.org_unit_mode)])
        seen: Counter = Counter()
        for selection in selections:
            params = {"program": program, "fields": f"{id_field},orgUnit", **selection}
            window = tracker.window(client.system_info().server_date.date()) if kind == "events" else None
            if window:
                params.update(occurredAfter=window[0].isoformat(), occurredBefore=window[1].isoformat())
            for page in iter_tracker(client, version, kind, params, tracker.page_size):
                seen.update(f"{o.get('orgUnit')}/{o[id_field]}" for o in page)
        counts[kind] = seen
    return counts


def _build_check(config: SyncConfig, program: str):
    source_key, destination_key = resource_key(config.source), resource_key(config.destination)
    tracker = config.tracker
    assert tracker is not None

    @asset_check(
        asset=tracker_key(config, program),
        name=TRACKER_CHECK,
        blocking=True,
        required_resource_keys={source_key, destination_key},
        description="The destination holds the source's tracked entities, enrollments and events of the "
        "programme in scope, org unit by org unit.",
    )
    def verify_tracker(context: AssetCheckExecutionContext) -> AssetCheckResult:
        if config.import_options.dry_run:
            return AssetCheckResult(passed=True, metadata={"skipped": "dry run: nothing was written"})
        with dhis2_failures(config.step_retries.max_retries, config.step_retries.delay_seconds):
            source = getattr(context.resources, source_key).client()
            destination = getattr(context.resources, destination_key).client()
            try:
                program_type = (source.get(f"programs/{program}", {"fields": "id,programType"}) or {}).get(
                    "programType", "WITH_REGISTRATION")
                theirs = scope_counts(source, program, tracker, program_type)
                ours = scope_counts(destination, program, tracker, program_type)
            finally:
                source.close()
                destination.close()
        metadata: dict[str, Any] = {}
        missing_total = extra_total = 0
        for kind, wanted in theirs.items():
            have = ours.get(kind, Counter())
            missing, extra = wanted - have, have - wanted
            missing_total += sum(missing.values())
            extra_total += sum(extra.values())
            metadata[f"source_{kind}"] = sum(wanted.values())
            metadata[f"destination_{kind}"] = sum(have.values())
            metadata[f"missing_{kind}"] = sum(missing.values())
            if missing or extra:
                sample = ", ".join(sorted(missing)[:10]) or ", ".join(sorted(extra)[:10])
                context.log.error(f"programme {program}: {kind} differ: {sum(missing.values())} missing, "
                                  f"{sum(extra.values())} extra on the destination (org unit/uid: {sample})")
        metadata["missing"], metadata["extra"] = missing_total, extra_total
        return AssetCheckResult(passed=missing_total == 0 and extra_total == 0,
                                severity=AssetCheckSeverity.ERROR, metadata=metadata)

    return verify_tracker
