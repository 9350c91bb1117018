"""A real Dagster instance, two emulated DHIS2 servers over HTTP and the dashboard app.

Runs are launched the way `dhis-sync trigger` and the dashboard's Sync-now button launch them
(`dagster job launch`). The instance uses Dagster's DefaultRunCoordinator so that runs start at
once without a dagster-daemon; each step still runs in its own process, so progress crosses
processes through the store exactly as in production.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

emulator = pytest.importorskip("dhis_sync_pipeline.emulator")

INSTANCE_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""

SOURCE_PASSWORD_ENV = "PROGRESS_TEST_SOURCE_PASSWORD"
DESTINATION_PASSWORD_ENV = "PROGRESS_TEST_DESTINATION_PASSWORD"
PASSWORD = "district"
DAGSTER_UI_URL = "http://127.0.0.1:3000"
# Slow enough to watch progress move page by page, quick enough for the test budget.
SOURCE_LATENCY = 0.25
# The data elements' category model comes along: the run fails when the destination lacks anything.
SYNCED = ("organisationUnits", "categoryOptions", "categories", "categoryCombos", "categoryOptionCombos",
          "dataElements", "dataElementGroups")
RESOURCES = "[" + ", ".join(SYNCED) + "]"


def config_yaml(source_url: str, destination_url: str) -> str:
    common = f"""
    source: src
    destination: dst
    metadata: {{resources: {RESOURCES}}}
    page_sizes: {{metadata_read: 20, metadata_write: 20}}
    error_tolerance: 100000
    step_retries: {{max_retries: 0}}"""
    return f"""
instances:
  - name: src
    base_url: {source_url}
    auth: {{type: basic, username: admin, password_env: {SOURCE_PASSWORD_ENV}}}
  - name: dst
    base_url: {destination_url}
    auth: {{type: basic, username: admin, password_env: {DESTINATION_PASSWORD_ENV}}}
sync_configurations:
  - id: local_97_94
    name: Local 97-94
    execution_mode: manual{common}
  - id: nightly
    name: Nightly national to training
    execution_mode: automatic
    auto_sync: {{enabled: true, check_interval: 300}}{common}
"""


@dataclass
class LiveEnv:
    home: Path
    config_file: Path
    source: object
    destination: object
    output_dir: Path


@pytest.fixture(scope="package")
def live_env(tmp_path_factory) -> Iterator[LiveEnv]:
    from dhis_sync_pipeline.emulator import EmulatorServer

    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text(INSTANCE_YAML, encoding="utf-8")
    output_dir = tmp_path_factory.mktemp("progress_output")
    patch = pytest.MonkeyPatch()
    with EmulatorServer(seed="generated") as source, EmulatorServer(seed="empty") as destination:
        config_file = home / "dhis_sync.yaml"
        config_file.write_text(config_yaml(source.base_url, destination.base_url), encoding="utf-8")
        patch.setenv("DAGSTER_HOME", str(home))
        patch.setenv("DHIS_SYNC_CONFIG", str(config_file))
        patch.setenv(SOURCE_PASSWORD_ENV, PASSWORD)
        patch.setenv(DESTINATION_PASSWORD_ENV, PASSWORD)
        source.faults.configure(latency=SOURCE_LATENCY)
        # Slow imports too: the metadata of a run is read in one request and posted in chunks of 20,
        # so the bar rises chunk by chunk while the pages watch it.
        destination.faults.configure(latency=SOURCE_LATENCY, path_prefix="/api/metadata")
        try:
            yield LiveEnv(home, config_file, source, destination, output_dir)
        finally:
            patch.undo()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(settings) -> Iterator[str]:
    """The dashboard app served by uvicorn on loopback, as `dhis-sync serve` serves it.

    It answers the Host names `dhis-sync serve --host 127.0.0.1` answers (and no other).
    """
    import dataclasses

    import uvicorn

    from dhis_sync_pipeline.dashboard.app import create_app
    from dhis_sync_pipeline.dashboard.guard import served_hosts

    port = free_port()
    settings = dataclasses.replace(settings, allowed_hosts=tuple(served_hosts("127.0.0.1", port, loopback=True)))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="package")
def dashboard_url(live_env) -> Iterator[str]:
    from dhis_sync_pipeline.dashboard.app import AppSettings

    with serving(AppSettings(dagster_url=DAGSTER_UI_URL)) as url:
        yield url


def results_dir(name: str) -> Path:
    """test-results/ at the repository root (gitignored), for screenshots people look at."""
    folder = Path(__file__).resolve().parents[2] / "test-results" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def launch_in_background(live_env):
    """Start `trigger_run` (which returns when the run ends under this coordinator) in a thread."""
    threads = []

    def launch(config_id: str) -> dict:
        from dhis_sync_pipeline.launch import trigger_run

        outcome: dict = {}

        def work():
            try:
                outcome["run_id"] = trigger_run(config_id, source="test")
            except Exception as exc:  # noqa: BLE001 - reported by the test
                outcome["error"] = exc

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)
        outcome["thread"] = thread
        return outcome

    yield launch
    for thread in threads:
        thread.join(timeout=120)


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


os.environ.setdefault("DAGSTER_TELEMETRY_ENABLED", "false")
