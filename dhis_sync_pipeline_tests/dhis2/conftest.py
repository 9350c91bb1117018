"""Shared fixtures for the DHIS2 client tests: fixture files, emulators, clients, payloads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dhis_sync_pipeline.dhis2 import BasicAuth, DHIS2Client

USERS = {"admin": "district"}
DEFAULT_COMBO = {"id": "bjDvmb4bfuf"}
ORG_UNIT = "ouRoot00001"
DATA_SET = "dsMonthly01"


def data_elements(count: int, prefix: str = "de") -> list[dict[str, Any]]:
    """Valid aggregate data elements with UIDs `<prefix>000000001`…"""
    width = 11 - len(prefix)
    return [
        {
            "id": f"{prefix}{i:0{width}d}",
            "name": f"{prefix} data element {i}",
            "shortName": f"{prefix} DE {i}",
            "valueType": "NUMBER",
            "domainType": "AGGREGATE",
            "aggregationType": "SUM",
            "categoryCombo": DEFAULT_COMBO,
        }
        for i in range(1, count + 1)
    ]


def data_set_metadata(data_element_ids: list[str]) -> dict[str, Any]:
    """One org unit and a monthly data set holding the given data elements."""
    return {
        "organisationUnits": [
            {"id": ORG_UNIT, "name": "Root", "shortName": "Root", "openingDate": "2000-01-01T00:00:00.000"}
        ],
        "dataSets": [
            {
                "id": DATA_SET,
                "name": "Monthly",
                "shortName": "Monthly",
                "periodType": "Monthly",
                "categoryCombo": DEFAULT_COMBO,
                "dataSetElements": [{"dataElement": {"id": uid}, "dataSet": {"id": DATA_SET}} for uid in data_element_ids],
                "organisationUnits": [{"id": ORG_UNIT}],
            }
        ],
    }


def start_emulator(version: str = "2.40", **kwargs: Any):
    """An emulator (imported lazily: it is built alongside this client)."""
    emulator = pytest.importorskip("dhis_sync_pipeline.emulator")
    if not hasattr(emulator, "EmulatorServer"):
        pytest.skip("the DHIS2 emulator is not available yet")
    server = emulator.EmulatorServer(version=version, seed=kwargs.pop("seed", "empty"), timezone=kwargs.pop("timezone", "UTC"),
                                     users=kwargs.pop("users", USERS), **kwargs)
    server.__enter__()
    return server


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Any]]:
    """Start emulators for one test; all are stopped afterwards."""
    started = []

    def start(version: str = "2.40", **kwargs: Any):
        server = start_emulator(version, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def emulator(emulator_factory):
    """A fresh, empty 2.40 emulator."""
    return emulator_factory("2.40")


@pytest.fixture
def client_factory() -> Iterator[Callable[..., DHIS2Client]]:
    """Clients with quick backoff and polling so retry tests stay fast."""
    clients: list[DHIS2Client] = []

    def make(base_url: str, auth: Any = "default", **kwargs: Any) -> DHIS2Client:
        options = dict(name="source", max_retries=3, backoff_factor=0.01, poll_interval=0.02, task_timeout=20,
                       connect_timeout=2, read_timeout=10)
        options.update(kwargs)
        client = DHIS2Client(base_url, auth=BasicAuth("admin", "district") if auth == "default" else auth, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def api_requests(server: Any, suffix: str, method: str = "GET") -> list[tuple]:
    """Entries of the emulator's request log for one API path (e.g. "dataElements")."""
    return [
        entry for entry in server.state.request_log
        if entry[0] == method and entry[1].rstrip("/").endswith("/" + suffix.strip("/"))
    ]


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
