"""Dagster run-status sensors that send the notifications: one for failed runs, one for successful ones.

The dagster-daemon evaluates them, so a message goes out whoever started the run (the UI, a
sensor, `dhis-sync trigger`). Each sensor's cursor (Dagster's own) moves past a run's status event
once it was handled: one message per run and event. A success is a *recovery* when the previous
finished run of the same configuration (by the run tag `dhis_sync/config`) failed; it is sent as
a recovery instead of a success. A message that cannot be sent after its retries is logged (in the
sensor's tick log and the daemon's log) and dropped: it never touches the sync run.
"""

from __future__ import annotations

import logging
import os

from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunsFilter,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)

from dhis_sync_pipeline.config import NotificationsConfig, SyncFile
from dhis_sync_pipeline.notifications.message import build_notification
from dhis_sync_pipeline.notifications.secrets import known_secrets
from dhis_sync_pipeline.notifications.senders import SendError, send_email, send_webhook
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG

log = logging.getLogger(__name__)

FAILURE_SENSOR = "dhis_sync_notify_failure"
SUCCESS_SENSOR = "dhis_sync_notify_success"
INTERVAL_SECONDS = 30


def build_notification_sensors(sync_file: SyncFile) -> list:
    """The two sensors, when any configuration has notifications; running by default, since they
    only send messages (unlike the auto-sync sensors, which are declared stopped)."""
    if not any(sync_file.notifications_for(c) for c in sync_file.sync_configurations):
        return []

    @run_failure_sensor(name=FAILURE_SENSOR, minimum_interval_seconds=INTERVAL_SECONDS,
                        default_status=DefaultSensorStatus.RUNNING,
                        description="Sends the failure notifications of sync runs (notifications: in the configuration)")
    def notify_failure(context: RunFailureSensorContext) -> None:
        notify_run(context.instance, sync_file, context.dagster_run, DagsterRunStatus.FAILURE, context.log)

    @run_status_sensor(name=SUCCESS_SENSOR, run_status=DagsterRunStatus.SUCCESS,
                       minimum_interval_seconds=INTERVAL_SECONDS, default_status=DefaultSensorStatus.RUNNING,
                       description="Sends the recovery and success notifications of sync runs")
    def notify_success(context: RunStatusSensorContext) -> None:
        notify_run(context.instance, sync_file, context.dagster_run, DagsterRunStatus.SUCCESS, context.log)

    return [notify_failure, notify_success]


def event_for(instance: DagsterInstance, run: DagsterRun, status: DagsterRunStatus) -> str:
    if status == DagsterRunStatus.FAILURE:
        return "failure"
    return "recovery" if previous_run_failed(instance, run) else "success"


def previous_run_failed(instance: DagsterInstance, run: DagsterRun) -> bool:
    """Whether the last run of the configuration that finished before this one was created failed
    (canceled runs are skipped: someone stopped them on purpose)."""
    config_id = run.tags.get(CONFIG_TAG)
    record = instance.get_run_record_by_id(run.run_id)
    if not config_id or record is None:
        return False
    filters = RunsFilter(tags={CONFIG_TAG: config_id}, statuses=[DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE],
                         created_before=record.create_timestamp)
    previous = [r for r in instance.get_runs(filters=filters, limit=2) if r.run_id != run.run_id]
    return bool(previous) and previous[0].status == DagsterRunStatus.FAILURE


def notify_run(instance: DagsterInstance, sync_file: SyncFile, run: DagsterRun, status: DagsterRunStatus,
               logger: logging.Logger | None = None) -> list[str]:
    """Send what the run's configuration asks for; return the channels that got it. Never raises."""
    logger = logger or log
    config_id = run.tags.get(CONFIG_TAG)
    try:
        config = sync_file.sync_config(config_id) if config_id else None
    except KeyError:
        config = None  # a configuration removed from the file since
    settings = sync_file.notifications_for(config) if config else None
    if config is None or settings is None:
        return []
    try:
        event = event_for(instance, run, status)
        if event not in settings.on and event == "recovery" and "success" in settings.on:
            event = "success"
        if event not in settings.on:
            return []
        secrets = known_secrets(sync_file)
        notification = build_notification(instance, config, settings, run.run_id, event, secrets)
    except Exception as exc:  # noqa: BLE001 - a notification must never break the sensor
        logger.error(f"notification for run {run.run_id} of {config_id} could not be built: {type(exc).__name__}")
        log.debug("notification build failed", exc_info=True)
        return []
    return _deliver(settings, notification, secrets, logger)


def _deliver(settings: NotificationsConfig, notification, secrets: list[str], logger) -> list[str]:
    sent = []
    what = f"{notification.event} notification of {notification.config_id} run {notification.run_id}"
    if settings.webhook_url_env:
        url = os.environ.get(settings.webhook_url_env)
        if not url:
            logger.error(f"{what}: {settings.webhook_url_env} (webhook_url_env) is not set in the daemon's "
                         "environment; no chat message was sent")
        else:
            try:
                send_webhook(url, settings.kind, notification, secrets)
                sent.append("webhook")
            except SendError as exc:
                logger.error(f"{what} not sent: {exc}")
    if settings.email:
        password = os.environ.get(settings.email.password_env) if settings.email.password_env else None
        if settings.email.password_env and not password:
            logger.error(f"{what}: {settings.email.password_env} (email.password_env) is not set in the daemon's "
                         "environment; no e-mail was sent")
        else:
            try:
                send_email(settings.email, password, notification, secrets)
                sent.append("email")
            except SendError as exc:
                logger.error(f"{what} not sent: {exc}")
    if sent:
        logger.info(f"{what} sent by {' and '.join(sent)}")
    return sent
