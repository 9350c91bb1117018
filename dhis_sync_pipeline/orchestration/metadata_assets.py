"""One Dagster asset per (configuration, DHIS2 metadata type).

Key `[<config_id>, "metadata", <type>]`, grouped by configuration, depending on the types it
references (DHIS2's import order). Each materialization records the counts, the watermark and
the speed; an asset check in the same step verifies the destination holds every source UID.
"""

import json
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from dhis_sync_pipeline.config import SyncConfig
from dhis_sync_pipeline.dhis2 import DHIS2Client, ObjectError
from dhis_sync_pipeline.dhis2.metadata_types import upstream_types
from dhis_sync_pipeline.orchestration.failures import dhis2_failures
from dhis_sync_pipeline.orchestration.keys import UID_CHECK, metadata_key, preflight_key
from dhis_sync_pipeline.orchestration.rejections import failure_text, log_rejections, markdown_table
from dhis_sync_pipeline.orchestration.resources import resource_key
from dhis_sync_pipeline.orchestration.watermarks import WATERMARK_KEY, last_watermark, wants_full_sync
from dhis_sync_pipeline.sync.metadata import MetadataSyncOutcome, format_watermark, sync_metadata_type
from dhis_sync_pipeline.sync.references import DestinationDirectory


def build_metadata_assets(config: SyncConfig) -> list[AssetsDefinition]:
    selected = frozenset(config.metadata_resources)
    return [_build_one(config, collection, selected) for collection in config.metadata_resources]


def _build_one(config: SyncConfig, collection: str, selected: frozenset[str]) -> AssetsDefinition:
    key = metadata_key(config, collection)
    source_key, destination_key = resource_key(config.source), resource_key(config.destination)

    @asset(
        key=key,
        group_name=config.id,
        deps=[metadata_key(config, upstream) for upstream in sorted(upstream_types(collection, selected))],
        ins={"preflight": AssetIn(key=preflight_key(config))},
        required_resource_keys={source_key, destination_key, "sync_progress"},
        check_specs=[AssetCheckSpec(UID_CHECK, asset=key, description="Every source UID exists on the destination")],
        kinds={"dhis2"},
        tags={"dhis_sync/kind": "metadata"},
        description=f"DHIS2 {collection} from {config.source} to {config.destination}.",
    )
    def sync_metadata(context: AssetExecutionContext, preflight: dict[str, Any]) -> MaterializeResult:
        since = None if wants_full_sync(context.run.tags) else last_watermark(context.instance, key)
        context.log.info(
            f"{collection}: {'incremental since ' + format_watermark(since) if since else 'full sync'} "
            f"from {config.source} to {config.destination}"
        )
        retries = config.step_retries
        with dhis2_failures(retries.max_retries, retries.delay_seconds):
            source = getattr(context.resources, source_key).client()
            destination = getattr(context.resources, destination_key).client()
            try:
                outcome = sync_metadata_type(
                    source,
                    destination,
                    collection,
                    since=since,
                    options=config.import_options,
                    page_sizes=config.page_sizes,
                    directory=DestinationDirectory.from_json(preflight["directory"]),
                    propagate_deletions=config.metadata.propagate_deletions,
                    progress=context.resources.sync_progress.reporter(
                        context, config_id=config.id, resource=collection, kind="metadata"
                    ),
                )
                check = _uid_check(config, collection, source, destination)
            finally:
                source.close()
                destination.close()

        metadata = _outcome_metadata(outcome, since)
        _log_errors(context, outcome)
        if len(outcome.errors) > config.error_tolerance:
            raise Failure(
                description=_failure_description(config, outcome),
                metadata=metadata,
                allow_retries=False,
            )
        if config.import_options.dry_run:
            # A dry run commits nothing, so the next real run must start where this one did.
            metadata[WATERMARK_KEY] = format_watermark(since) if since else ""
        return MaterializeResult(metadata=metadata, check_results=[check])

    return sync_metadata


def _uid_check(
    config: SyncConfig, collection: str, source: DHIS2Client, destination: DHIS2Client
) -> AssetCheckResult:
    if config.import_options.dry_run:
        return AssetCheckResult(check_name=UID_CHECK, passed=True, metadata={"skipped": "dry run: nothing was written"})
    source_ids = _all_ids(source, collection)
    missing = sorted(source_ids - _all_ids(destination, collection))
    return AssetCheckResult(
        check_name=UID_CHECK,
        passed=not missing,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "source_objects": len(source_ids),
            "missing_on_destination": len(missing),
            "missing_sample": ", ".join(missing[:50]) or "none",
        },
    )


def _all_ids(client: DHIS2Client, collection: str) -> set[str]:
    return {obj["id"] for page in client.iter_pages(collection, fields="id", page_size=10_000) for obj in page}


def _outcome_metadata(outcome: MetadataSyncOutcome, since: Any) -> dict[str, Any]:
    return {
        "read": outcome.read,
        "created": outcome.created,
        "updated": outcome.updated,
        "deleted": outcome.deleted,
        "ignored": outcome.ignored,
        "errors": len(outcome.errors),
        WATERMARK_KEY: format_watermark(outcome.watermark),
        "since": format_watermark(since) if since else "full sync",
        "duration_seconds": round(outcome.duration_seconds, 3),
        "objects_per_second": outcome.per_second,
        "references_removed": MetadataValue.json(outcome.cleaned.summary()),
        "rejected_objects": MetadataValue.md(_error_table(outcome.errors)),
        "rejected_objects_json": MetadataValue.json([_error_json(e) for e in outcome.errors]),
    }


def _error_json(error: ObjectError) -> dict[str, Any]:
    return {
        "uid": error.uid,
        "type": error.object_type,
        "errorCode": error.error_code,
        "property": error.property,
        "message": error.message,
    }


def _error_table(errors: list[ObjectError]) -> str:
    rows = [[e.uid or "", e.object_type or "", e.error_code or "", e.property or "", e.message] for e in errors]
    header = ["uid", "type", "errorCode", "property", "message"]
    return markdown_table(header, rows, "rejected_objects_json", "No object was rejected.")


def _log_errors(context: AssetExecutionContext, outcome: MetadataSyncOutcome) -> None:
    log_rejections(context, [f"{outcome.collection} rejected: {e}" for e in outcome.errors], "rejected_objects")
    context.log.info(
        f"{outcome.collection}: read {outcome.read}, created {outcome.created}, updated {outcome.updated}, "
        f"deleted {outcome.deleted}, ignored {outcome.ignored}, errors {len(outcome.errors)} "
        f"in {outcome.duration_seconds:.1f}s ({outcome.per_second}/s); "
        f"references removed: {json.dumps(outcome.cleaned.summary())}"
    )


def _failure_description(config: SyncConfig, outcome: MetadataSyncOutcome) -> str:
    return failure_text(
        f"{config.destination} rejected {len(outcome.errors)} {outcome.collection} "
        f"(tolerance {config.error_tolerance}); accepted objects stay committed "
        f"(created {outcome.created}, updated {outcome.updated}), the watermark was not advanced "
        "so the next run retries them.",
        [str(error) for error in outcome.errors],
    )
