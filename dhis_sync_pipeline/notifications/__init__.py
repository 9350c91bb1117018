"""Alerts when a sync run fails, recovers or succeeds, sent by Dagster run-status sensors (so the
dagster-daemon sends them, whoever started the run) to a chat webhook and/or by e-mail."""

from dhis_sync_pipeline.notifications.sensors import build_notification_sensors

__all__ = ["build_notification_sensors"]
