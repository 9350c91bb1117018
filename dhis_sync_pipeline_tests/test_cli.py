"""The dhis-sync command line, on a real Dagster instance and a real configuration file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, DagsterRunStatus

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
    assert "nightly" in listing.output and "automatic" in listing.output and "running" in listing.output
    assert "daemon is not running" in listing.output

    status = invoke("status")
    assert "sensor auto_sync_nightly: running, every 300s" in status.output
    assert "no runs yet" in status.output


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
