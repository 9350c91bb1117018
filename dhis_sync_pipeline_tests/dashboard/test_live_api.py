"""The JSON APIs during and after a real sync run against a slowed emulator."""

from __future__ import annotations

import time

import pytest
import requests
from dagster import DagsterEventType, DagsterInstance

from dhis_sync_pipeline.dashboard.status import iso
from dhis_sync_pipeline_tests.dashboard.conftest import SYNCED, wait_until

pytestmark = pytest.mark.slow

PROGRESS_KEYS = {"success", "is_running", "job_id", "config_name", "progress", "timing", "resources",
                 "current_step", "current_resource"}
IDLE_KEYS = {"success", "is_running", "last_job"}
LAST_JOB_KEYS = {"id", "status", "started_at", "completed_at", "total_synced", "total_errors", "error_message"}


class Client:
    """GETs against the dashboard server over HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def client(dashboard_url):
    return Client(dashboard_url)


def test_progress_rises_during_a_run_and_last_job_matches_dagster_afterwards(client, launch_in_background):
    before = client.get("/api/auto-sync/local_97_94/progress/").json()
    assert before == {"success": True, "is_running": False, "last_job": None} or before["is_running"] is False

    launch = launch_in_background("local_97_94")
    wait_until(lambda: client.get("/api/auto-sync/local_97_94/progress/").json()["is_running"], timeout=60,
               interval=0.1, message="the run to start")

    samples = []
    stats_while_running = client.get("/api/auto-sync/dashboard-stats/").json()
    while True:
        payload = client.get("/api/auto-sync/local_97_94/progress/?lang=fr").json()
        if not payload["is_running"]:
            break
        samples.append(payload)
        time.sleep(0.1)
    launch["thread"].join(timeout=60)
    assert "error" not in launch, launch.get("error")
    run_id = launch["run_id"]

    # Shape, exactly as documented.
    assert len(samples) >= 5, f"only {len(samples)} samples while running"
    for sample in samples:
        assert set(sample) == PROGRESS_KEYS
        assert set(sample["progress"]) == {"percent", "total_expected", "total_processed", "total_synced", "total_errors"}
        assert set(sample["timing"]) == {"started_at", "elapsed_seconds", "speed_per_second", "estimated_remaining_seconds"}
        assert sample["job_id"] == run_id
        assert sample["config_name"] == "Local 97-94"
        assert sample["timing"]["started_at"].endswith("Z")
        for resource in sample["resources"].values():
            assert set(resource) == {"type", "synced", "errors", "total", "percent"}
            assert resource["type"] == "metadata"

    # Percent and counts only ever rise.
    for key in ("percent", "total_processed", "total_synced", "total_errors"):
        values = [s["progress"][key] for s in samples]
        assert values == sorted(values), f"{key} went down: {values}"
    percents = [s["progress"]["percent"] for s in samples]
    assert percents[0] < percents[-1], percents
    assert len(set(percents)) >= 3, f"the percent barely moved: {percents}"

    # Speed and time left are computed while objects flow.
    moving = [s for s in samples if s["progress"]["total_processed"] > 0 and s["progress"]["percent"] < 100]
    assert moving, "no sample caught objects flowing"
    assert all(s["timing"]["speed_per_second"] > 0 for s in moving)
    assert any(isinstance(s["timing"]["estimated_remaining_seconds"], int) and
               s["timing"]["estimated_remaining_seconds"] >= 0 for s in moving)
    # French step labels, DHIS2's resource names.
    assert any(s["current_step"] == "Synchronisation des métadonnées" for s in samples)
    assert any(s["current_resource"] in set(SYNCED) for s in samples)

    # Resources appear as they start: dataElementGroups waits for dataElements.
    seen = [set(s["resources"]) for s in samples]
    for earlier, later in zip(seen, seen[1:]):
        assert earlier <= later
    assert len(seen[0]) < len(SYNCED) and seen[-1] == set(SYNCED)

    # The dashboard stats said a job was running.
    card = next(c for c in stats_while_running["configs"] if c["config_id"] == "local_97_94")
    assert card["has_running_job"] is True

    # After the run: not running, and last_job is the Dagster run.
    after = client.get("/api/auto-sync/local_97_94/progress/").json()
    assert set(after) == IDLE_KEYS and after["is_running"] is False
    job = after["last_job"]
    assert set(job) == LAST_JOB_KEYS
    instance = DagsterInstance.get()
    record = instance.get_run_record_by_id(run_id)
    assert job["id"] == run_id
    assert job["status"] == "completed" and record.dagster_run.status.value == "SUCCESS"
    assert job["started_at"] == iso(record.start_time)
    assert job["completed_at"] == iso(record.end_time)
    assert job["error_message"] is None
    read = errors = 0
    for entry in instance.all_logs(run_id, of_type={DagsterEventType.ASSET_MATERIALIZATION}):
        metadata = entry.dagster_event.step_materialization_data.materialization.metadata
        if "read" in metadata:
            read += metadata["read"].value
            errors += metadata["errors"].value
    assert job["total_synced"] == read - errors and job["total_errors"] == errors
    assert read >= 300  # 200 org units + 100 data elements + groups
    assert samples[-1]["progress"]["total_synced"] <= job["total_synced"]

    stats = client.get("/api/auto-sync/dashboard-stats/").json()
    card = next(c for c in stats["configs"] if c["config_id"] == "local_97_94")
    assert card["has_running_job"] is False
    assert card["last_job"] == {k: v for k, v in job.items() if k != "error_message"}


def test_dashboard_stats_shape_and_sensor_state(client):
    stats = client.get("/api/auto-sync/dashboard-stats/").json()
    assert set(stats) == {"success", "configs", "scheduler"} and stats["success"] is True
    by_id = {c["config_id"]: c for c in stats["configs"]}
    assert set(by_id) == {"local_97_94", "nightly"}
    for card in stats["configs"]:
        assert set(card) == {"config_id", "config_name", "source", "destination", "is_active", "is_running",
                             "settings", "last_job", "has_running_job"}
    assert by_id["nightly"]["settings"] == {"is_enabled": True, "check_interval": 300}
    assert by_id["local_97_94"]["settings"] is None and by_id["local_97_94"]["is_active"] is False
    assert by_id["nightly"]["source"] == "src" and by_id["nightly"]["destination"] == "dst"
    assert set(stats["scheduler"]) == {"total_active", "active_configs"}
    assert stats["scheduler"]["total_active"] == len(stats["scheduler"]["active_configs"])
    assert ("nightly" in stats["scheduler"]["active_configs"]) == by_id["nightly"]["is_active"]


def test_unknown_configuration_is_a_json_404(client):
    response = client.get("/api/auto-sync/no_such_sync/progress/")
    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False and "no_such_sync" in body["error"]
    assert "Traceback" not in response.text
