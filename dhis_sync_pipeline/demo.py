"""`dhis-sync demo`: two emulated DHIS2 servers on this machine and real syncs between them.

The emulators run as separate processes (`python -m dhis_sync_pipeline.emulator`), so the
product talks to them over HTTP exactly as it would to real servers; nothing here imports the
emulator. The demo writes its own configuration and workspace into the Dagster home, so it works
from any directory.

Two configurations: `demo` (manual, run once at the start) and `demo_auto` (automatic: its
sensor is started, and `SourceChurn` keeps changing a few data values and one data element on the
source every minute or so, so runs started by the sensor arrive on the dashboard by themselves).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from dhis_sync_pipeline.orchestration.workspace import workspace_file
from dhis_sync_pipeline.orchestration.instance_yaml import instance_yaml, write_default_instance_yaml

DEMO_CONFIG_ID = "demo"
DEMO_AUTO_CONFIG_ID = "demo_auto"
CHURN_SECONDS = 75  # between two rounds of changes on the source; the sensor checks every 60 s
DEMO_PASSWORD = "district"  # the emulator's demo superuser, as on DHIS2's public demo servers


@dataclass
class DemoSetup:
    home: Path
    config_file: Path
    workspace_file: Path
    source_url: str
    destination_url: str

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DAGSTER_HOME=str(self.home),
            DHIS_SYNC_CONFIG=str(self.config_file),
            DEMO_SOURCE_PASSWORD=DEMO_PASSWORD,
            DEMO_DESTINATION_PASSWORD=DEMO_PASSWORD,
        )
        return env


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens there, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")


# The embedded SQLite default: one run per configuration and run monitoring, as in production.
INSTANCE_YAML = instance_yaml()


def discover_data_scope(source_url: str) -> tuple[list[str], list[str]]:
    """The source's dataSets and root orgUnits, asked over the Web API like any client would."""
    def ids(collection: str, **params: str) -> list[str]:
        response = requests.get(f"{source_url}/api/{collection}", params={"fields": "id", "paging": "false", **params},
                                auth=("admin", DEMO_PASSWORD), timeout=30)
        response.raise_for_status()
        return sorted(obj["id"] for obj in response.json()[collection])

    return ids("dataSets"), ids("organisationUnits", filter="level:eq:1")


def write_demo_files(home: Path, source_port: int, destination_port: int,
                     data_sets: list[str] = (), org_units: list[str] = ()) -> DemoSetup:
    write_default_instance_yaml(home)  # never replaces a dagster.yaml already there
    source_url = f"http://127.0.0.1:{source_port}"
    destination_url = f"http://127.0.0.1:{destination_port}"
    config_file = home / "demo_sync.yaml"
    config_file.write_text(
        f"""# Written by `dhis-sync demo`: two emulated DHIS2 servers on this machine.
instances:
  - name: demo_source
    base_url: {source_url}
    auth: {{type: basic, username: admin, password_env: DEMO_SOURCE_PASSWORD}}
  - name: demo_destination
    base_url: {destination_url}
    auth: {{type: basic, username: admin, password_env: DEMO_DESTINATION_PASSWORD}}
sync_configurations:
  - id: {DEMO_CONFIG_ID}
    name: Demo source to demo destination
    source: demo_source
    destination: demo_destination
    execution_mode: manual
    metadata:
      propagate_deletions: true
    step_retries: {{max_retries: 0}}
{_data_section(data_sets, org_units)}  - id: {DEMO_AUTO_CONFIG_ID}
    name: Demo automatic (the sensor syncs what changed)
    source: demo_source
    destination: demo_destination
    execution_mode: automatic
    step_retries: {{max_retries: 0}}
    auto_sync: {{enabled: true, check_interval: 60, max_runs_per_hour: 30, cooldown_after_error: 60}}
{_data_section(data_sets, org_units)}""",
        encoding="utf-8",
    )
    return DemoSetup(home, config_file, workspace_file(home), source_url, destination_url)


def _data_section(data_sets, org_units) -> str:
    if not data_sets or not org_units:
        return ""
    return (f"    data:\n      data_sets: [{', '.join(data_sets)}]\n      org_units: [{', '.join(org_units)}]\n"
            "      start_date: 2000-01-01\n      end_date: 2030-12-31\n")


class SourceChurn:
    """Changes the source the way its users would, every `every` seconds, over its Web API: a few
    numeric data values one higher, and one data element's description. A thread; `stop()` ends it."""

    def __init__(self, source_url: str, data_sets: list[str], org_units: list[str], every: float = CHURN_SECONDS):
        from dhis_sync_pipeline.dhis2 import BasicAuth, DHIS2Client

        self.client = DHIS2Client(source_url, auth=BasicAuth("admin", DEMO_PASSWORD), name="demo_source",
                                  max_retries=1)
        self.data_sets, self.org_units, self.every = data_sets, org_units, every
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-source-churn", daemon=True)

    def start(self) -> SourceChurn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.client.close()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.change_once()
            except Exception as exc:  # noqa: BLE001 - a demo nicety: say so and try again next round
                print(f"(demo) could not change the source this round: {exc}", file=sys.stderr)

    def change_once(self) -> None:
        self.rounds += 1
        if self.data_sets and self.org_units:
            answer = self.client.get("dataValueSets", {
                "dataSet": self.data_sets, "orgUnit": self.org_units,
                "children": "true", "startDate": "2000-01-01", "endDate": "2030-12-31", "limit": 200})
            numeric = [row for row in (answer or {}).get("dataValues", []) if str(row.get("value", "")).isdigit()]
            rows = [{key: row[key] for key in ("dataElement", "period", "orgUnit", "categoryOptionCombo",
                                                "attributeOptionCombo") if key in row}
                    | {"value": str(int(row["value"]) + 1)} for row in numeric[:3]]
            if rows:
                self.client.post_data_values({"dataValues": rows})
        elements = self.client.get("dataElements", {"fields": ":owner", "pageSize": 1, "order": "id:asc"})
        for element in (elements or {}).get("dataElements", [])[:1]:
            element["description"] = f"Changed on the source by the demo (round {self.rounds}, {time.strftime('%H:%M:%S')})"
            self.client.post_metadata({"dataElements": [element]}, importStrategy="UPDATE")


@contextmanager
def background(command: list[str], log_path: Path, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run `command` in the background with its output in `log_path`; stop it on exit.

    The process gets its own process group and is stopped with SIGINT, the Ctrl-C that `dagster
    dev` and uvicorn shut down cleanly on; whatever is still alive after 30 s is killed, group and all.
    """
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def emulators(source_port: int, destination_port: int, log_dir: Path, seed: str = "generated") -> Iterator[None]:
    """Start the source (seeded) and destination (empty) emulators; stop them on exit."""
    def command(port: int, role_seed: str) -> list[str]:
        return [sys.executable, "-m", "dhis_sync_pipeline.emulator", "--port", str(port), "--seed", role_seed]

    with background(command(source_port, seed), log_dir / "emulator_source.log") as source, \
            background(command(destination_port, "empty"), log_dir / "emulator_destination.log") as destination:
        for port, process in ((source_port, source), (destination_port, destination)):
            wait_until_up(f"http://127.0.0.1:{port}/api/system/ping", process, timeout=120)
        yield


def wait_until_up(url: str, process: subprocess.Popen | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, process.args))} exited with code {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")
