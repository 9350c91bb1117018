"""The Dagster job of one sync configuration: its assets, tags and executor."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from dhis_sync_pipeline.config import SyncConfig
from dhis_sync_pipeline.orchestration.executors import sync_executor
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG, DESTINATION_TAG


def build_sync_job(config: SyncConfig):
    return define_asset_job(
        name=config.job_name,
        selection=AssetSelection.groups(config.id),
        description=f"{config.name}: {config.source} → {config.destination} ({config.execution_mode})",
        tags={CONFIG_TAG: config.id, DESTINATION_TAG: config.destination},
        executor_def=sync_executor(),  # DHIS_SYNC_EXECUTOR: multiprocess (default) or celery
    )
