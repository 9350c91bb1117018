"""Scale-out on Dagster's own engines, for real: a Dagster instance on the machine's PostgreSQL,
RabbitMQ for the celery executor, emulated DHIS2 servers over HTTP, runs submitted through a
loaded code location exactly as the UI submits them.

Each test gets PostgreSQL databases of its own (unique names, dropped afterwards) and a celery
queue of its own, so tests on other xdist workers or other checkouts never see its runs or tasks.
"""

from __future__ import annotations

import socket
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
RABBITMQ = ("127.0.0.1", 5672)
BROKER_URL = "pyamqp://guest:guest@127.0.0.1:5672//"
PASSWORD_ENV = "SCALEOUT_TEST_PASSWORD"
PASSWORD = "district"
WINDOW = ("2000-01-01", "2030-12-31")  # the generator writes 2024's months
# Small: the tests are about engines and limits, not volume.
GENERATED = {"org_units": 30, "levels": 3, "data_elements": 12, "data_sets": 2, "data_values": 400, "seed": 7}
METADATA = ("organisationUnits", "categoryOptions", "categories", "categoryCombos", "categoryOptionCombos",
            "dataElements", "dataSets")
SERVER_MANAGED = ("created", "lastUpdated", "href", "lastUpdatedBy", "createdBy", "user", "access")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one Dagster instance (runs, events, progress)."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(f"{PG_SERVER}/postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 (user postgres): {exc}")
    admin.autocommit = True
    name = f"dhis_sync_scaleout_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        from dhis_sync_pipeline.progress import store as store_module

        for url in [u for u in store_module._STORES if name in u]:
            store_module._STORES.pop(url).dispose()
            store_module._ENGINES.pop(url, None)
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def rabbitmq() -> str:
    with socket.socket() as sock:
        sock.settimeout(3)
        if sock.connect_ex(RABBITMQ) != 0:
            pytest.skip("no RabbitMQ on 127.0.0.1:5672 (guest/guest)")
    return BROKER_URL


def dagster_home(folder: Path, postgres_url: str, extra_yaml: str = "") -> Path:
    """A Dagster home whose dagster.yaml is deploy/dagster.postgres.yaml's storage plus `extra_yaml`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        f"storage:\n  postgres:\n    postgres_url: {postgres_url}\n" + textwrap.dedent(extra_yaml),
        encoding="utf-8",
    )
    return folder


@dataclass(frozen=True)
class Target:
    config_id: str
    destination: str  # instance name
    destination_url: str


def write_config(path: Path, source_url: str, targets: list[Target], data_sets: list[str], roots: list[str]) -> Path:
    """One source, several destinations, one configuration per target: metadata and data values."""
    auth = f"auth: {{type: basic, username: admin, password_env: {PASSWORD_ENV}}}"
    lines = ["instances:", "  - name: source", f"    base_url: {source_url}", f"    {auth}"]
    for name, url in sorted({(t.destination, t.destination_url) for t in targets}):
        lines += [f"  - name: {name}", f"    base_url: {url}", f"    {auth}"]
    lines.append("sync_configurations:")
    for target in targets:
        lines += [
            f"  - id: {target.config_id}",
            f"    name: Scale-out {target.config_id}",
            "    source: source",
            f"    destination: {target.destination}",
            "    step_retries: {max_retries: 0}",
            f"    metadata: {{resources: [{', '.join(METADATA)}]}}",
            "    data:",
            f"      data_sets: [{', '.join(data_sets)}]",
            f"      org_units: [{', '.join(roots)}]",
            f"      start_date: {WINDOW[0]}",
            f"      end_date: {WINDOW[1]}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def scope(server) -> tuple[list[str], list[str]]:
    return (sorted(o["id"] for o in server.state.objects("dataSets")),
            sorted(o["id"] for o in server.state.objects("organisationUnits") if "parent" not in o))


def contents(server, data_sets: list[str], roots: list[str]) -> dict:
    """What a user compares: every synced metadata object (owner fields) and every data value."""
    metadata = {
        kind: sorted(tuple(sorted((k, repr(v)) for k, v in obj.items() if k not in SERVER_MANAGED))
                     for obj in server.state.objects(kind))
        for kind in METADATA
    }
    values = set()
    response = requests.get(
        f"{server.base_url}/api/dataValueSets",
        params={"dataSet": data_sets, "orgUnit": roots, "children": "true",
                "startDate": WINDOW[0], "endDate": WINDOW[1]},
        auth=("admin", PASSWORD), timeout=60,
    )
    response.raise_for_status()
    for value in response.json().get("dataValues", []):
        values.add(tuple(sorted((k, str(v)) for k, v in value.items() if k not in SERVER_MANAGED)))
    return {"metadata": metadata, "values": values}


def workspace_yaml(folder: Path) -> Path:
    from dhis_sync_pipeline.orchestration.workspace import workspace_file

    return workspace_file(folder)


def submit_runs(instance, workspace: Path, requests_: list[tuple[str, dict, dict]]) -> list[str]:
    """Submit runs (job name, tags, run config) through one loaded code location, as the UI does.

    The instance's run coordinator decides: the queued one only enqueues (the daemon launches).
    """
    from dagster._cli.job import _create_run
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    run_ids = []
    with WorkspaceProcessContext(instance, WorkspaceFileTarget([str(workspace)])) as context:
        workspace_context = context.create_request_context()
        location = workspace_context.get_code_location("dhis_sync")
        repo = next(iter(location.get_repositories().values()))
        for job_name, tags, run_config in requests_:
            run = _create_run(instance, location, repo, repo.get_full_job(job_name), run_config, tags, None, None)
            instance.submit_run(run.run_id, workspace_context)
            run_ids.append(run.run_id)
    return run_ids


def wait_for_runs(instance, run_ids: list[str], timeout: float) -> dict:
    from dhis_sync_pipeline.launch import FINISHED

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = {run_id: instance.get_run_by_id(run_id) for run_id in run_ids}
        if all(run.status in FINISHED for run in runs.values()):
            return runs
        time.sleep(1)
    states = {run_id: instance.get_run_by_id(run_id).status.value for run_id in run_ids}
    raise AssertionError(f"runs not finished after {timeout:.0f}s: {states}")


def run_times(instance, run_ids: list[str]) -> dict[str, tuple[float, float]]:
    """Start and end of each run, from Dagster's run records (epoch seconds)."""
    from dagster import RunsFilter

    records = instance.get_run_records(filters=RunsFilter(run_ids=run_ids))
    return {r.dagster_run.run_id: (r.start_time, r.end_time) for r in records}
