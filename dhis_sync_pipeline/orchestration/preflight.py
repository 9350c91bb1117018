"""The first step of every sync run: can we talk to both servers, and who exists on the destination?

Failing here (wrong password, server down) stops the run before anything is written. The
destination's users and user groups are listed once per run and handed to every metadata step,
so dangling sharing references are handled once, not once per resource.
"""

from typing import Any

from dagster import AssetExecutionContext, AssetsDefinition, Failure, MetadataValue, asset

from dhis_sync_pipeline.config import SyncConfig, describe_key
from dhis_sync_pipeline.dhis2 import DHIS2Client
from dhis_sync_pipeline.orchestration.failures import dhis2_failures
from dhis_sync_pipeline.orchestration.keys import preflight_key
from dhis_sync_pipeline.orchestration.resources import resource_key
from dhis_sync_pipeline.orchestration.watermarks import DESTINATION_SYSTEM_KEY
from dhis_sync_pipeline.sync.references import DestinationDirectory


def build_preflight_asset(config: SyncConfig) -> AssetsDefinition:
    source_key, destination_key = resource_key(config.source), resource_key(config.destination)

    @asset(
        key=preflight_key(config),
        group_name=config.id,
        required_resource_keys={source_key, destination_key},
        kinds={"dhis2"},
        description=(
            f"Checks that {config.source} (source) and {config.destination} (destination) answer "
            "and accept our credentials, and lists the destination's users and user groups."
        ),
    )
    def preflight(context: AssetExecutionContext) -> dict[str, Any]:
        with dhis2_failures():
            source = getattr(context.resources, source_key).client()
            destination = getattr(context.resources, destination_key).client()
            try:
                source_info = source.system_info()
                destination_info = destination.system_info()
                missing = _missing_on_source(source, config)
                directory = _destination_directory(destination) if not missing else None
            finally:
                source.close()
                destination.close()

        if missing:
            raise Failure(
                description=(
                    f"{len(missing)} configured object(s) do not exist on the source {config.source}; nothing "
                    "was written. Fix the configuration:\n" + "\n".join(f"- {m}" for m in missing)
                ),
                allow_retries=False,
            )
        assert directory is not None
        drift = source_info.version.key[:2] != destination_info.version.key[:2]
        if drift:
            context.log.warning(
                f"Version drift: source {config.source} runs DHIS2 {source_info.version}, destination "
                f"{config.destination} runs {destination_info.version}; objects using features the "
                "older server lacks may be rejected."
            )
        context.add_output_metadata(
            {
                "source_version": str(source_info.version),
                "destination_version": str(destination_info.version),
                "source_time_zone": source_info.time_zone or "unknown",
                "source_server_date": source_info.server_date.isoformat(),
                "destination_users": len(directory.users),
                "destination_user_groups": len(directory.user_groups),
                "version_drift": MetadataValue.bool(drift),
                DESTINATION_SYSTEM_KEY: destination_info.system_id or "",
            }
        )
        return {
            "source_version": str(source_info.version),
            "destination_version": str(destination_info.version),
            "directory": directory.to_json(),
            DESTINATION_SYSTEM_KEY: destination_info.system_id,
        }

    return preflight


def _missing_on_source(source: DHIS2Client, config: SyncConfig) -> list[str]:
    """The configured dataSets and org unit roots the source does not have, each with its key and line."""
    if config.data is None:
        return []
    problems = []
    for setting, collection, what in (("data_sets", "dataSets", "dataSet"), ("org_units", "organisationUnits", "org unit")):
        wanted = getattr(config.data, setting)
        found = {obj["id"] for page in source.get_by_ids(collection, wanted, fields="id") for obj in page}
        for index, uid in enumerate(wanted):
            if uid not in found:
                where = describe_key(config.id, "data", setting, index)
                problems.append(f"{where}: {what} {uid} does not exist on {config.source} (or the sync user cannot see it)")
    return problems


def _destination_directory(destination: DHIS2Client) -> DestinationDirectory:
    def ids(collection: str) -> frozenset[str]:
        pages = destination.iter_pages(collection, fields="id", page_size=10_000)
        return frozenset(obj["id"] for page in pages for obj in page)

    return DestinationDirectory(users=ids("users"), user_groups=ids("userGroups"))
