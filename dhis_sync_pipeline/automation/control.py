"""Start and stop auto-sync sensors, and tell whether the Dagster daemon is there to run them.

Sensor state lives in the Dagster instance (the same rows the UI's toggles change); starting and
stopping go through `dagster sensor start/stop` (and `dagster schedule start/stop` for the full
sync schedule), so the CLI, the dashboard and the UI all act on the one truth. Sensors and
schedules are declared stopped in code: nothing syncs by itself until someone starts it, and a
configuration whose `auto_sync.enabled` is false cannot be started.
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

from dhis_sync_pipeline.automation.sensors import schedule_name, sensor_name
from dhis_sync_pipeline.config import CONFIG_ENV_VAR, ConfigError, SyncConfig, config_path, load_config
from dhis_sync_pipeline.orchestration.workspace import workspace_file

DAEMON_HEARTBEAT_TOLERANCE = 90  # seconds; the daemon beats every 30


class SensorControlError(RuntimeError):
    """Dagster refused to change a sensor's state; carries Dagster's message."""


def is_sensor_running(instance: DagsterInstance, config: SyncConfig) -> bool:
    """Whether the configuration's sensor is on, as the Dagster UI shows it: the state stored in
    the instance, stopped when nothing is stored (sensors are declared stopped in code, and Dagster
    then reads even a lingering DECLARED_IN_CODE state as stopped)."""
    if not config.is_automatic:
        return False
    return _stored_status(instance, InstigatorType.SENSOR, sensor_name(config.id)) == InstigatorStatus.RUNNING


def is_schedule_running(instance: DagsterInstance, config: SyncConfig) -> bool:
    """The same for the configuration's full-sync schedule (False when it has none)."""
    if not config.is_automatic or not config.auto.full_sync_cron:
        return False
    return _stored_status(instance, InstigatorType.SCHEDULE, schedule_name(config.id)) == InstigatorStatus.RUNNING


def _stored_status(instance: DagsterInstance, kind: InstigatorType, name: str) -> InstigatorStatus | None:
    for state in instance.all_instigator_state(instigator_type=kind):
        if state.instigator_name == name:
            return state.status
    return None


def start_refusal(config: SyncConfig) -> str | None:
    """Why this configuration's sensor may not be started, with the fix; None when it may."""
    if not config.is_automatic:
        return (f"'{config.id}' is a manual configuration and has no sensor; make it automatic with "
                f"`dhis-sync setup {config.id} --automatic` or run it now with `dhis-sync trigger {config.id}`")
    if not config.auto.enabled:
        return (f"'{config.id}' has auto_sync.enabled: false, so it may not be started; enable it with "
                f"`dhis-sync setup {config.id} --enable`, then `dhis-sync start {config.id}`")
    return None


def start_sensors(config_ids: list[str]) -> None:
    """Start the sensors, and full-sync schedules, of these configurations (from the file on disk)."""
    configs = _configs(config_ids)
    refusals = [reason for reason in map(start_refusal, configs) if reason]
    if refusals:
        raise SensorControlError("\n".join(refusals))
    _dagster_commands("start", configs)


def stop_sensors(config_ids: list[str]) -> None:
    """Stop the sensors and full-sync schedules; queued and running runs finish normally."""
    _dagster_commands("stop", _configs(config_ids))


def _configs(config_ids: list[str]) -> list[SyncConfig]:
    try:
        sync_file = load_config()
        return [sync_file.sync_config(config_id) for config_id in config_ids]
    except ConfigError as exc:
        raise SensorControlError(str(exc)) from None
    except KeyError as exc:
        raise SensorControlError(str(exc.args[0])) from None


def _dagster_commands(action: str, configs: list[SyncConfig]) -> None:
    env = dict(os.environ)
    env[CONFIG_ENV_VAR] = str(config_path().resolve())
    with tempfile.TemporaryDirectory() as tmp:
        workspace = workspace_file(Path(tmp))
        for config in configs:
            targets = [("sensor", sensor_name(config.id))]
            if config.auto.full_sync_cron:
                targets.append(("schedule", schedule_name(config.id)))
            for kind, name in targets:
                command = [sys.executable, "-m", "dagster", kind, action, name, "-w", str(workspace)]
                result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
                if result.returncode != 0:
                    lines = [line for line in (result.stderr or result.stdout).splitlines()
                             if line.strip() and "Warning" not in line]
                    raise SensorControlError(f"dagster {kind} {action} {name} failed:\n" + "\n".join(lines[-10:]))


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
