"""One Dagster asset per (configuration, dataSet) for aggregate data values.

Key `[<config_id>, "data", <dataSet uid>]`. It depends on the metadata assets its values refer
to (dataElements, organisationUnits, categoryOptionCombos, dataSets), so a run never posts
values before their metadata exists on the destination.

Each dataSet also has a blocking asset check, `destination_holds_source_values`, in a step of
its own: it compares both sides' whole scope (counts and checksums per org unit and period)
on every run, resends what differs and fails the run if anything still differs. It is a
separate step so the sync step of a run with nothing changed stays short; it writes (heals)
because a destination found wrong should be put right in the same run, not only reported.
"""

from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetChecksDefinition,
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from dhis_sync_pipeline.config import SyncConfig
from dhis_sync_pipeline.dhis2 import ObjectError
from dhis_sync_pipeline.orchestration.failures import dhis2_failures
from dhis_sync_pipeline.orchestration.keys import data_key, metadata_key, preflight_key
from dhis_sync_pipeline.orchestration.rejections import failure_text, log_rejections, markdown_table
from dhis_sync_pipeline.orchestration.resources import resource_key
from dhis_sync_pipeline.orchestration.watermarks import DESTINATION_SYSTEM_KEY, WATERMARK_KEY, sync_since
from dhis_sync_pipeline.sync.data_values import CORRECT_LAST_UPDATED, KEY, DataSyncOutcome, sync_data_set
from dhis_sync_pipeline.sync.data_verification import DataVerification, verify_and_heal
from dhis_sync_pipeline.sync.metadata import format_watermark

REFERENCED_METADATA = ("organisationUnits", "categoryOptionCombos", "dataElements", "dataSets")
VALUES_CHECK = "destination_holds_source_values"


def build_data_assets(config: SyncConfig) -> list[AssetsDefinition]:
    """Per dataSet, its sync asset and its blocking verification check."""
    if config.data is None:
        return []
    built: list[AssetsDefinition] = []
    for data_set in config.data.data_sets:
        built += [_build_one(config, data_set), _build_check(config, data_set)]
    return built


def _build_one(config: SyncConfig, data_set: str) -> AssetsDefinition:
    key = data_key(config, data_set)
    source_key, destination_key = resource_key(config.source), resource_key(config.destination)
    upstream = [metadata_key(config, t) for t in REFERENCED_METADATA if t in config.metadata_resources]
    data = config.data
    assert data is not None

    @asset(
        key=key,
        group_name=config.id,
        deps=upstream,
        ins={"preflight": AssetIn(key=preflight_key(config))},
        required_resource_keys={source_key, destination_key, "sync_progress"},
        kinds={"dhis2"},
        tags={"dhis_sync/kind": "data"},
        description=f"Aggregate data values of dataSet {data_set} from {config.source} to {config.destination}.",
    )
    def sync_data(context: AssetExecutionContext, preflight: dict[str, Any]) -> MaterializeResult:
        system_id = preflight.get(DESTINATION_SYSTEM_KEY)
        since, reason = sync_since(context.instance, key, context.run.tags, system_id)
        context.log.info(f"dataSet {data_set}: {reason}, from {config.source} to {config.destination}")
        retries = config.step_retries
        with dhis2_failures(retries.max_retries, retries.delay_seconds):
            source = getattr(context.resources, source_key).client()
            destination = getattr(context.resources, destination_key).client()
            try:
                outcome = sync_data_set(
                    source,
                    destination,
                    data,
                    data_set,
                    since=since,
                    options=config.import_options,
                    page_size=config.page_sizes.data_values,
                    slice_cap=config.page_sizes.data_values_slice_cap,
                    progress=context.resources.sync_progress.reporter(
                        context, config_id=config.id, resource=data_set, kind="data"
                    ),
                )
            finally:
                source.close()
                destination.close()

        metadata = _metadata(outcome)
        metadata[DESTINATION_SYSTEM_KEY] = system_id or ""
        _log(context, outcome)
        if len(outcome.errors) > config.error_tolerance:
            raise Failure(description=_failure(config, outcome), metadata=metadata, allow_retries=False)
        if config.import_options.dry_run:
            metadata[WATERMARK_KEY] = format_watermark(since) if since else ""
        return MaterializeResult(metadata=metadata)

    return sync_data


def _build_check(config: SyncConfig, data_set: str) -> AssetChecksDefinition:
    source_key, destination_key = resource_key(config.source), resource_key(config.destination)
    data = config.data
    assert data is not None

    @asset_check(
        asset=data_key(config, data_set),
        name=VALUES_CHECK,
        blocking=True,
        required_resource_keys={source_key, destination_key},
        description="The destination holds exactly the source's values of the dataSet in scope (counts and "
        "checksums of key + value per org unit and period); what differs is sent again first.",
    )
    def verify_values(context: AssetCheckExecutionContext) -> AssetCheckResult:
        if config.import_options.dry_run:
            return AssetCheckResult(passed=True, metadata={"skipped": "dry run: nothing was written"})
        retries = config.step_retries
        with dhis2_failures(retries.max_retries, retries.delay_seconds):
            source = getattr(context.resources, source_key).client()
            destination = getattr(context.resources, destination_key).client()
            try:
                window = data.window(source.system_info().server_date.date())
                outcome = verify_and_heal(
                    source, destination, data_set, data.org_units, window,
                    cap=config.page_sizes.data_values_slice_cap, page_size=config.page_sizes.data_values,
                    options=config.import_options,
                    send_data_set=destination.system_info().version >= CORRECT_LAST_UPDATED,
                )
            finally:
                source.close()
                destination.close()
        _log_verification(context, outcome)
        return AssetCheckResult(
            passed=outcome.passed,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "source_values": outcome.source_values,
                "destination_values_before": outcome.destination_values,
                "groups_compared": outcome.groups,
                "groups_differing": len(outcome.differing_groups),
                "values_resent": outcome.resent,
                "values_deleted": outcome.deleted,
                "groups_still_differing": len(outcome.still_differing),
                "still_differing_sample": ", ".join("/".join(g) for g in outcome.still_differing[:20]) or "none",
                "rejected_while_healing": len(outcome.errors),
            },
        )

    return verify_values


def _log_verification(context: AssetCheckExecutionContext, outcome: DataVerification) -> None:
    if not outcome.differing_groups:
        context.log.info(
            f"dataSet {outcome.data_set}: the destination holds the source's {outcome.source_values} values "
            f"({outcome.groups} org unit/period groups compared)"
        )
        return
    context.log.warning(
        f"dataSet {outcome.data_set}: {len(outcome.differing_groups)} of {outcome.groups} org unit/period groups "
        f"differed (source {outcome.source_values} values, destination {outcome.destination_values}); resent "
        f"{outcome.resent} values and deleted {outcome.deleted} the source does not have"
    )
    for error in outcome.errors[:20]:
        context.log.error(f"rejected while healing: {_describe(error)}")
    if outcome.still_differing:
        context.log.error(
            f"dataSet {outcome.data_set}: {len(outcome.still_differing)} groups still differ after healing, e.g. "
            + ", ".join("/".join(g) for g in outcome.still_differing[:10])
        )


def _metadata(outcome: DataSyncOutcome) -> dict[str, Any]:
    slices = outcome.slices
    return {
        "read": outcome.read,
        "created": outcome.created,
        "updated": outcome.updated,
        "deleted": outcome.deleted,
        "ignored": outcome.ignored,
        "errors": len(outcome.errors),
        "chunks": outcome.chunks,
        "export_requests": slices.requests,
        "slice_splits": slices.splits,
        "already_synced_in_overlap": outcome.already_synced,
        "registrations": outcome.registrations,
        WATERMARK_KEY: format_watermark(outcome.watermark),
        "since": format_watermark(outcome.since) if outcome.since else "first run",
        "window": f"{outcome.window[0]} to {outcome.window[1]}",
        "duration_seconds": round(outcome.duration_seconds, 3),
        "objects_per_second": outcome.per_second,
        "rejected_values": MetadataValue.md(_table(outcome.errors)),
        "rejected_values_json": MetadataValue.json([_json(e) for e in outcome.errors]),
    }


def _json(error: ObjectError) -> dict[str, Any]:
    return {**(error.value_key or {}), "errorCode": error.error_code, "object": error.uid, "message": error.message}


def _table(errors: list[ObjectError]) -> str:
    rows = [[(e.value_key or {}).get(k, "") for k in KEY] + [e.error_code or "", e.message] for e in errors]
    return markdown_table([*KEY, "errorCode", "message"], rows, "rejected_values_json", "No value was rejected.")


def _describe(error: ObjectError) -> str:
    key = error.value_key or {}
    where = "/".join(key.get(k, "?") for k in KEY) if key else (error.uid or "?")
    return f"{error.error_code or 'rejected'} {where}: {error.message}"


def _log(context: AssetExecutionContext, outcome: DataSyncOutcome) -> None:
    lines = [f"value rejected ({'/'.join(KEY)}): {_describe(e)}" for e in outcome.errors]
    log_rejections(context, lines, "rejected_values")
    context.log.info(
        f"dataSet {outcome.data_set}: read {outcome.read} values in {outcome.slices.requests} export requests "
        f"({outcome.slices.splits} slices split), created {outcome.created}, "
        f"updated {outcome.updated}, deleted {outcome.deleted}, ignored {outcome.ignored}, errors {len(outcome.errors)}, "
        f"registrations {outcome.registrations}, {outcome.per_second} values/s"
    )


def _failure(config: SyncConfig, outcome: DataSyncOutcome) -> str:
    return failure_text(
        f"{config.destination} rejected {len(outcome.errors)} data values of dataSet {outcome.data_set} "
        f"(tolerance {config.error_tolerance}); accepted values stay committed, the watermark was not "
        "advanced so the next run retries them.",
        [_describe(e) for e in outcome.errors],
    )
