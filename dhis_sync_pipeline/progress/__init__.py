"""Live sync progress, step side: the Dagster resource steps report to and the store it writes."""

from dhis_sync_pipeline.progress.resource import ProgressReporter, ProgressResource
from dhis_sync_pipeline.progress.store import ProgressStore, store_url_for_instance

__all__ = ["ProgressReporter", "ProgressResource", "ProgressStore", "store_url_for_instance"]
