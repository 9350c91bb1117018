"""Shared fixtures: running emulators and the real DHIS2 payloads from ../shared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
import requests

from dhis_sync_pipeline.emulator import EmulatorServer

AUTH = ("admin", "district")


@pytest.fixture(scope="session")
def load(fixtures_dir: Path) -> Callable[[str], dict]:
    def _load(relative: str) -> dict:
        return json.loads((fixtures_dir / relative).read_text())
    return _load


@pytest.fixture
def make_server(start_emulator) -> Callable[..., EmulatorServer]:
    """Start emulators on demand (the suite's `start_emulator`); all stop after the test."""
    return start_emulator


@pytest.fixture
def server(make_server) -> EmulatorServer:
    return make_server(version="2.40")


@pytest.fixture
def api(server: EmulatorServer) -> "Api":
    return Api(server)


@pytest.fixture
def sierra_leone(make_server, load) -> EmulatorServer:
    """A 2.40 server seeded with the Sierra Leone metadata and data values 1–4."""
    payloads = [load(f"sierra_leone_ta/{name}") for name in (
        "1_setup_metadata.json", "2_aggregate_metadata.json", "3_data_values_bulk.json",
        "4_data_values_single_dataset.json")]
    return make_server(version="2.40", seed=payloads)


class Api:
    """A thin requests wrapper that speaks to one emulator as admin."""

    def __init__(self, server: EmulatorServer, auth=AUTH) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.auth = auth

    def url(self, path: str) -> str:
        return f"{self.server.base_url}/api/{path.lstrip('/')}"

    def get(self, path: str, **params) -> requests.Response:
        return self.session.get(self.url(path), params=params, timeout=30)

    def post(self, path: str, body, params: dict | None = None, **kwargs) -> requests.Response:
        if isinstance(body, (dict, list)):
            kwargs["json"] = body
        else:
            kwargs["data"] = body
            kwargs.setdefault("headers", {"Content-Type": "application/json"})
        return self.session.post(self.url(path), params=params or {}, timeout=60, **kwargs)
