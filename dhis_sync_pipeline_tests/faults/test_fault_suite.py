"""Under every kind of fault a sync ends with destination = source, nothing lost or counted twice,
and a run status that tells the truth.

Each scenario syncs a generated source (3,000 values of one dataSet over 60 org units, and the
metadata they need) into an empty destination over real HTTP, with a fault injected by the
emulator's FaultInjector on the source or on the destination. An export cap of 1,000 values makes
the sync split the org unit tree into slices, a post chunk of 1,000 makes three data imports, and
step retries are raised (3, no delay) so the product's own recovery is what is tested.

After every run, `honest`: a run that is SUCCESS has a destination holding the source (values
equal as (key, value) sets, metadata UIDs a superset for the synced types), so a run whose
destination does not hold the source is never SUCCESS. A run a fault made fail is followed by one
run without faults, which must be SUCCESS and hold the source.

At the end of each scenario (all shown in the table printed at the end of the session):
- lost: source (key, value) pairs the destination lacks. Must be 0.
- duplicated: pairs the destination holds that the source does not, plus values counted twice.
  The emulator stores values by key (as DHIS2's datavalue table does), so a value posted twice can
  never be stored twice; what a retried or re-posted import can get wrong is the accounting, and
  through it the watermark. So: per run the data step reads each source value at most once
  (read <= N) and reports no more imported than it read (created + updated + ignored <= read, i.e.
  the result of an import that was retried is not added to the retry's); over the runs since the
  destination was last empty, the sum of `created` is at most N, since each key can be created once.
  Must be 0.
- healed by check: values the blocking verification had to resend because the sync step had not
  delivered them (the check caught it in the same run; shown, not an error).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance

from dhis_sync_pipeline.config import SyncFile, load_config
from dhis_sync_pipeline.emulator import EmulatorServer
from dhis_sync_pipeline.emulator.tasks import JobRunner
from dhis_sync_pipeline.launch import execute_in_process
from dhis_sync_pipeline.orchestration.run_summary import summarize_run
from dhis_sync_pipeline_tests.sync.test_data_slices_e2e import data_config, generated, values_of
from dhis_sync_pipeline_tests.sync.test_verification_e2e import SYNCED_TYPES, ids_of

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]
VALUES = "/api/dataValueSets"  # the streamed export on the source, the value imports on the destination
METADATA_IMPORT = "/api/metadata"
STEP_RETRIES = "step_retries: {max_retries: 3, delay_seconds: 0}"
COUNTED = ("drop", "truncate", "rate_limit", "fail", "fail_after_commit")


@dataclass(frozen=True)
class Fault:
    name: str
    side: str  # "source" or "destination": the emulator the fault is injected into
    settings: dict


FAULTS = [
    Fault("source: 503 on 25% of all requests", "source", {"error_rate": 0.25, "error_status": 503}),
    Fault("source: 500 x3 on the export", "source", {"fail": 3, "fail_status": 500, "path_prefix": VALUES}),
    Fault("source: 429 x3 (Retry-After 1) on the export", "source",
          {"rate_limit": 3, "retry_after": 1, "path_prefix": VALUES}),
    Fault("source: 50 ms latency on every request", "source", {"latency": 0.05}),
    Fault("source: connection dropped x4 on the export", "source", {"drop": 4, "path_prefix": VALUES}),
    Fault("source: export body truncated x3", "source", {"truncate": 3, "path_prefix": VALUES}),
    Fault("source: org unit page truncated x2", "source", {"truncate": 2, "path_prefix": "/api/organisationUnits"}),
    Fault("destination: 503 on 25% of all requests", "destination", {"error_rate": 0.25, "error_status": 503}),
    Fault("destination: 500 x2 on value imports", "destination", {"fail": 2, "fail_status": 500, "path_prefix": VALUES}),
    Fault("destination: 429 x3 (Retry-After 1) on metadata imports", "destination",
          {"rate_limit": 3, "retry_after": 1, "path_prefix": METADATA_IMPORT}),
    Fault("destination: 50 ms latency on every request", "destination", {"latency": 0.05}),
    Fault("destination: connection dropped x3 on value imports", "destination", {"drop": 3, "path_prefix": VALUES}),
    Fault("destination: value import committed, answer truncated x2", "destination",
          {"truncate": 2, "path_prefix": VALUES}),
    Fault("destination: value import committed, then 500 x2", "destination",
          {"fail_after_commit": 2, "fail_status": 500, "path_prefix": VALUES}),
    Fault("destination: value import committed, then 502 x3", "destination",
          {"fail_after_commit": 3, "fail_status": 502, "path_prefix": VALUES}),
    Fault("destination: metadata import committed, then 500 x2", "destination",
          {"fail_after_commit": 2, "fail_status": 500, "path_prefix": METADATA_IMPORT}),
]
KILLED = "run SIGKILLed mid-import, then a rerun"
RESTORED = "destination restored empty after a sync"
STOPPED = "destination stopped mid-import, restarted"
ORDER = [fault.name for fault in FAULTS] + [KILLED, RESTORED, STOPPED]


@functools.cache
def _source_payloads() -> tuple[dict, list[dict]]:
    return generated(3_000, org_units=60)


@dataclass
class World:
    source: EmulatorServer
    destination: EmulatorServer
    sync_file: SyncFile
    config_path: Path
    data_set: str


@dataclass
class Run:
    status: str
    holds_source: bool
    data: dict[str, int] = field(default_factory=dict)  # the data asset's counts in this run
    resent: int = 0  # values the blocking check resent
    step_retries: int = 0  # steps Dagster ran again after a retryable failure


@pytest.fixture
def world(start_emulator, write_config) -> World:
    metadata, rows = _source_payloads()
    source = start_emulator(version="2.40", seed=[metadata])
    source.state.import_data_values({"dataValues": rows})
    destination = start_emulator(version="2.40")
    config = data_config(metadata, cap=1_000).replace("data_values: 5000", "data_values: 1000")
    write_config(source, destination, config)
    path = Path(os.environ["DHIS_SYNC_CONFIG"])
    text = path.read_text(encoding="utf-8")
    assert "step_retries: {max_retries: 0}" in text, "write_config renders step_retries differently now"
    path.write_text(text.replace("step_retries: {max_retries: 0}", STEP_RETRIES), encoding="utf-8")
    return World(source, destination, load_config(path), path, metadata["dataSets"][0]["id"])


def holds_source(world: World) -> bool:
    metadata = all(ids_of(world.source, t) <= ids_of(world.destination, t) for t in SYNCED_TYPES)
    return metadata and values_of(world.destination) == values_of(world.source)


def observe(world: World, instance: DagsterInstance, run_id: str) -> Run:
    """The run's status and counts, and whether the destination holds the source right now."""
    summary = summarize_run(instance, run_id)
    data = next((r.counts for r in summary.resources if r.asset == f"data/{world.data_set}"), {})
    resent = 0
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        metadata = entry.dagster_event.event_specific_data.metadata
        if "values_resent" in metadata:
            resent += int(metadata["values_resent"].value)
    retries = len(instance.all_logs(run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY))
    return Run(summary.status, holds_source(world), dict(data), resent, retries)


def sync(world: World, instance: DagsterInstance) -> Run:
    return observe(world, instance, execute_in_process(world.sync_file, "e2e", instance))


def converge(world: World, instance: DagsterInstance, runs: list[Run]) -> list[Run]:
    """A run a fault made fail is followed by one run without faults."""
    if runs[-1].status != "SUCCESS":
        runs.append(sync(world, instance))
    return runs


def injected(*servers: EmulatorServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for server in servers:
        for kind, count in server.faults.injected().items():
            counts[kind] = counts.get(kind, 0) + count
    return counts


def verdict(fault_table: list[dict], name: str, world: World, runs: list[Run], faults: str,
            since_empty: int = 0) -> None:
    """Record the scenario's row, then assert it: convergence, nothing lost or doubled, honesty.

    `since_empty`: index of the first run after the destination was last empty (for sum(created)).
    """
    source, destination = values_of(world.source), values_of(world.destination)
    n = len(source)
    lost, extra = len(source - destination), len(destination - source)
    counted_twice = sum(max(0, r.data.get("read", 0) - n) for r in runs) + sum(
        max(0, sum(r.data.get(k, 0) for k in ("created", "updated", "ignored")) - r.data.get("read", 0))
        for r in runs) + max(0, sum(r.data.get("created", 0) for r in runs[since_empty:]) - n)
    dishonest = [r for r in runs if r.status == "SUCCESS" and not r.holds_source]
    fault_table.append({
        "order": ORDER.index(name), "scenario": name, "faults injected": faults,
        "runs": " -> ".join(r.status for r in runs), "step retries": sum(r.step_retries for r in runs),
        "values lost": lost, "values duplicated": extra + counted_twice,
        "healed by check": sum(r.resent for r in runs), "status honest": "no" if dishonest else "yes",
    })
    details = "; ".join(f"{r.status} holds_source={r.holds_source} data={r.data} resent={r.resent}" for r in runs)
    assert not dishonest, f"a SUCCESS run left the destination different from the source: {details}"
    assert runs[-1].status == "SUCCESS" and runs[-1].holds_source, f"did not converge: {details}"
    assert (lost, extra, counted_twice) == (0, 0, 0), f"lost {lost}, extra {extra}, counted twice {counted_twice}: {details}"
    for collection in SYNCED_TYPES:
        assert ids_of(world.source, collection) <= ids_of(world.destination, collection), collection


def describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in sorted(counts.items())) or "none"


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_fault_ends_with_the_destination_holding_the_source(fault, world, dagster_instance, fault_table):
    faulty: EmulatorServer = getattr(world, fault.side)
    faulty.faults.configure(**fault.settings)

    runs = [sync(world, dagster_instance)]
    faulty.faults.clear()
    converge(world, dagster_instance, runs)

    counts = injected(faulty)
    verdict(fault_table, fault.name, world, runs, describe(counts))
    for kind in COUNTED:  # the fault really happened, every time it was asked for
        assert counts.get(kind, 0) == fault.settings.get(kind, 0), (kind, counts)
    assert counts, "no fault was injected: the scenario proved nothing"


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(0.01)


def test_a_run_killed_mid_import_then_a_rerun(world, dagster_instance, fault_table):
    """SIGKILL of the process running the job (as on an OOM kill), once values started arriving."""
    world.destination.faults.configure(latency=0.5, path_prefix=VALUES)  # three slow imports
    # The job runs in a process of its own (the bench's child) on the same Dagster instance
    # (DAGSTER_HOME is the test instance's) and the same configuration file.
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.child", "--config", str(world.config_path), "--config-id", "e2e"],
        cwd=REPOSITORY, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: world.destination.state.data_values() or child.poll() is not None, 90,
                 "the first values to arrive")
        assert child.poll() is None, "the run ended before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    arrived = len(world.destination.state.data_values())
    [killed_run] = dagster_instance.get_runs(limit=1)
    # Nobody is left to mark the run: in-process it stays STARTED (under the daemon, run
    # monitoring marks it FAILURE, see automation/test_crash_recovery.py). Never SUCCESS.
    killed = observe(world, dagster_instance, killed_run.run_id)
    world.destination.faults.clear()
    assert 0 < arrived < 3_000, arrived

    runs = converge(world, dagster_instance, [killed])
    verdict(fault_table, KILLED, world, runs, f"SIGKILL x1 after {arrived} values arrived, " + describe(injected(world.destination)))
    assert killed.status != "SUCCESS"


def test_a_destination_restored_empty_is_synced_again(world, dagster_instance, fault_table):
    first = sync(world, dagster_instance)
    assert first.status == "SUCCESS" and first.holds_source, first
    destination = world.destination.state
    values = destination.data_values()
    for value in values:
        destination.delete_data_value(value["dataElement"], value["period"], value["orgUnit"],
                                      value["categoryOptionCombo"], value["attributeOptionCombo"])
    deleted = 0
    for collection in SYNCED_TYPES:  # dependants first
        for uid in sorted(ids_of(world.destination, collection)):
            destination.delete_object(collection, uid)
            deleted += 1
    assert not values_of(world.destination) and not ids_of(world.destination, "organisationUnits")

    runs = converge(world, dagster_instance, [first, sync(world, dagster_instance)])
    verdict(fault_table, RESTORED, world, runs, f"{len(values)} values and {deleted} objects deleted",
            since_empty=1)


def test_a_destination_stopped_mid_import_then_restarted(world, dagster_instance, fault_table):
    destination = world.destination
    destination.faults.configure(latency=0.3, path_prefix=VALUES)
    url = destination.base_url
    stopped = threading.Event()

    def stop_once_values_arrive() -> None:
        deadline = time.monotonic() + 60
        while not destination.state.data_values() and time.monotonic() < deadline:
            time.sleep(0.01)
        destination.stop()  # waits for in-flight requests up to uvicorn's 2 s graceful timeout
        stopped.set()

    watcher = threading.Thread(target=stop_once_values_arrive, daemon=True)
    watcher.start()
    down = sync(world, dagster_instance)  # the destination stays down until the run has ended
    watcher.join(15)
    assert stopped.is_set(), "the destination was never stopped"
    arrived = len(destination.state.data_values())

    # Restart on the same port with the same state: stop() shut the async job runner down, so
    # the server gets a new one (start() builds the app from server.state/faults/jobs).
    destination.faults.clear()
    destination.jobs = JobRunner(destination.state)
    destination.start()
    assert destination.base_url == url

    runs = converge(world, dagster_instance, [down])
    verdict(fault_table, STOPPED, world, runs,
            f"stopped x1 after {arrived} values arrived, " + describe(injected(destination)))
    assert down.status == "FAILURE" and arrived < 3_000, (down, arrived)


def test_fail_after_commit_applies_the_import_then_answers_the_error(start_emulator):
    """The fault the import scenarios rely on: the POST is committed, the client sees only a 502."""
    import requests

    metadata, rows = _source_payloads()
    server = start_emulator(version="2.40", seed=[metadata])
    server.faults.configure(fail_after_commit=1, fail_status=502, path_prefix=VALUES)
    answer = requests.post(f"{server.base_url}/api/dataValueSets", json={"dataValues": rows[:10]},
                           auth=("admin", "district"), timeout=30)
    assert answer.status_code == 502
    assert len(server.state.data_values()) == 10
    assert server.faults.injected() == {"fail_after_commit": 1}
