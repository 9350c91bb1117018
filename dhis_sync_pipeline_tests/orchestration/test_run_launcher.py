"""The dagster.yaml the project writes and ships, and the run launcher's health check, on a real
Dagster instance (SQLite in a temporary DAGSTER_HOME)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.events import EngineEventData
from dagster._core.launcher import WorkerStatus
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.test_utils import create_run_for_test

from dhis_sync_pipeline.orchestration.instance_yaml import instance_yaml, write_default_instance_yaml
from dhis_sync_pipeline.orchestration.run_launcher import (
    WORKER_HOST_TAG,
    MonitoredRunLauncher,
    process_alive,
    run_worker_process,
)
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG, DESTINATION_TAG

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def instance(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    assert write_default_instance_yaml(home) == home / "dagster.yaml"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        yield instance


def started_run(instance: DagsterInstance, pid: int | None, host: str | None = None):
    """A STARTED run whose worker (as Dagster's gRPC server records it) has process id `pid`."""
    tags = {CONFIG_TAG: "e2e", WORKER_HOST_TAG: host or socket.gethostname()}
    run = create_run_for_test(instance, job_name="sync_e2e", status=DagsterRunStatus.STARTED, tags=tags)
    if pid is not None:
        instance.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))
    return run


def exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_default_instance_yaml_limits_each_configuration_and_monitors_runs(instance):
    assert isinstance(instance.run_launcher, MonitoredRunLauncher)
    assert instance.run_monitoring_enabled
    assert 0 < instance.run_monitoring_poll_interval_seconds <= 60
    assert instance.run_monitoring_max_runtime_seconds == 0  # long syncs are not capped
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    concurrency = instance.get_concurrency_config()  # what the daemon's run queue reads
    assert concurrency.run_queue_config.tag_concurrency_limits == [
        {"key": CONFIG_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
        {"key": DESTINATION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 2},
    ]
    assert concurrency.pool_config.default_pool_limit == 1  # one import step per destination server


def test_write_default_instance_yaml_never_overwrites(tmp_path, monkeypatch):
    mine = tmp_path / "dagster.yaml"
    mine.write_text("telemetry:\n  enabled: true\n")
    assert write_default_instance_yaml(tmp_path) is None
    assert mine.read_text() == "telemetry:\n  enabled: true\n"
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert write_default_instance_yaml() is None  # no home, nothing to write
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "new"))
    assert write_default_instance_yaml() == tmp_path / "new" / "dagster.yaml"


def test_deploy_files_are_the_instance_yaml():
    assert (DEPLOY / "dagster.yaml").read_text() == instance_yaml()
    postgres = yaml.safe_load((DEPLOY / "dagster.postgres.yaml").read_text())
    assert postgres.pop("storage") == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert postgres == yaml.safe_load(instance_yaml())


def test_health_check_fails_a_run_whose_worker_is_gone(instance):
    run = started_run(instance, exited_pid())
    result = instance.run_launcher.check_run_worker_health(run)
    assert result.status == WorkerStatus.FAILED
    assert "is gone" in result.msg


def test_health_check_follows_the_worker_process(instance):
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run = started_run(instance, worker.pid)
        assert run_worker_process(instance, run.run_id)[0] == worker.pid
        assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
    finally:
        worker.kill()
        worker.wait()
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.FAILED


def test_a_later_process_reusing_the_pid_is_not_the_worker():
    me = psutil.Process()
    assert process_alive(me.pid, started_at=me.create_time() + 1)
    assert not process_alive(me.pid, started_at=me.create_time() - 60)


def test_health_check_does_not_fail_what_it_cannot_see(instance):
    # Dagster's monitoring daemon fails a run on any answer but RUNNING or SUCCESS.
    elsewhere = started_run(instance, exited_pid(), host="another-machine")
    no_pid_yet = started_run(instance, None)
    for run in (elsewhere, no_pid_yet):
        assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
