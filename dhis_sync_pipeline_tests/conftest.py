"""Fixtures shared by the end-to-end tests: real emulators over HTTP, a real Dagster instance, and
configuration files pointing one at the other."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, instance_for_test

from dhis_sync_pipeline.config import SyncFile, load_config
from dhis_sync_pipeline.emulator import EmulatorServer

#: ../shared/dhis2_fixtures beside the repository (never copied into it); DHIS2_FIXTURES overrides.
FIXTURES_DIR = Path(
    os.environ.get("DHIS2_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "dhis2_fixtures")
)
SIERRA_LEONE = ("1_setup_metadata.json", "2_aggregate_metadata.json")
PASSWORD_ENV = "TEST_DHIS2_PASSWORD"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"DHIS2 fixtures not found at {FIXTURES_DIR} (set DHIS2_FIXTURES to the folder)")
    return FIXTURES_DIR


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    """Start emulators on ephemeral loopback ports; all are stopped after the test."""
    servers: list[EmulatorServer] = []

    def start(**options: Any) -> EmulatorServer:
        server = EmulatorServer(**options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sierra_leone_source(start_emulator, fixtures_dir) -> EmulatorServer:
    """A source DHIS2 holding the Sierra Leone aggregate metadata DHIS2's own e2e tests use."""
    folder = fixtures_dir / "sierra_leone_ta"
    return start_emulator(seed=[folder / name for name in SIERRA_LEONE])


@pytest.fixture
def dagster_instance() -> Iterator[DagsterInstance]:
    """A real instance with SQLite storage in a temporary DAGSTER_HOME."""
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def write_config(tmp_path, monkeypatch) -> Callable[..., SyncFile]:
    """Write a configuration syncing `source` into `destination` and load it like production does."""
    monkeypatch.setenv(PASSWORD_ENV, "district")

    def write(source: EmulatorServer | str, destination: EmulatorServer | str, extra: str = "", *,
              config_id: str = "e2e", password_env: str = PASSWORD_ENV) -> SyncFile:
        source_url = source if isinstance(source, str) else source.base_url
        destination_url = destination if isinstance(destination, str) else destination.base_url
        text = textwrap.dedent(
            f"""\
            instances:
              - name: source
                base_url: {source_url}
                auth: {{type: basic, username: admin, password_env: {password_env}}}
                timeouts: {{connect: 2, read: 30}}
                http_retries: {{max_retries: 2, backoff_factor: 0.1}}
              - name: destination
                base_url: {destination_url}
                auth: {{type: basic, username: admin, password_env: {password_env}}}
                timeouts: {{connect: 2, read: 30}}
                http_retries: {{max_retries: 2, backoff_factor: 0.1}}
            sync_configurations:
              - id: {config_id}
                name: End-to-end test
                source: source
                destination: destination
                step_retries: {{max_retries: 0}}
            """
        ) + textwrap.indent(textwrap.dedent(extra), "    ")
        path = tmp_path / "dhis_sync.yaml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("DHIS_SYNC_CONFIG", str(path))
        return load_config(path)

    return write


# The fault suite's verdict table (dhis_sync_pipeline_tests/faults): hooks must be in this
# conftest, which the xdist controller loads, to print it in every run.
from dhis_sync_pipeline_tests.faults.report import (  # noqa: E402,F401
    pytest_sessionfinish,
    pytest_terminal_summary,
    pytest_testnodedown,
)
