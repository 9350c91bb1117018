"""Crashed runs and one run per configuration, with a real dagster-daemon on a real SQLite instance
configured by the project's own dagster.yaml (`write_default_instance_yaml`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.events import EngineEventData
from dagster._core.test_utils import create_run_for_test

from dhis_sync_pipeline.automation.rules import run_in_progress
from dhis_sync_pipeline.demo import background
from dhis_sync_pipeline.launch import FINISHED, trigger_run
from dhis_sync_pipeline.orchestration.workspace import workspace_file
from dhis_sync_pipeline.orchestration.instance_yaml import write_default_instance_yaml
from dhis_sync_pipeline.orchestration.run_launcher import WORKER_HOST_TAG, run_worker_process
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG

POLL_INTERVAL = 5  # run monitoring's, short for the test (the shipped dagster.yaml says 30)
RUNNING = {DagsterRunStatus.STARTING, DagsterRunStatus.STARTED}


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def instance(tmp_path, monkeypatch) -> DagsterInstance:
    home = tmp_path / "dagster_home"
    write_default_instance_yaml(home, poll_interval_seconds=POLL_INTERVAL)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return DagsterInstance.get()


@pytest.fixture
def source(start_emulator, write_config):
    source = start_emulator(seed="generated")
    write_config(source, start_emulator(), "metadata: {resources: [organisationUnits]}\n")
    return source


@pytest.fixture
def daemon_command(tmp_path) -> list[str]:
    return [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace_file(tmp_path))]


def status(instance: DagsterInstance, run_id: str) -> DagsterRunStatus:
    return instance.get_run_by_id(run_id).status


def test_run_in_progress_does_not_wait_on_a_dead_run(instance, write_config):
    config = write_config("http://127.0.0.1:9", "http://127.0.0.1:9").sync_configurations[0]
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run = create_run_for_test(instance, job_name=config.job_name, status=DagsterRunStatus.STARTED,
                                  tags={CONFIG_TAG: config.id, WORKER_HOST_TAG: socket.gethostname()})
        instance.report_engine_event(f"Started process for run (pid: {worker.pid}).", run,
                                     EngineEventData.in_process(worker.pid))
        assert run_in_progress(instance, config) == f"run {run.run_id} of sync_e2e is still started"
    finally:
        worker.kill()
        worker.wait()
    assert run_in_progress(instance, config) is None


@pytest.mark.slow
def test_killed_run_is_marked_failed_and_the_next_run_starts(instance, source, daemon_command, tmp_path):
    source.faults.configure(latency=2.0)  # the run is still going when it is killed
    with background(daemon_command, tmp_path / "daemon.log", env=dict(os.environ)) as daemon:
        run_id = trigger_run("e2e")
        pid = wait_for(lambda: status(instance, run_id) == DagsterRunStatus.STARTED
                       and run_worker_process(instance, run_id), 60, "the run to start")[0]
        # The run worker, its code server and the daemon die at once, as on an OOM kill or a crash:
        # nobody is left to mark the run failed.
        assert os.getpgid(pid) == daemon.pid
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
             10, "the run worker to die")
    time.sleep(2)
    assert status(instance, run_id) == DagsterRunStatus.STARTED

    with background(daemon_command, tmp_path / "daemon_restarted.log", env=dict(os.environ)):
        wait_for(lambda: status(instance, run_id) == DagsterRunStatus.FAILURE, 15 + 2 * POLL_INTERVAL,
                 "run monitoring to mark the killed run failed")
        messages = [event.message for event in instance.all_logs(run_id)]
        assert any(f"run worker process {pid} on {socket.gethostname()} is gone" in m for m in messages), messages

        source.faults.clear()
        next_run = trigger_run("e2e")
        assert wait_for(lambda: status(instance, next_run) in FINISHED and status(instance, next_run), 60,
                        "the next run of the configuration") == DagsterRunStatus.SUCCESS


@pytest.mark.slow
def test_two_runs_of_one_configuration_never_run_at_once(instance, source, daemon_command, tmp_path):
    source.faults.configure(latency=0.3)  # each run lasts a few seconds
    runs = [trigger_run("e2e"), trigger_run("e2e")]  # both queued before the daemon dequeues any
    assert [status(instance, r) for r in runs] == [DagsterRunStatus.QUEUED] * 2
    seen_running: set[str] = set()
    with background(daemon_command, tmp_path / "daemon.log", env=dict(os.environ)):
        deadline = time.monotonic() + 80
        while not all(status(instance, r) in FINISHED for r in runs):
            assert time.monotonic() < deadline, "the two runs did not finish"
            running = [r for r in runs if status(instance, r) in RUNNING]
            assert len(running) <= 1, "two runs of one configuration ran at the same time"
            seen_running.update(running)
            time.sleep(0.2)
    assert seen_running == set(runs)
    assert [status(instance, r) for r in runs] == [DagsterRunStatus.SUCCESS] * 2
    first, second = sorted((instance.get_run_record_by_id(r) for r in runs), key=lambda rec: rec.start_time)
    assert instance.get_run_stats(second.dagster_run.run_id).launch_time >= first.end_time
