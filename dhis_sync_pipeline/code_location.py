"""The factory that turns a configuration file into Dagster `Definitions`.

Per sync configuration: its assets (orchestration/assets.py, named by orchestration/translator.py),
its job, its sensor and schedule when automatic, and one DHIS2SyncResource; for the whole file,
the instances' resources, the progress resource and the notification sensors. This is the top of
the package: it may import every layer, and nothing imports it but the entry points
(definitions.py, launch.py).
"""

from __future__ import annotations

from dagster import Definitions

from dhis_sync_pipeline.automation.sensors import build_auto_sync_sensor, build_full_sync_schedule
from dhis_sync_pipeline.config import SyncFile
from dhis_sync_pipeline.notifications import build_notification_sensors
from dhis_sync_pipeline.orchestration.assets import build_assets
from dhis_sync_pipeline.orchestration.jobs import build_sync_job
from dhis_sync_pipeline.orchestration.resources import instance_resource, resource_key
from dhis_sync_pipeline.orchestration.sync_resource import DHIS2SyncResource
from dhis_sync_pipeline.orchestration.translator import DHIS2Translator
from dhis_sync_pipeline.progress import ProgressResource


def build_definitions(sync_file: SyncFile) -> Definitions:
    assets, jobs, sensors, schedules = [], [], [], []
    for config in sync_file.sync_configurations:
        assets.extend(build_assets(config))
        jobs.append(build_sync_job(config))
        if config.is_automatic:
            sensors.append(build_auto_sync_sensor(config))
            schedule = build_full_sync_schedule(config)
            if schedule is not None:
                schedules.append(schedule)
    instances = {i.name: instance_resource(i) for i in sync_file.instances}
    resources: dict = {resource_key(name): resource for name, resource in instances.items()}
    resources["sync_progress"] = progress = ProgressResource()
    for config in sync_file.sync_configurations:
        resources[DHIS2Translator(config).sync_resource_key] = DHIS2SyncResource(
            source=instances[config.source], destination=instances[config.destination], progress=progress
        )
    sensors.extend(build_notification_sensors(sync_file))  # run-status sensors: failure/recovery/success alerts
    return Definitions(assets=assets, jobs=jobs, sensors=sensors, schedules=schedules, resources=resources)
