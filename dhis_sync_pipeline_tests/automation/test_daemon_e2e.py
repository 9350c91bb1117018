"""Automatic mode for real: a dagster-daemon alone syncs nothing; after `dhis-sync start` it ticks
the sensor and the destination follows the source without anyone launching anything; `dhis-sync
stop` then stops it."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from dhis_sync_pipeline.cli import main
from dhis_sync_pipeline.demo import INSTANCE_YAML, background
from dhis_sync_pipeline.launch import execute_in_process
from dhis_sync_pipeline.orchestration.workspace import workspace_file

CHECK_INTERVAL = 60  # the smallest interval the configuration accepts


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.mark.slow
def test_daemon_keeps_destination_in_step_until_stopped(
    sierra_leone_source, start_emulator, write_config, tmp_path, monkeypatch
):
    source, destination = sierra_leone_source, start_emulator()
    sync_file = write_config(
        source, destination,
        f"execution_mode: automatic\nauto_sync: {{check_interval: {CHECK_INTERVAL}, monitored_resources: [dataElements]}}\n",
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = DagsterInstance.get()
    assert execute_in_process(sync_file, "e2e", instance)  # already in step before automation starts

    source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "Changed while nobody watched"})
    daemon_command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(workspace_file(tmp_path))]
    with background(daemon_command, tmp_path / "daemon.log", env=dict(os.environ)):
        # A daemon coming up does not start an automatic configuration by itself.
        wait_for(lambda: "SENSOR" in instance.get_daemon_heartbeats(), 120, "the daemon's sensor loop")
        time.sleep(20)  # several sensor loops: a sensor declared running would have requested its run
        assert len(instance.get_runs()) == 1, "a run started before `dhis-sync start`"
        assert destination.state.get_object("dataElements", "FRbgzTZ74Hh")["name"] != "Changed while nobody watched"

        started = CliRunner().invoke(main, ["start", "e2e"])
        assert started.exit_code == 0, started.output
        wait_for(lambda: destination.state.get_object("dataElements", "FRbgzTZ74Hh")["name"]
                 == "Changed while nobody watched", 2 * CHECK_INTERVAL + 60, "the sensor's run to update the destination")

        result = CliRunner().invoke(main, ["stop", "e2e"])
        assert result.exit_code == 0, result.output
        assert "Stopped auto_sync_e2e" in result.output
        status = CliRunner().invoke(main, ["status", "e2e"])
        assert "sensor auto_sync_e2e: stopped" in status.output, status.output

        source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "Changed after stop"})
        time.sleep(CHECK_INTERVAL + 15)
        assert destination.state.get_object("dataElements", "FRbgzTZ74Hh")["name"] == "Changed while nobody watched"
    log = Path(tmp_path / "daemon.log").read_text()
    assert "district" not in log  # the password never reaches the daemon's output
