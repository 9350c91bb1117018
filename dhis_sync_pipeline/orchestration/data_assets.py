"""One Dagster asset per (configuration, dataSet) for aggregate data values.

Key `[<config_id>, "data", <dataSet uid>]`. It depends on the metadata assets its values refer
to (dataElements, organisationUnits, categoryOptionCombos, dataSets), so a run never posts
values before their metadata exists on the destination.
"""

from typing import Any

from dagster import AssetExecutionContext, AssetsDefinition, Failure, MaterializeResult, MetadataValue, asset

from dhis_sync_pipeline.config import SyncConfig
from dhis_sync_pipeline.dhis2 import ObjectError
from dhis_sync_pipeline.orchestration.failures import dhis2_failures
from dhis_sync_pipeline.orchestration.keys import data_key, metadata_key, preflight_key
from dhis_sync_pipeline.orchestration.rejections import failure_text, log_rejections, markdown_table
from dhis_sync_pipeline.orchestration.resources import resource_key
from dhis_sync_pipeline.orchestration.watermarks import WATERMARK_KEY, last_watermark, wants_full_sync
from dhis_sync_pipeline.sync.data_values import KEY, DataSyncOutcome, sync_data_set
from dhis_sync_pipeline.sync.metadata import format_watermark

REFERENCED_METADATA = ("organisationUnits", "categoryOptionCombos", "dataElements", "dataSets")


def build_data_assets(config: SyncConfig) -> list[AssetsDefinition]:
    if config.data is None:
        return []
    return [_build_one(config, data_set) for data_set in config.data.data_sets]


def _build_one(config: SyncConfig, data_set: str) -> AssetsDefinition:
    key = data_key(config, data_set)
    source_key, destination_key = resource_key(config.source), resource_key(config.destination)
    upstream = [preflight_key(config)] + [
        metadata_key(config, t) for t in REFERENCED_METADATA if t in config.metadata_resources
    ]
    data = config.data
    assert data is not None

    @asset(
        key=key,
        group_name=config.id,
        deps=upstream,
        required_resource_keys={source_key, destination_key, "sync_progress"},
        kinds={"dhis2"},
        tags={"dhis_sync/kind": "data"},
        description=f"Aggregate data values of dataSet {data_set} from {config.source} to {config.destination}.",
    )
    def sync_data(context: AssetExecutionContext) -> MaterializeResult:
        since = None if wants_full_sync(context.run.tags) else last_watermark(context.instance, key)
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
        _log(context, outcome)
        if len(outcome.errors) > config.error_tolerance:
            raise Failure(description=_failure(config, outcome), metadata=metadata, allow_retries=False)
        if config.import_options.dry_run:
            metadata[WATERMARK_KEY] = format_watermark(since) if since else ""
        return MaterializeResult(metadata=metadata)

    return sync_data


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
