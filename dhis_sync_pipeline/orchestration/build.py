"""Definitions for a whole configuration file: per sync configuration, its assets and its job."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from dhis_sync_pipeline.config import SyncConfig, SyncFile
from dhis_sync_pipeline.orchestration.metadata_assets import build_metadata_assets
from dhis_sync_pipeline.orchestration.preflight import build_preflight_asset
from dhis_sync_pipeline.orchestration.resources import instance_resource, resource_key

# Runs of one configuration carry this tag; dagster.yaml limits it to one run at a time.
CONFIG_TAG = "dhis_sync/config"


def build_definitions(sync_file: SyncFile) -> Definitions:
    assets = []
    jobs = []
    for config in sync_file.sync_configurations:
        assets.append(build_preflight_asset(config))
        assets.extend(build_metadata_assets(config))
        jobs.append(build_sync_job(config))
    resources = {resource_key(i.name): instance_resource(i) for i in sync_file.instances}
    return Definitions(assets=assets, jobs=jobs, resources=resources)


def build_sync_job(config: SyncConfig):
    return define_asset_job(
        name=config.job_name,
        selection=AssetSelection.groups(config.id),
        description=f"{config.name}: {config.source} → {config.destination} ({config.execution_mode})",
        tags={CONFIG_TAG: config.id},
    )
