"""Start sync runs on the real Dagster instance, the way the Dagster UI and CLI do.

`trigger_run` goes through `dagster job launch`, so a run started by `dhis-sync trigger` is
created, queued and launched by the instance's own run coordinator and launcher, exactly like one
started from the UI. `execute_in_process` is for `dhis-sync demo --once`, which needs no daemon.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dhis_sync_pipeline.code_location import build_definitions
from dhis_sync_pipeline.config import CONFIG_ENV_VAR, SyncFile, config_path
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG, FULL_SYNC_TAG, STARTED_BY_TAG, TRIGGER_TAG
from dhis_sync_pipeline.orchestration.workspace import LOCATION_NAME, workspace_file

FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


class LaunchError(RuntimeError):
    """Dagster refused to launch the run; the message carries Dagster's own explanation."""


def trigger_run(config_id: str, *, full_sync: bool = False, source: str = "cli") -> str:
    """Submit a run of `sync_<config_id>` to the instance in DAGSTER_HOME; return its run id."""
    trigger_id = uuid.uuid4().hex
    tags = {TRIGGER_TAG: trigger_id, CONFIG_TAG: config_id, STARTED_BY_TAG: source}
    if full_sync:
        tags[FULL_SYNC_TAG] = "true"
    env = dict(os.environ)
    env[CONFIG_ENV_VAR] = str(config_path().resolve())
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "dagster", "job", "launch",
            "-w", str(workspace_file(Path(tmp))),
            "-j", f"sync_{config_id}",
            "--tags", json.dumps(tags),
        ]  # fmt: skip
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    instance = DagsterInstance.get()
    runs = instance.get_runs(filters=RunsFilter(tags={TRIGGER_TAG: trigger_id}), limit=1)
    if result.returncode != 0 or not runs:
        raise LaunchError(_dagster_error(result.stderr or result.stdout))
    return runs[0].run_id


def _dagster_error(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip() and "Warning" not in line]
    return "\n".join(lines[-15:]) or "dagster job launch failed without a message"


def wait_for_run(instance: DagsterInstance, run_id: str, timeout: float, poll: float = 1.0) -> DagsterRunStatus:
    deadline = time.monotonic() + timeout
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in FINISHED:
            return run.status
        if time.monotonic() > deadline:
            return run.status if run else DagsterRunStatus.NOT_STARTED
        time.sleep(poll)


def execute_in_process(sync_file: SyncFile, config_id: str, instance: DagsterInstance, *, full_sync: bool = False) -> str:
    """Run one configuration's job in this process, recorded in `instance`; return the run id."""
    job = build_definitions(sync_file).resolve_job_def(f"sync_{config_id}")
    tags = {CONFIG_TAG: config_id, STARTED_BY_TAG: "in_process"}
    if full_sync:
        tags[FULL_SYNC_TAG] = "true"
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    return result.run_id
