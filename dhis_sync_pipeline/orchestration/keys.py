"""Asset keys of a sync configuration, in one place for the assets, sensors and dashboards."""

from dagster import AssetCheckKey, AssetKey

from dhis_sync_pipeline.config import DATA_VALUES_RESOURCE, SyncConfig

UID_CHECK = "destination_has_all_source_uids"


def preflight_key(config: SyncConfig) -> AssetKey:
    return AssetKey([config.id, "preflight"])


def metadata_key(config: SyncConfig, collection: str) -> AssetKey:
    return AssetKey([config.id, "metadata", collection])


def data_key(config: SyncConfig, data_set: str) -> AssetKey:
    return AssetKey([config.id, "data", data_set])


def uid_check_key(config: SyncConfig, collection: str) -> AssetCheckKey:
    return AssetCheckKey(metadata_key(config, collection), UID_CHECK)


def keys_for_resource(config: SyncConfig, resource: str) -> list[AssetKey]:
    """The assets that sync a monitored resource (dataValues: every data asset)."""
    if resource == DATA_VALUES_RESOURCE:
        return [data_key(config, ds) for ds in (config.data.data_sets if config.data else ())]
    if resource in config.metadata_resources:
        return [metadata_key(config, resource)]
    return []
