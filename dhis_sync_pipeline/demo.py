"""`dhis-sync demo`: two emulated DHIS2 servers on this machine and one real sync between them.

The emulators run as separate processes (`python -m dhis_sync_pipeline.emulator`), so the
product talks to them over HTTP exactly as it would to real servers; nothing here imports the
emulator. The demo writes its own configuration and workspace into the Dagster home, so it works
from any directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from dhis_sync_pipeline.launch import workspace_file
from dhis_sync_pipeline.orchestration.instance_yaml import instance_yaml, write_default_instance_yaml

DEMO_CONFIG_ID = "demo"
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
{_data_section(data_sets, org_units)}""",
        encoding="utf-8",
    )
    return DemoSetup(home, config_file, workspace_file(home), source_url, destination_url)


def _data_section(data_sets, org_units) -> str:
    if not data_sets or not org_units:
        return ""
    return (f"    data:\n      data_sets: [{', '.join(data_sets)}]\n      org_units: [{', '.join(org_units)}]\n"
            "      start_date: 2000-01-01\n      end_date: 2030-12-31\n")


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
