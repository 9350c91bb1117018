"""Start and stop auto-sync sensors, and tell whether the Dagster daemon is there to run them.

Sensor state lives in the Dagster instance (the same rows the UI's toggles change); starting and
stopping go through `dagster sensor start/stop`, so the CLI, the dashboard and the UI all act on
the one truth.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dagster import DagsterInstance
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

from dhis_sync_pipeline.automation.sensors import sensor_name
from dhis_sync_pipeline.config import CONFIG_ENV_VAR, SyncConfig, config_path
from dhis_sync_pipeline.launch import workspace_file

RUNNING_STATES = {InstigatorStatus.RUNNING, InstigatorStatus.DECLARED_IN_CODE, InstigatorStatus.AUTOMATICALLY_RUNNING}
DAEMON_HEARTBEAT_TOLERANCE = 90  # seconds; the daemon beats every 30


class SensorControlError(RuntimeError):
    """Dagster refused to change a sensor's state; carries Dagster's message."""


def is_sensor_running(instance: DagsterInstance, config: SyncConfig) -> bool:
    """Whether the configuration's sensor is on, as the Dagster UI would show it."""
    if not config.is_automatic:
        return False
    name = sensor_name(config.id)
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name == name:
            if state.status == InstigatorStatus.DECLARED_IN_CODE:
                return config.auto.enabled
            return state.status in RUNNING_STATES
    return config.auto.enabled  # never toggled: the default declared in code


def start_sensors(config_ids: list[str]) -> None:
    _sensor_command("start", config_ids)


def stop_sensors(config_ids: list[str]) -> None:
    _sensor_command("stop", config_ids)


def _sensor_command(action: str, config_ids: list[str]) -> None:
    env = dict(os.environ)
    env[CONFIG_ENV_VAR] = str(config_path().resolve())
    with tempfile.TemporaryDirectory() as tmp:
        workspace = workspace_file(Path(tmp))
        for config_id in config_ids:
            command = [sys.executable, "-m", "dagster", "sensor", action, sensor_name(config_id), "-w", str(workspace)]
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip() and "Warning" not in line]
                raise SensorControlError(f"dagster sensor {action} {sensor_name(config_id)} failed:\n" + "\n".join(lines[-10:]))


def daemon_is_running(instance: DagsterInstance) -> bool:
    """True when a dagster-daemon (or `dagster dev`) has sent a heartbeat recently."""
    now = time.time()
    for heartbeat in instance.get_daemon_heartbeats().values():
        if now - heartbeat.timestamp < DAEMON_HEARTBEAT_TOLERANCE:
            return True
    return False


DAEMON_WARNING = (
    "The Dagster daemon is not running: queued runs stay queued and sensors do not tick. "
    "Start it with `dagster-daemon run -w workspace.yaml` (or run `dagster dev -w workspace.yaml`)."
)
