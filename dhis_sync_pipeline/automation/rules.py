"""The auto-sync settings that can stop a sensor tick from requesting a run, each with its reason.

All facts come from the Dagster instance (runs of the configuration, by tag) and the source's own
clock, so the sensor, the CLI and the UI agree about why nothing ran.
"""

from __future__ import annotations

import datetime as dt

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter
from dagster._core.launcher import WorkerStatus

from dhis_sync_pipeline.config import SyncConfig
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG, STARTED_BY_TAG

IN_PROGRESS = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def outside_time_windows(config: SyncConfig, source_time: dt.datetime) -> str | None:
    windows = config.auto.time_windows()
    if not windows or any(w.contains(source_time.time()) for w in windows):
        return None
    allowed = ", ".join(str(w) for w in windows)
    return f"outside the allowed time windows ({allowed}); the source's clock says {source_time:%H:%M}"


def run_in_progress(instance: DagsterInstance, config: SyncConfig) -> str | None:
    runs = instance.get_runs(filters=RunsFilter(tags={CONFIG_TAG: config.id}, statuses=IN_PROGRESS), limit=20)
    for run in runs:
        if not _worker_is_dead(instance, run):
            return f"run {run.run_id} of {config.job_name} is still {run.status.value.lower()}"
    return None


def _worker_is_dead(instance: DagsterInstance, run: DagsterRun) -> bool:
    """A STARTED run whose process is gone is no longer in progress: run monitoring will mark it
    FAILURE (deploy/dagster.yaml), and a run requested meanwhile waits in the queue until then."""
    launcher = instance.run_launcher
    if run.status != DagsterRunStatus.STARTED or not launcher.supports_check_run_worker_health:
        return False
    try:
        return launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
    except Exception:  # a launcher that cannot tell: treat the run as alive, as before
        return False


def cooling_down(instance: DagsterInstance, config: SyncConfig, now: dt.datetime) -> str | None:
    """After a failed run, wait `cooldown_after_error` seconds before trying again."""
    cooldown = config.auto.cooldown_after_error
    finished = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
    records = instance.get_run_records(
        filters=RunsFilter(tags={CONFIG_TAG: config.id}, statuses=finished), limit=1
    )
    if not records or cooldown == 0:
        return None
    record = records[0]
    if record.dagster_run.status != DagsterRunStatus.FAILURE or record.end_time is None:
        return None
    ended = dt.datetime.fromtimestamp(record.end_time, tz=dt.timezone.utc)
    resume = ended + dt.timedelta(seconds=cooldown)
    if now < resume:
        return (
            f"cooling down after failed run {record.dagster_run.run_id} "
            f"until {resume:%Y-%m-%d %H:%M:%S} UTC (cooldown_after_error: {cooldown}s)"
        )
    return None


def too_many_runs(instance: DagsterInstance, config: SyncConfig, now: dt.datetime) -> str | None:
    """At most `max_runs_per_hour` runs started by the sensor in the last hour."""
    limit = config.auto.max_runs_per_hour
    recent = instance.get_runs(
        filters=RunsFilter(
            tags={CONFIG_TAG: config.id, STARTED_BY_TAG: "sensor"},
            created_after=now - dt.timedelta(hours=1),
        ),
        limit=limit,
    )
    if len(recent) >= limit:
        return f"{len(recent)} automatic runs in the last hour already (max_runs_per_hour: {limit})"
    return None
