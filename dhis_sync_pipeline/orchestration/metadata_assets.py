"""One Dagster asset per (configuration, DHIS2 metadata type).

Key `[<config_id>, "metadata", <type>]`, grouped by configuration, depending on the types it
references (DHIS2's import order). Each materialization records the counts, the watermark and
the speed. A blocking asset check in the same step verifies that the destination holds every
source UID of the type, on every run and whatever the watermark says: what is missing (a
restored backup, a reset database, deletions by hand) is sent again in the same step and the
run says so; only what is still missing after that fails the check, and so the run.
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
from dhis_sync_pipeline.orchestration.watermarks import DESTINATION_SYSTEM_KEY, WATERMARK_KEY, sync_since
from dhis_sync_pipeline.sync.metadata import MetadataSyncOutcome, format_watermark, resend_objects, sync_metadata_type
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
        check_specs=[
            AssetCheckSpec(UID_CHECK, asset=key, blocking=True, description="Every source UID exists on the destination")
        ],
        kinds={"dhis2"},
        tags={"dhis_sync/kind": "metadata"},
        description=f"DHIS2 {collection} from {config.source} to {config.destination}.",
    )
    def sync_metadata(context: AssetExecutionContext, preflight: dict[str, Any]) -> MaterializeResult:
        since, reason = sync_since(context.instance, key, context.run.tags, preflight.get(DESTINATION_SYSTEM_KEY))
        context.log.info(f"{collection}: {reason}, from {config.source} to {config.destination}")
        directory = DestinationDirectory.from_json(preflight["directory"])
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
                    directory=directory,
                    propagate_deletions=config.metadata.propagate_deletions,
                    progress=context.resources.sync_progress.reporter(
                        context, config_id=config.id, resource=collection, kind="metadata"
                    ),
                )
                check, healed = _verify_and_heal(context, config, collection, source, destination, directory, outcome)
            finally:
                source.close()
                destination.close()

        metadata = _outcome_metadata(outcome, since)
        metadata["healed"] = healed
        metadata[DESTINATION_SYSTEM_KEY] = preflight.get(DESTINATION_SYSTEM_KEY) or ""
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


def _verify_and_heal(
    context: AssetExecutionContext,
    config: SyncConfig,
    collection: str,
    source: DHIS2Client,
    destination: DHIS2Client,
    directory: DestinationDirectory,
    outcome: MetadataSyncOutcome,
) -> tuple[AssetCheckResult, int]:
    """Compare the UIDs of both sides; resend what the destination lacks; check again."""
    if config.import_options.dry_run:
        skipped = {"skipped": "dry run: nothing was written"}
        return AssetCheckResult(check_name=UID_CHECK, passed=True, metadata=skipped), 0
    source_ids = _all_ids(source, collection)
    missing = sorted(source_ids - _all_ids(destination, collection))
    healed = 0
    if missing:
        context.log.warning(
            f"{collection}: the destination lacks {len(missing)} of the source's {len(source_ids)} objects "
            f"(e.g. {', '.join(missing[:5])}) although they were synced before or are in scope now; sending "
            "them again"
        )
        healed = resend_objects(source, destination, collection, missing, options=config.import_options,
                                page_sizes=config.page_sizes, directory=directory, outcome=outcome)
        still = {obj["id"] for page in destination.get_by_ids(collection, missing, fields="id") for obj in page}
        missing = [uid for uid in missing if uid not in still]
        context.log.info(f"{collection}: healed {healed - len(missing)} missing objects, {len(missing)} still missing")
    check = AssetCheckResult(
        check_name=UID_CHECK,
        passed=not missing,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "source_objects": len(source_ids),
            "resent_because_missing": healed,
            "missing_on_destination": len(missing),
            "missing_sample": ", ".join(missing[:50]) or "none",
        },
    )
    return check, healed


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
