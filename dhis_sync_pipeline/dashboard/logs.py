"""Sync log lines read back from the Dagster instance's event log, newest first.

The lines are the ones Dagster's run view shows: what the steps logged (progress, rejected
objects, summaries) and the run and step outcomes. Known secrets (the values of the environment
variables the configuration names) are masked before anything is shown.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass

from dagster import DagsterEventType, DagsterInstance, RunsFilter

from dhis_sync_pipeline.config import BasicAuthConfig, SyncFile
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG
from dhis_sync_pipeline.dashboard.status import iso

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}
SHOWN_EVENTS = {
    DagsterEventType.RUN_START,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELED,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_UP_FOR_RETRY,
    DagsterEventType.ASSET_CHECK_EVALUATION,
}
MAX_RUNS = 200
PAGE_SIZE = 50


@dataclass(frozen=True)
class LogLine:
    timestamp: float
    level: str
    config_id: str
    run_id: str
    step: str | None
    message: str

    @property
    def time_iso(self) -> str:
        return iso(self.timestamp) or ""


@dataclass(frozen=True)
class LogPage:
    lines: list[LogLine]
    page: int
    has_next: bool


def read_logs(
    instance: DagsterInstance,
    sync_file: SyncFile,
    *,
    config_id: str | None = None,
    level: str = "INFO",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> LogPage:
    known = {c.id for c in sync_file.sync_configurations}
    tags = {CONFIG_TAG: config_id} if config_id else {CONFIG_TAG: sorted(known)} if known else None
    if not tags:
        return LogPage([], 1, False)
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=dt.UTC) if date_from else None
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC) if date_to else None
    runs = instance.get_runs(filters=RunsFilter(tags=tags, created_before=end), limit=MAX_RUNS)
    minimum = LEVELS.get(level.upper(), logging.INFO)
    secrets = _secrets(sync_file)
    lines: list[LogLine] = []
    for run in runs:
        run_config = run.tags.get(CONFIG_TAG, "")
        for entry in instance.all_logs(run.run_id):
            if entry.level < minimum:
                continue
            if start and entry.timestamp < start.timestamp():
                continue
            if end and entry.timestamp >= end.timestamp():
                continue
            event = entry.dagster_event
            if event is not None and event.event_type not in SHOWN_EVENTS:
                continue
            message = entry.user_message or (event.message if event else "") or ""
            if event is not None and not message:
                message = event.event_type.value
            lines.append(
                LogLine(
                    timestamp=entry.timestamp,
                    level=logging.getLevelName(entry.level),
                    config_id=run_config,
                    run_id=run.run_id,
                    step="/".join(entry.step_key.split("__")[1:]) or entry.step_key if entry.step_key else None,
                    message=_mask(message, secrets),
                )
            )
    lines.sort(key=lambda line: line.timestamp, reverse=True)
    page = max(page, 1)
    chunk = lines[(page - 1) * page_size : page * page_size + 1]
    return LogPage(chunk[:page_size], page, len(chunk) > page_size)


def _secrets(sync_file: SyncFile) -> list[str]:
    values = []
    for instance in sync_file.instances:
        auth = instance.auth
        name = auth.password_env if isinstance(auth, BasicAuthConfig) else auth.token_env
        value = os.environ.get(name)
        if value and len(value) >= 4:
            values.append(value)
    for name in ("DHIS_SYNC_DASHBOARD_TOKEN",):
        value = os.environ.get(name)
        if value:
            values.append(value)
    return values


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "********")
    return text
