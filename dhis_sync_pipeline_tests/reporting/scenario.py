"""A configuration whose first run fails (the destination rejects org units) and whose second
run succeeds, on two emulated DHIS2 servers over HTTP and a real Dagster instance."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance

from dhis_sync_pipeline.config import SyncFile, load_config
from dhis_sync_pipeline.emulator import EmulatorServer
from dhis_sync_pipeline.launch import execute_in_process

DHIS2_PASSWORD = "Dhis2-Secret-pw-4711"  # distinctive, so a test can tell it never leaks
PASSWORD_ENV = "HISTORY_TEST_DHIS2_PASSWORD"
GENERATED = {"org_units": 20, "levels": 3, "data_elements": 5, "data_sets": 1, "data_values": 0}
CLASH_UID = "aaaaaaaaaa1"


@dataclass
class Scenario:
    source: EmulatorServer
    destination: EmulatorServer
    config_file: Path
    config_id: str = "e2e"

    def sync_file(self) -> SyncFile:
        return load_config(self.config_file)

    def run(self, instance: DagsterInstance) -> str:
        return execute_in_process(self.sync_file(), self.config_id, instance)

    def break_destination(self) -> None:
        """The destination gets an org unit using the code of one of the source's (E5003)."""
        unit = sorted(self.source.state.objects("organisationUnits"), key=lambda u: u["id"])[3]
        self.destination.state.import_metadata({"organisationUnits": [{
            "id": CLASH_UID, "name": "Local clash", "shortName": "Local clash", "code": unit["code"],
            "openingDate": "2020-01-01"}]})

    def repair_destination(self) -> None:
        self.destination.state.delete_object("organisationUnits", CLASH_UID)


def start_servers() -> tuple[EmulatorServer, EmulatorServer]:
    users = {"admin": DHIS2_PASSWORD}
    source = EmulatorServer(seed="generated", generator_options=GENERATED, users=users).start()
    destination = EmulatorServer(users=users).start()
    return source, destination


def write_config(folder: Path, source: EmulatorServer, destination: EmulatorServer, notifications: str = "") -> Path:
    path = folder / "dhis_sync.yaml"
    path.write_text(textwrap.dedent(f"""\
        instances:
          - name: src
            base_url: {source.base_url}
            auth: {{type: basic, username: admin, password_env: {PASSWORD_ENV}}}
            http_retries: {{max_retries: 0}}
          - name: dst
            base_url: {destination.base_url}
            auth: {{type: basic, username: admin, password_env: {PASSWORD_ENV}}}
            http_retries: {{max_retries: 0}}
        """) + textwrap.dedent(notifications) + textwrap.dedent("""\
        sync_configurations:
          - id: e2e
            name: History test
            source: src
            destination: dst
            metadata: {resources: [organisationUnits]}
            step_retries: {max_retries: 0}
        """), encoding="utf-8")
    return path
