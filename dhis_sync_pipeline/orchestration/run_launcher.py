"""Dagster's DefaultRunLauncher, plus the health check that lets run monitoring fail a dead run.

The DefaultRunLauncher starts each run worker as a subprocess of the code server. While that code
server lives it notices a dead worker itself; when both die (machine reboot, OOM killer, the
service's process group killed) the run would stay STARTED forever, holding its configuration's
slot in the run queue. With `run_monitoring` on, the monitoring daemon asks this launcher every
`poll_interval_seconds` whether the worker lives: its pid is the one in Dagster's own engine event
"Started process for run (pid: N)", and the machine is the tag written at launch.

Dagster's monitoring daemon fails a run on any answer but RUNNING or SUCCESS (UNKNOWN included),
so FAILED is answered only when the worker is certainly gone, and RUNNING whenever we cannot see
it (worker on another machine, pid not recorded yet): such runs keep the old behaviour.
"""

from __future__ import annotations

import socket

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

WORKER_HOST_TAG = "dhis_sync/worker_host"  # the machine the run worker was started on
STARTED_PROCESS = "Started process for run (pid: "  # dagster._grpc.impl's engine event
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
CLOCK_SLACK = 2.0  # seconds between a process's start and its first event


class MonitoredRunLauncher(DefaultRunLauncher):
    """A DefaultRunLauncher whose run workers the run monitoring daemon can check."""

    def launch_run(self, context: LaunchRunContext) -> None:
        # Local code servers (the ones Dagster starts for python_module locations) run the worker
        # here; a code server on another host runs it there, where we cannot look.
        code_location = context.workspace.get_code_location(
            context.dagster_run.remote_job_origin.repository_origin.code_location_origin.location_name
        ) if context.workspace else None
        client = getattr(code_location, "client", None)
        if client is not None and (client.socket or client.host in LOCAL_HOSTS):
            self._instance.add_run_tags(context.dagster_run.run_id, {WORKER_HOST_TAG: socket.gethostname()})
        super().launch_run(context)

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        host = run.tags.get(WORKER_HOST_TAG)
        if host != socket.gethostname():
            where = f"on {host}" if host else f"behind {run.tags.get(GRPC_INFO_TAG, 'an unknown code server')}"
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker {where}: not checked from here")
        started = run_worker_process(self._instance, run.run_id)
        if started is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "run worker has not recorded its pid yet")
        pid, started_at = started
        if process_alive(pid, started_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"run worker process {pid} on {host} is gone (killed or crashed)",
            run_worker_id=str(pid),
        )


def run_worker_process(instance: DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, timestamp) of the run's worker process, from the engine event Dagster writes at its start."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50).records
    for record in records:
        entry = record.event_log_entry
        if entry.message.startswith(STARTED_PROCESS):
            pid = entry.dagster_event.engine_event_data.metadata["pid"].value
            return int(pid), entry.timestamp
    return None


def process_alive(pid: int, started_at: float) -> bool:
    """Whether `pid` is still the process that started at `started_at` (not a later one reusing it)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.create_time() <= started_at + CLOCK_SLACK
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # e.g. AccessDenied: it exists, we just may not look closer
        return True
