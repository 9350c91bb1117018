"""The dhis-sync command line, on a real Dagster instance and a real configuration file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, DagsterRunStatus
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

from dhis_sync_pipeline.cli import main
from dhis_sync_pipeline.config import load_config

ROOT = Path(__file__).resolve().parents[1]
COMMENTED = """\
# Production servers — keep this comment
instances:
  - name: national   # the national server
    base_url: https://dhis2.example.org
    auth: {type: basic, username: sync, password_env: NATIONAL_PASSWORD}
  - name: training
    base_url: https://training.example.org
    auth: {type: token, token_env: TRAINING_TOKEN}
sync_configurations:
  - id: nightly
    name: Nightly
    source: national
    destination: training
    execution_mode: automatic
    auto_sync:
      check_interval: 300   # five minutes
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "dhis_sync.yaml"
    path.write_text(COMMENTED)
    monkeypatch.setenv("DHIS_SYNC_CONFIG", str(path))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def stored_status(kind: InstigatorType, name: str) -> InstigatorStatus | None:
    """What the Dagster instance itself has recorded for a sensor or schedule (None: nothing)."""
    for state in DagsterInstance.get().all_instigator_state(instigator_type=kind):
        if state.instigator_name == name:
            return state.status
    return None


def test_setup_edits_auto_sync_and_keeps_comments(config_file):
    result = invoke("setup", "nightly", "--interval", "600", "--monitor", "dataElements,organisationUnits",
                    "--window", "20:00-06:00", "--disable")
    assert result.exit_code == 0, result.output
    text = config_file.read_text()
    assert "# Production servers — keep this comment" in text and "# the national server" in text
    auto = load_config(config_file).sync_config("nightly").auto
    assert auto.check_interval == 600 and not auto.enabled
    assert auto.monitored_resources == ("dataElements", "organisationUnits")
    assert auto.allowed_time_windows == ("20:00-06:00",)


def test_setup_refuses_invalid_values_and_leaves_the_file_alone(config_file):
    result = invoke("setup", "nightly", "--interval", "10")
    assert result.exit_code != 0
    assert "check_interval" in result.output and "at least 60" in result.output
    assert "The file was not changed" in result.output
    assert config_file.read_text() == COMMENTED


def test_config_create_adds_a_configuration_and_points_to_setup(config_file):
    result = invoke("config", "create", "--id", "to_national", "--name", "Back", "--source", "training",
                    "--destination", "national", "--automatic", "--data-set", "VEM58nY22sO", "--org-unit", "ImspTQPwCqd")
    assert result.exit_code == 0, result.output
    assert "dhis-sync setup to_national --interval" in result.output
    config = load_config(config_file).sync_config("to_national")
    assert config.is_automatic and config.data.data_sets == ("VEM58nY22sO",)
    assert "# Production servers — keep this comment" in config_file.read_text()

    duplicate = invoke("config", "create", "--id", "to_national", "--name", "Again", "--source", "training",
                       "--destination", "national")
    assert duplicate.exit_code != 0 and "used more than once" in duplicate.output


def test_list_and_status_show_modes_sensors_and_the_missing_daemon(config_file):
    listing = invoke("list")
    assert listing.exit_code == 0, listing.output
    [row] = [line for line in listing.output.splitlines() if line.startswith("nightly")]
    assert row.split()[:5] == ["nightly", "automatic", "national", "->", "training"]
    assert "stopped" in row  # never started: an automatic configuration does not sync by itself
    assert "daemon is not running" in listing.output

    status = invoke("status")
    assert "sensor auto_sync_nightly: stopped, every 300s" in status.output
    assert "start it with `dhis-sync start nightly`" in status.output
    assert "no runs yet" in status.output


def test_start_and_stop_switch_the_sensor_and_schedule_in_the_instance(config_file):
    assert invoke("setup", "nightly", "--cron", "0 2 * * 0").exit_code == 0
    assert stored_status(InstigatorType.SENSOR, "auto_sync_nightly") is None

    started = invoke("start", "nightly")
    assert started.exit_code == 0, started.output
    assert "Started auto_sync_nightly: checks national every 300s" in started.output
    assert "Started full_sync_nightly" in started.output
    assert stored_status(InstigatorType.SENSOR, "auto_sync_nightly") == InstigatorStatus.RUNNING
    assert stored_status(InstigatorType.SCHEDULE, "full_sync_nightly") == InstigatorStatus.RUNNING
    status = invoke("status", "nightly")
    assert "sensor auto_sync_nightly: running" in status.output
    assert "schedule full_sync_nightly: running, 0 2 * * 0" in status.output

    stopped = invoke("stop", "nightly")
    assert stopped.exit_code == 0, stopped.output
    assert stored_status(InstigatorType.SENSOR, "auto_sync_nightly") == InstigatorStatus.STOPPED
    assert stored_status(InstigatorType.SCHEDULE, "full_sync_nightly") == InstigatorStatus.STOPPED
    assert "stopped" in [line for line in invoke("list").output.splitlines() if line.startswith("nightly")][0]


def test_a_disabled_configuration_refuses_to_start_and_says_how_to_enable_it(config_file):
    assert invoke("setup", "nightly", "--disable").exit_code == 0
    result = invoke("start", "nightly")
    assert result.exit_code != 0
    assert "'nightly' has auto_sync.enabled: false" in result.output
    assert "dhis-sync setup nightly --enable" in result.output
    assert stored_status(InstigatorType.SENSOR, "auto_sync_nightly") is None
    assert "stopped (disabled)" in invoke("list").output

    assert invoke("setup", "nightly", "--enable").exit_code == 0
    again = invoke("start", "nightly")
    assert again.exit_code == 0, again.output
    assert stored_status(InstigatorType.SENSOR, "auto_sync_nightly") == InstigatorStatus.RUNNING


def test_start_without_id_starts_the_enabled_automatic_configurations(config_file):
    created = invoke("config", "create", "--id", "back", "--name", "Back", "--source", "training",
                     "--destination", "national", "--automatic")
    assert created.exit_code == 0, created.output
    assert invoke("setup", "back", "--disable").exit_code == 0

    result = invoke("start")

    assert result.exit_code == 0, result.output
    assert "Started auto_sync_nightly" in result.output
    assert "Skipped: 'back' has auto_sync.enabled: false" in result.output
    assert stored_status(InstigatorType.SENSOR, "auto_sync_nightly") == InstigatorStatus.RUNNING
    assert stored_status(InstigatorType.SENSOR, "auto_sync_back") is None


def test_start_refuses_a_manual_configuration_with_the_fix(config_file):
    invoke("setup", "nightly", "--manual")
    result = invoke("start", "nightly")
    assert result.exit_code != 0
    assert "manual configuration" in result.output and "dhis-sync setup nightly --automatic" in result.output


def test_trigger_names_missing_secrets(config_file):
    result = invoke("trigger", "nightly")
    assert result.exit_code != 0
    assert "NATIONAL_PASSWORD is not set (the secret of source instance 'national')" in result.output
    assert "TRAINING_TOKEN is not set" in result.output


def test_trigger_queues_a_run_on_the_instance_and_warns_without_daemon(config_file, monkeypatch):
    monkeypatch.setenv("NATIONAL_PASSWORD", "secret-password")
    monkeypatch.setenv("TRAINING_TOKEN", "d2p_secret-token")
    result = invoke("trigger", "nightly")
    assert result.exit_code == 0, result.output
    assert "Queued run" in result.output and "daemon is not running" in result.output
    run_id = result.output.split("Queued run ")[1].split()[0]
    run = DagsterInstance.get().get_run_by_id(run_id)
    assert run.job_name == "sync_nightly" and run.status == DagsterRunStatus.QUEUED
    assert run.tags["dhis_sync/config"] == "nightly"
    assert "secret-password" not in str(run.run_config) and "secret-password" not in str(run.tags)


def test_trigger_wait_without_a_daemon_says_so_and_exits_at_once(config_file):
    env = {**os.environ, "NATIONAL_PASSWORD": "secret-password", "TRAINING_TOKEN": "d2p_secret-token"}
    command = [str(Path(sys.executable).parent / "dhis-sync"), "trigger", "nightly", "--wait"]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)

    assert result.returncode == 1, result.stdout + result.stderr
    assert time.monotonic() - started < 120
    assert "Queued run" in result.stdout
    assert "the run is queued and will only start when a dagster-daemon runs" in result.stderr
    assert "`dagster dev -w workspace.yaml` or `dagster-daemon run -w workspace.yaml`" in result.stderr
    run_id = result.stdout.split("Queued run ")[1].split()[0]
    assert DagsterInstance.get().get_run_by_id(run_id).status == DagsterRunStatus.QUEUED
    assert "secret-password" not in result.stdout + result.stderr


def test_list_warns_about_unset_secret_variables_without_values(config_file, monkeypatch):
    monkeypatch.setenv("NATIONAL_PASSWORD", "secret-password")
    result = invoke("list")
    assert result.exit_code == 0, result.output
    assert ("instance 'training': TRAINING_TOKEN (its token_env) is not set, so syncs using it will fail; "
            "export TRAINING_TOKEN=… in the environment of the webserver, daemon and run workers") in result.output
    assert "NATIONAL_PASSWORD" not in result.output and "secret-password" not in result.output


def test_unknown_configuration_is_named(config_file):
    result = invoke("trigger", "nighty")
    assert result.exit_code != 0 and "no sync configuration 'nighty' (known: nightly)" in result.output


def test_bad_configuration_file_is_reported_by_the_cli(config_file):
    config_file.write_text(COMMENTED.replace("check_interval: 300", "check_interval: 5"))
    result = invoke("list")
    assert result.exit_code != 0
    assert "sync_configurations[0].auto_sync.check_interval (line 16)" in result.output


def test_dagster_definitions_validate_accepts_the_shipped_configuration():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Validation successful for code location dhis_sync" in result.stderr + result.stdout


def test_dagster_definitions_validate_warns_about_unset_secrets_and_still_loads(tmp_path):
    path = tmp_path / "dhis_sync.yaml"
    path.write_text(COMMENTED)
    env = {k: v for k, v in os.environ.items() if k not in ("NATIONAL_PASSWORD", "TRAINING_TOKEN")}
    env.update(DHIS_SYNC_CONFIG=str(path), TRAINING_TOKEN="d2p_secret-token", DAGSTER_HOME=str(tmp_path))
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stderr + result.stdout)  # Dagster colours its log levels
    assert result.returncode == 0, output
    assert "Validation successful for code location dhis_sync" in output
    assert ("WARNING - instance 'national': NATIONAL_PASSWORD (its password_env) is not set, so syncs using it "
            "will fail; export NATIONAL_PASSWORD=… in the environment of the webserver, daemon and run workers") in output
    assert "TRAINING_TOKEN" not in output and "d2p_secret-token" not in output


def test_dagster_definitions_validate_shows_the_configuration_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(COMMENTED.replace("destination: training", "destination: trainng"))
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "DHIS_SYNC_CONFIG": str(bad)},
    )
    assert result.returncode != 0
    output = result.stderr + result.stdout
    assert "sync_configurations[0].destination (line 13): unknown instance 'trainng'" in output
