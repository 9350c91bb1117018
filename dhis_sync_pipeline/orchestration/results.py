"""What a step tells about its outcome: materialization metadata, log lines and failure texts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dagster import MetadataValue

from dhis_sync_pipeline.dhis2 import ObjectError
from dhis_sync_pipeline.orchestration.rejections import failure_text, markdown_table
from dhis_sync_pipeline.orchestration.watermarks import WATERMARK_KEY
from dhis_sync_pipeline.sync.data_values import KEY, DataSyncOutcome
from dhis_sync_pipeline.sync.data_verification import DataVerification
from dhis_sync_pipeline.sync.metadata import MetadataSyncOutcome, format_watermark
from dhis_sync_pipeline.sync.tally import ImportTally
from dhis_sync_pipeline.sync.tracker import TrackerSyncOutcome, describe
from dhis_sync_pipeline.sync.tracker_verification import TrackerComparison


def tally(outcome: ImportTally) -> dict[str, int]:
    """The counts every sync step's materialization carries (and run summaries read back)."""
    return {
        "read": outcome.read,
        "created": outcome.created,
        "updated": outcome.updated,
        "deleted": outcome.deleted,
        "ignored": outcome.ignored,
        "errors": len(outcome.errors),
    }


# ------------------------------------------------------------------------------------ metadata


def metadata_metadata(outcome: MetadataSyncOutcome) -> dict[str, Any]:
    return {
        **tally(outcome),
        WATERMARK_KEY: format_watermark(outcome.watermark),
        "since": format_watermark(outcome.since) if outcome.since else "full sync",
        "duration_seconds": round(outcome.duration_seconds, 3),  # of the step that synced every type
        "objects_per_second": outcome.per_second,
        "references_removed": MetadataValue.json(outcome.cleaned.summary()),
        "rejected_objects": MetadataValue.md(_object_table(outcome.errors)),
        "rejected_objects_json": MetadataValue.json([object_error_json(e) for e in outcome.errors]),
    }


def metadata_log_line(outcome: MetadataSyncOutcome) -> str:
    line = (
        f"{outcome.collection}: read {outcome.read}, created {outcome.created}, updated {outcome.updated}, "
        f"deleted {outcome.deleted}, ignored {outcome.ignored}, rejected {len(outcome.errors)}"
    )
    removed = outcome.cleaned.summary()
    if removed:
        line += "; references removed: " + ", ".join(f"{count} {what}" for what, count in sorted(removed.items()))
    return line


def object_error_json(error: ObjectError) -> dict[str, Any]:
    return {
        "uid": error.uid,
        "type": error.object_type,
        "errorCode": error.error_code,
        "property": error.property,
        "message": error.message,
    }


def _object_table(errors: list[ObjectError]) -> str:
    rows = [[e.uid or "", e.object_type or "", e.error_code or "", e.property or "", e.message] for e in errors]
    header = ["uid", "type", "errorCode", "property", "message"]
    return markdown_table(header, rows, "rejected_objects_json", "No object was rejected.")


def metadata_failure(config_id: str, destination: str, problems: list[str], rejections: list[str]) -> str:
    return failure_text(
        f"Configuration {config_id}: the destination {destination} does not hold all the metadata this run was "
        f"asked to sync ({'; '.join(problems)}). Everything else was synced and stays committed; the "
        "watermark of a type with rejections was not advanced, so the next run retries those types.",
        rejections,
    )


# ---------------------------------------------------------------------------------------- data


def data_metadata(outcome: DataSyncOutcome) -> dict[str, Any]:
    slices = outcome.slices
    return {
        **tally(outcome),
        "chunks": outcome.chunks,
        "export_requests": slices.requests,
        "slice_splits": slices.splits,
        # Rows a split slice's parts sent again (already handed out, skipped): the cost of a low cap.
        "rows_read_again": slices.rows_skipped,
        "already_synced_in_overlap": outcome.already_synced,
        "registrations": outcome.registrations,
        WATERMARK_KEY: format_watermark(outcome.watermark),
        "since": format_watermark(outcome.since) if outcome.since else "first run",
        "window": f"{outcome.window[0]} to {outcome.window[1]}",
        "duration_seconds": round(outcome.duration_seconds, 3),
        "objects_per_second": outcome.per_second,
        "rejected_values": MetadataValue.md(_value_table(outcome.errors)),
        "rejected_values_json": MetadataValue.json([_value_json(e) for e in outcome.errors]),
    }


def data_log_line(outcome: DataSyncOutcome) -> str:
    return (
        f"dataSet {outcome.data_set}: read {outcome.read} values in {outcome.slices.requests} export requests "
        f"({outcome.slices.splits} slices split), created {outcome.created}, "
        f"updated {outcome.updated}, deleted {outcome.deleted}, ignored {outcome.ignored}, "
        f"rejected {len(outcome.errors)}, registrations {outcome.registrations}, {outcome.per_second} values/s"
    )


def describe_value_error(error: ObjectError) -> str:
    key = error.value_key or {}
    where = "/".join(key.get(k, "?") for k in KEY) if key else (error.uid or "?")
    return f"{error.error_code or 'rejected'} {where}: {error.message}"


def _value_json(error: ObjectError) -> dict[str, Any]:
    return {**(error.value_key or {}), "errorCode": error.error_code, "object": error.uid, "message": error.message}


def _value_table(errors: list[ObjectError]) -> str:
    rows = [[(e.value_key or {}).get(k, "") for k in KEY] + [e.error_code or "", e.message] for e in errors]
    return markdown_table([*KEY, "errorCode", "message"], rows, "rejected_values_json", "No value was rejected.")


def data_failure(destination: str, tolerance: int, outcome: DataSyncOutcome) -> str:
    return failure_text(
        f"{destination} rejected {len(outcome.errors)} data values of dataSet {outcome.data_set} "
        f"(tolerance {tolerance}); accepted values stay committed, the watermark was not "
        "advanced so the next run retries them.",
        [describe_value_error(e) for e in outcome.errors],
    )


def verification_metadata(outcome: DataVerification) -> dict[str, Any]:
    return {
        "source_values": outcome.source_values,
        "destination_values_before": outcome.destination_values,
        "groups_compared": outcome.groups,
        "groups_differing": len(outcome.differing_groups),
        "values_resent": outcome.resent,
        "values_deleted": outcome.deleted,
        "groups_still_differing": len(outcome.still_differing),
        "still_differing_sample": ", ".join("/".join(g) for g in outcome.still_differing[:20]) or "none",
        "rejected_while_healing": len(outcome.errors),
    }


def unchanged_watermark(since: dt.datetime | None) -> str:
    """The watermark a step records when it must not advance (dry run, rejections): where it began."""
    return format_watermark(since) if since else ""


# ------------------------------------------------------------------------------------- tracker


def tracker_metadata(outcome: TrackerSyncOutcome) -> dict[str, Any]:
    return {
        **tally(outcome),
        **{f"read_{kind}": count for kind, count in outcome.read_by_kind.items()},
        **{f"deleted_{kind}": count for kind, count in outcome.deleted_by_kind.items()},
        "tracked_entities_synced": outcome.tracked_entities_synced,
        "already_synced_in_overlap": outcome.already_synced,
        "export_requests": outcome.requests,
        WATERMARK_KEY: format_watermark(outcome.watermark),
        "since": format_watermark(outcome.since) if outcome.since else "first run",
        "duration_seconds": round(outcome.duration_seconds, 3),
        "objects_per_second": outcome.per_second,
        "rejected_objects": MetadataValue.md(_object_table(outcome.errors)),
        "rejected_objects_json": MetadataValue.json([object_error_json(e) for e in outcome.errors]),
    }


def tracker_log_line(outcome: TrackerSyncOutcome) -> str:
    read = ", ".join(f"{kind} {count}" for kind, count in outcome.read_by_kind.items())
    gone = ", ".join(f"{kind} {count}" for kind, count in outcome.deleted_by_kind.items() if count) or "none"
    return (f"programme {outcome.program}: read {read} in {outcome.requests} pages; created {outcome.created}, "
            f"updated {outcome.updated}, deleted {outcome.deleted} (deletions: {gone}), "
            f"rejected {len(outcome.errors)}, {outcome.per_second} objects/s")


def tracker_failure(destination: str, tolerance: int, outcome: TrackerSyncOutcome) -> str:
    return failure_text(
        f"{destination} rejected {len(outcome.errors)} tracker objects of programme {outcome.program} "
        f"(tolerance {tolerance}); accepted objects stay committed, the watermark was not advanced so the "
        "next run retries them.",
        [describe(e) for e in outcome.errors],
    )


def tracker_check_metadata(comparison: TrackerComparison) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for kind, count in comparison.source.items():
        metadata[f"source_{kind}"] = count
        metadata[f"destination_{kind}"] = comparison.destination[kind]
        metadata[f"missing_{kind}"] = len(comparison.missing[kind])
    metadata["missing"] = sum(len(uids) for uids in comparison.missing.values())
    metadata["extra"] = sum(len(uids) for uids in comparison.extra.values())
    return metadata


def tracker_check_log_lines(comparison: TrackerComparison) -> list[str]:
    lines = []
    for kind in comparison.source:
        missing, extra = comparison.missing[kind], comparison.extra[kind]
        if missing or extra:
            sample = ", ".join((missing or extra)[:10])
            lines.append(f"programme {comparison.program}: {kind} differ: {len(missing)} missing, {len(extra)} extra "
                         f"on the destination (org unit/uid: {sample})")
    return lines

