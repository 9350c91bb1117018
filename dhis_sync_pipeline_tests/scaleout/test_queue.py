"""Ten configurations launched at once on one PostgreSQL instance with deploy/dagster.postgres.yaml
and a real dagster-daemon: every progress row kept, never two runs of one configuration at once,
and no destination server sees more concurrent imports than the limit (measured at the server)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from dagster import DagsterInstance

from dhis_sync_pipeline.demo import background
from dhis_sync_pipeline.orchestration.executors import EXECUTOR_ENV
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG, DESTINATION_TAG
from dhis_sync_pipeline_tests.scaleout.conftest import (
    GENERATED, PASSWORD, PASSWORD_ENV, Target, contents, run_times, scope, submit_runs, wait_for_runs,
    workspace_yaml, write_config,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "dagster.postgres.yaml"
CONFIGS, DESTINATIONS, TWICE = 10, 2, 4  # the first TWICE configurations get a second run at once
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}  # one process per run: 20 runs fit on 2 cores


def deploy_limits() -> tuple[dict, int]:
    queue = yaml.safe_load(DEPLOY.read_text())["concurrency"]["runs"]
    limits = {limit["key"]: limit["limit"] for limit in queue["tag_concurrency_limits"]}
    return limits, queue["max_concurrent_runs"]


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    now = peak = 0
    for _, step in points:  # an end at the same instant as a start comes first (-1 < 1)
        now += step
        peak = max(peak, now)
    return peak


@pytest.mark.slow
@pytest.mark.timeout(480)  # 14 runs: 4-5 minutes on a 2-CPU machine at load 10, less when idle
def test_ten_configurations_at_once_respect_the_queue_limits(start_emulator, postgres_url, tmp_path, monkeypatch):
    limits, max_runs = deploy_limits()
    per_config, per_destination = limits[CONFIG_TAG], limits[DESTINATION_TAG]
    source = start_emulator(seed="generated", generator_options={**GENERATED, "data_sets": 1})
    destinations = [start_emulator() for _ in range(DESTINATIONS)]
    for destination in destinations:  # slow imports, so that runs that could overlap would
        destination.faults.configure(latency=0.3, path_prefix="/api/dataValueSets")
    data_sets, roots = scope(source)
    targets = [Target(f"c{i:02d}", f"dst{i % DESTINATIONS}", destinations[i % DESTINATIONS].base_url)
               for i in range(CONFIGS)]
    config = write_config(tmp_path / "dhis_sync.yaml", source.base_url, targets, data_sets, roots)

    home = tmp_path / "home"
    home.mkdir()
    instance_yaml = yaml.safe_load(DEPLOY.read_text())  # the shipped file, on this test's database
    instance_yaml["storage"] = {"postgres": {"postgres_url": postgres_url}}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml), encoding="utf-8")
    for name, value in {"DAGSTER_HOME": str(home), "DHIS_SYNC_CONFIG": str(config), PASSWORD_ENV: PASSWORD}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    workspace = workspace_yaml(tmp_path)

    with DagsterInstance.get() as instance:
        began = time.monotonic()
        run_ids = submit_runs(instance, workspace, [
            (f"sync_{t.config_id}", {CONFIG_TAG: t.config_id}, IN_PROCESS) for t in targets + targets[:TWICE]
        ])
        daemon = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace)]
        with background(daemon, tmp_path / "daemon.log", env=dict(os.environ)):
            runs = wait_for_runs(instance, run_ids, timeout=600)
        wall = time.monotonic() - began
        times = run_times(instance, run_ids)
        from dhis_sync_pipeline.progress.store import progress_table, store_url_for_instance, get_store

        store = get_store(store_url_for_instance(instance))
        with store.engine.connect() as conn:
            rows = conn.execute(progress_table.select()).mappings().all()

    failed = {r: run.status.value for r, run in runs.items() if run.status.value != "SUCCESS"}
    assert not failed, failed

    # Every progress row kept: each run has a row per resource, all finished and complete.
    by_run: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_run.setdefault(row["run_id"], {})[row["resource"]] = row
    assert set(by_run) == set(run_ids)
    resources = set(by_run[run_ids[0]])
    assert len(resources) >= 7
    differing = {run: sorted(set(kept) ^ resources) for run, kept in by_run.items() if set(kept) != resources}
    assert not differing, (sorted(resources), differing)
    assert all(row["finished_at"] is not None and row["synced"] + row["errors"] == row["total"] for row in rows)

    # Never two runs of one configuration at once (Dagster's run records).
    for target in targets:
        mine = sorted(times[r] for r in run_ids if runs[r].tags[CONFIG_TAG] == target.config_id)
        assert len(mine) == (2 if target in targets[:TWICE] else 1)
        assert most_at_once(mine) <= per_config, (target.config_id, mine)
        assert all(earlier[1] <= later[0] for earlier, later in zip(mine, mine[1:]))

    # No destination got more than its limit: runs (records) and imports (counted by the server).
    runs_at_once = {}
    imports_at_once = {}
    for index, destination in enumerate(destinations):
        name = f"dst{index}"
        runs_at_once[name] = most_at_once([times[r] for r in run_ids if runs[r].tags[DESTINATION_TAG] == name])
        gauge = requests.get(f"{destination.base_url}/__emulator__/imports", timeout=10).json()
        imports_at_once[name] = (gauge["maxOpen"], gauge["total"])
        assert runs_at_once[name] <= per_destination
        assert 0 < gauge["maxOpen"] <= per_destination, gauge
        assert contents(destination, data_sets, roots) == contents(source, data_sets, roots)
    overall = most_at_once(list(times.values()))
    assert overall <= max_runs

    durations = [end - start for start, end in times.values()]
    print(
        f"\n[scaleout/queue] {len(run_ids)} runs of {CONFIGS} configurations ({TWICE} of them twice) into "
        f"{DESTINATIONS} destinations, in-process executor, queue limits: {max_runs} runs, {per_config} per "
        f"configuration, {per_destination} per destination\n"
        f"[scaleout/queue] wall {wall:.1f}s from submit to last run done; run time mean "
        f"{sum(durations) / len(durations):.1f}s, max {max(durations):.1f}s; most runs at once {overall}; "
        f"per destination runs at once {runs_at_once}, import POSTs (most open at once, total) {imports_at_once}; "
        f"{len(rows)} progress rows ({len(resources)} per run)"
    )
