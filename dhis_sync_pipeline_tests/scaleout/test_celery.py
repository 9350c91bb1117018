"""DHIS_SYNC_EXECUTOR=celery: the same sync job, its steps run by two `dagster-celery worker`
processes through RabbitMQ, leaves the destination exactly as the multiprocess executor does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, EventRecordsFilter

from dhis_sync_pipeline.demo import background
from dhis_sync_pipeline.orchestration.executors import (
    BROKER_ENV, EXECUTOR_ENV, QUEUE_ENV, ExecutorChoiceError, sync_executor,
)
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG
from dhis_sync_pipeline_tests.scaleout.conftest import (
    GENERATED, PASSWORD, PASSWORD_ENV, Target, contents, dagster_home, run_times, scope, submit_runs,
    wait_for_runs, workspace_yaml, write_config,
)

WORKERS = 2


def test_executor_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    assert sync_executor() is None  # Dagster's default: multiprocess, or in_process by run config
    monkeypatch.setenv(EXECUTOR_ENV, "celery")
    monkeypatch.delenv(BROKER_ENV, raising=False)
    with pytest.raises(ExecutorChoiceError, match=BROKER_ENV):
        sync_executor()
    monkeypatch.setenv(BROKER_ENV, "pyamqp://guest:secret@127.0.0.1:5672//")
    executor = sync_executor()
    assert executor.name == "celery"
    assert "secret" not in repr(vars(executor))  # read from the environment when a run starts
    monkeypatch.setenv(EXECUTOR_ENV, "kubernetes")
    with pytest.raises(ExecutorChoiceError, match="multiprocess, celery"):
        sync_executor()


def celery_workers(stack: ExitStack, env: dict, queue: str, folder: Path) -> None:
    worker = shutil.which("dagster-celery", path=str(Path(sys.executable).parent))
    assert worker, "dagster-celery is not installed (pip install -e '.[dev]')"
    for i in range(WORKERS):
        # One task at a time per worker: two workers are two places steps can run.
        command = [worker, "worker", "start", "-A", "dagster_celery.app", "-q", queue, "-n", f"w{i}-{queue}",
                   "--", "--concurrency=1", "--without-gossip", "--without-mingle"]
        stack.enter_context(background(command, folder / f"worker{i}.log", env=env))


def wait_for_workers(queue: str, env: dict, timeout: float = 60) -> None:
    from celery import Celery

    app = Celery(broker=env[BROKER_ENV])
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0) or []
            if sum(1 for reply in replies for name in reply if queue in name) >= WORKERS:
                return
            time.sleep(1)
    finally:
        app.close()
    raise AssertionError(f"{WORKERS} celery workers did not come up within {timeout:.0f}s")


def celery_hosts(instance, run_id: str) -> set[str]:
    """The worker names Dagster recorded for the run's steps ("Executing steps … in celery worker")."""
    records = instance.get_event_records(EventRecordsFilter(event_type=DagsterEventType.ENGINE_EVENT), limit=10_000)
    hosts = set()
    for record in records:
        entry = record.event_log_entry
        if entry.run_id != run_id or "in celery worker" not in (entry.dagster_event.message or ""):
            continue
        metadata = entry.dagster_event.event_specific_data.metadata
        hosts.add(metadata["Celery worker"].value)
    return hosts


@pytest.mark.slow
def test_celery_workers_leave_the_same_destination_as_multiprocess(
    start_emulator, postgres_url, rabbitmq, tmp_path, monkeypatch
):
    source = start_emulator(seed="generated", generator_options={**GENERATED, "data_sets": 1})
    by_multiprocess, by_celery = start_emulator(), start_emulator()
    data_sets, roots = scope(source)
    config = write_config(tmp_path / "dhis_sync.yaml", source.base_url, [
        Target("multi", "dst_multi", by_multiprocess.base_url), Target("cel", "dst_celery", by_celery.base_url),
    ], data_sets, roots)
    home = dagster_home(tmp_path / "home", postgres_url, """\
        run_coordinator:
          module: dagster._core.run_coordinator
          class: DefaultRunCoordinator
        """)  # runs start at once; queueing is the other test's subject
    queue = f"dhis_sync_test_{uuid.uuid4().hex[:8]}"  # ours alone on the shared broker
    for name, value in {"DAGSTER_HOME": str(home), "DHIS_SYNC_CONFIG": str(config), PASSWORD_ENV: PASSWORD,
                        BROKER_ENV: rabbitmq, QUEUE_ENV: queue}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    workspace = workspace_yaml(tmp_path)
    # `dagster-celery worker start` runs `celery` from PATH: this venv's, as a service's unit sets it.
    celery_env = dict(os.environ, **{EXECUTOR_ENV: "celery"},
                      PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))

    with DagsterInstance.get() as instance, ExitStack() as workers:
        celery_workers(workers, celery_env, queue, tmp_path)
        began = time.monotonic()
        [multi] = submit_runs(instance, workspace, [("sync_multi", {CONFIG_TAG: "multi"}, {})])
        wait_for_runs(instance, [multi], timeout=240)
        multi_wall = time.monotonic() - began

        wait_for_workers(queue, celery_env)
        monkeypatch.setenv(EXECUTOR_ENV, "celery")  # the code location now builds jobs on celery
        began = time.monotonic()
        [cel] = submit_runs(instance, workspace, [("sync_cel", {CONFIG_TAG: "cel"}, {})])
        runs = wait_for_runs(instance, [cel], timeout=240)
        celery_wall = time.monotonic() - began

        for run_id in (multi, cel):
            assert instance.get_run_by_id(run_id).status.value == "SUCCESS", run_id
        hosts = celery_hosts(instance, cel)
        times = run_times(instance, [multi, cel])
        steps = len(runs[cel].step_keys_to_execute or []) or "all"

    in_source = contents(source, data_sets, roots)
    assert len(in_source["values"]) > 0
    assert contents(by_multiprocess, data_sets, roots) == in_source
    assert contents(by_celery, data_sets, roots) == in_source
    assert hosts and all(queue in host for host in hosts), hosts  # the steps ran on our workers
    print(
        f"\n[scaleout/celery] {len(in_source['values'])} values, "
        f"{sum(len(v) for v in in_source['metadata'].values())} metadata objects; steps: {steps}; "
        f"celery workers configured {WORKERS}, used {len(hosts)} ({', '.join(sorted(hosts))})\n"
        f"[scaleout/celery] run time (run records): multiprocess {times[multi][1] - times[multi][0]:.1f}s, "
        f"celery {times[cel][1] - times[cel][0]:.1f}s; wall from submit: multiprocess {multi_wall:.1f}s, "
        f"celery {celery_wall:.1f}s"
    )
