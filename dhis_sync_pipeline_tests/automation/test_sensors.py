"""The auto-sync sensor against a real instance and emulator: what runs, what is skipped, and why."""

from __future__ import annotations

import datetime as dt

import pytest
from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    build_schedule_context,
    build_sensor_context,
)

from dhis_sync_pipeline.automation.control import is_schedule_running, is_sensor_running
from dhis_sync_pipeline.code_location import build_definitions
from dhis_sync_pipeline.orchestration.resources import instance_resource, resource_key
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG, FULL_SYNC_TAG, STARTED_BY_TAG
from dhis_sync_pipeline_tests.sync.test_metadata_e2e import run_sync

RESOURCES = ""  # the default aggregate set


def automatic(auto: str = "", interval: int = 60) -> str:
    return RESOURCES + f"execution_mode: automatic\nauto_sync: {{check_interval: {interval}" + (", " + auto if auto else "") + "}\n"


def tick(sync_file, instance, cursor=None):
    """Evaluate the configuration's sensor once, as the daemon does; returns (tick data, new cursor)."""
    config = sync_file.sync_configurations[0]
    sensor = build_definitions(sync_file).get_sensor_def(f"auto_sync_{config.id}")
    resources = {resource_key(config.source): instance_resource(sync_file.instance(config.source))}
    context = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    data = sensor.evaluate_tick(context)
    return data, data.cursor if data.cursor is not None else cursor


@pytest.fixture
def synced(sierra_leone_source, start_emulator, write_config, dagster_instance):
    """A source and destination already in step, and a writer of automatic configurations."""
    destination = start_emulator()

    def configure(auto: str = ""):
        return write_config(sierra_leone_source, destination, automatic(auto))

    first = run_sync(configure(), dagster_instance)
    assert first.succeeded, first.table()
    return sierra_leone_source, configure


def test_no_change_skips_and_says_why(synced, dagster_instance):
    _, configure = synced
    result, _ = tick(configure(), dagster_instance)
    assert not result.run_requests
    assert "no change on source" in result.skip_message


def test_a_changed_type_requests_a_run_of_just_that_asset_once(synced, dagster_instance):
    source, configure = synced
    sync_file = configure()
    source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "Renamed on the source"})

    result, cursor = tick(sync_file, dagster_instance)

    [request] = result.run_requests
    assert isinstance(request, RunRequest)
    assert set(request.asset_selection) == {AssetKey(["e2e", "preflight"]), AssetKey(["e2e", "metadata", "dataElements"])}
    assert request.tags[CONFIG_TAG] == "e2e" and request.tags[STARTED_BY_TAG] == "sensor"
    assert request.run_key

    # The requested run happens; the same change seen on the next tick starts nothing more.
    job = build_definitions(sync_file).resolve_job_def("sync_e2e")
    run = job.execute_in_process(instance=dagster_instance, asset_selection=request.asset_selection,
                                 tags=request.tags, raise_on_error=False)
    assert run.success
    again, _ = tick(sync_file, dagster_instance, cursor)
    assert not again.run_requests and "no change" in again.skip_message


def test_a_requested_run_that_never_completed_is_requested_again(synced, dagster_instance):
    source, configure = synced
    sync_file = configure()
    source.state.update_object("indicators", "K1DkT2kokjD", {"description": "changed"})
    first, cursor = tick(sync_file, dagster_instance)
    assert first.run_requests
    # The run was lost (never launched): the next tick asks again, with a new run key.
    second, _ = tick(sync_file, dagster_instance, cursor)
    [request] = second.run_requests
    assert AssetKey(["e2e", "metadata", "indicators"]) in request.asset_selection
    assert request.run_key != first.run_requests[0].run_key


def test_only_monitored_resources_are_watched(synced, dagster_instance):
    source, configure = synced
    sync_file = configure("monitored_resources: [dataElements]")
    source.state.update_object("indicators", "K1DkT2kokjD", {"description": "changed"})
    result, _ = tick(sync_file, dagster_instance)
    assert not result.run_requests and "dataElements" in result.skip_message


def test_max_runs_per_hour_throttles(synced, dagster_instance):
    source, configure = synced
    sync_file = configure("max_runs_per_hour: 1")
    job = build_definitions(sync_file).resolve_job_def("sync_e2e")
    job.execute_in_process(instance=dagster_instance, tags={CONFIG_TAG: "e2e", STARTED_BY_TAG: "sensor"})
    source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "Renamed again"})

    result, _ = tick(sync_file, dagster_instance)

    assert not result.run_requests
    assert "max_runs_per_hour: 1" in result.skip_message


def test_cooldown_after_a_failed_run(synced, dagster_instance, monkeypatch):
    source, configure = synced
    sync_file = configure("cooldown_after_error: 600")
    monkeypatch.setenv("TEST_DHIS2_PASSWORD", "wrong")
    failed = run_sync(sync_file, dagster_instance)
    assert failed.status == "FAILURE"
    monkeypatch.setenv("TEST_DHIS2_PASSWORD", "district")
    source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "Renamed after failure"})

    result, _ = tick(sync_file, dagster_instance)

    assert not result.run_requests
    assert "cooling down after failed run" in result.skip_message and failed.run_id in result.skip_message


def test_time_windows_use_the_source_clock(synced, dagster_instance):
    source, configure = synced
    now = source.state.now()
    closed_start = (now + dt.timedelta(hours=2)).strftime("%H:%M")
    closed_end = (now + dt.timedelta(hours=3)).strftime("%H:%M")
    source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "Renamed at night"})

    outside, _ = tick(configure(f'allowed_time_windows: ["{closed_start}-{closed_end}"]'), dagster_instance)
    assert not outside.run_requests and "outside the allowed time windows" in outside.skip_message

    open_start = (now - dt.timedelta(minutes=30)).strftime("%H:%M")
    open_end = (now + dt.timedelta(minutes=30)).strftime("%H:%M")
    inside, _ = tick(configure(f'allowed_time_windows: ["{open_start}-{open_end}"]'), dagster_instance)
    assert inside.run_requests


def test_a_failing_source_is_reported_on_the_tick_without_a_run(synced, dagster_instance):
    source, configure = synced
    source.faults.configure(fail=1000, fail_status=503)
    result, _ = tick(configure(), dagster_instance)
    assert not result.run_requests
    assert "could not ask source for changes" in result.skip_message
    assert "retrying in 60s" in result.skip_message


def test_settings_shape_the_sensor_and_schedule(sierra_leone_source, start_emulator, write_config):
    destination = start_emulator()
    enabled = build_definitions(write_config(sierra_leone_source, destination,
                                             automatic('full_sync_cron: "0 2 * * 0"', interval=120)))
    sensor = enabled.get_sensor_def("auto_sync_e2e")
    assert sensor.minimum_interval_seconds == 120
    schedule = enabled.get_schedule_def("full_sync_e2e")
    assert schedule.cron_schedule == "0 2 * * 0" and schedule.tags[FULL_SYNC_TAG] == "true"

    manual = build_definitions(write_config(sierra_leone_source, destination, RESOURCES))
    assert not list(manual.sensors or [])


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_nothing_is_started_by_the_file_alone(sierra_leone_source, start_emulator, write_config, dagster_instance,
                                              enabled):
    """Declared stopped whatever auto_sync.enabled says: only `dhis-sync start` (or Start) turns them on."""
    sync_file = write_config(sierra_leone_source, start_emulator(),
                             automatic(f'enabled: {enabled}, full_sync_cron: "0 2 * * 0"'))
    definitions = build_definitions(sync_file)
    assert definitions.get_sensor_def("auto_sync_e2e").default_status == DefaultSensorStatus.STOPPED
    assert definitions.get_schedule_def("full_sync_e2e").default_status == DefaultScheduleStatus.STOPPED
    config = sync_file.sync_config("e2e")
    assert is_sensor_running(dagster_instance, config) is False
    assert is_schedule_running(dagster_instance, config) is False


def test_a_disabled_configuration_does_nothing_even_if_started(synced, dagster_instance):
    source, configure = synced
    sync_file = configure('enabled: false, full_sync_cron: "0 2 * * 0"')
    source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "Renamed while disabled"})

    result, _ = tick(sync_file, dagster_instance)

    assert not result.run_requests
    assert "auto_sync.enabled is false for e2e" in result.skip_message
    assert "dhis-sync setup e2e --enable" in result.skip_message
    schedule = build_definitions(sync_file).get_schedule_def("full_sync_e2e")
    with build_schedule_context(instance=dagster_instance) as context:
        assert not schedule.evaluate_tick(context).run_requests


def test_a_run_already_queued_or_running_blocks_another(synced, dagster_instance):
    source, configure = synced
    sync_file = configure()
    job = build_definitions(sync_file).resolve_job_def("sync_e2e")
    running = dagster_instance.create_run_for_job(job_def=job, tags={CONFIG_TAG: "e2e"}, status=DagsterRunStatus.STARTED)
    source.state.update_object("dataElements", "FRbgzTZ74Hh", {"name": "Renamed while a run waits"})

    result, _ = tick(sync_file, dagster_instance)

    assert not result.run_requests
    assert f"run {running.run_id} of sync_e2e is still started" in result.skip_message
