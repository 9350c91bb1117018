"""Automatic mode: one Dagster sensor per automatic configuration, and its optional schedule.

Each tick reads the source's clock, applies the auto-sync rules (time windows, a run already in
progress, cooldown after a failure, runs per hour), asks the source which monitored resources
changed, and requests one run of just those assets. The cursor remembers, per resource, the
source time of the last check that requested a run; it moves only when a run is requested, and
the run key is derived from it, so a change is never synced twice.

Sensors and schedules are declared STOPPED whatever the file says: an automatic configuration
syncs only once `dhis-sync start`, the dashboard's Start or the UI's toggle starts it, never by
itself when a daemon first comes up. `auto_sync.enabled: false` keeps it from being started, and
a sensor or schedule already running does nothing while it is false (its ticks say why).
"""

import datetime as dt
import json

from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from dhis_sync_pipeline.automation import rules
from dhis_sync_pipeline.automation.changes import has_changed, monitored_resources
from dhis_sync_pipeline.config import SyncConfig
from dhis_sync_pipeline.dhis2.errors import DHIS2Error
from dhis_sync_pipeline.orchestration.resources import resource_key
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG, FULL_SYNC_TAG, STARTED_BY_TAG
from dhis_sync_pipeline.orchestration.translator import DHIS2Translator
from dhis_sync_pipeline.orchestration.watermarks import last_watermark
from dhis_sync_pipeline.sync.metadata import format_watermark


def sensor_name(config_id: str) -> str:
    return f"auto_sync_{config_id}"


def schedule_name(config_id: str) -> str:
    return f"full_sync_{config_id}"


def build_auto_sync_sensor(config: SyncConfig) -> SensorDefinition:
    source_key = resource_key(config.source)
    settings = config.auto

    @sensor(
        name=sensor_name(config.id),
        job_name=config.job_name,
        minimum_interval_seconds=settings.check_interval,
        default_status=DefaultSensorStatus.STOPPED,
        required_resource_keys={source_key},
        description=(
            f"Every {settings.check_interval}s, asks {config.source} what changed and syncs just that "
            f"to {config.destination}."
        ),
    )
    def auto_sync(context: SensorEvaluationContext):
        if not settings.enabled:
            return SkipReason(_disabled(config))
        cursor = json.loads(context.cursor) if context.cursor else {}
        now = dt.datetime.now(dt.timezone.utc)
        for reason in (rules.run_in_progress(context.instance, config),
                       rules.cooling_down(context.instance, config, now),
                       rules.too_many_runs(context.instance, config, now)):  # fmt: skip
            if reason:
                return SkipReason(reason)

        client = getattr(context.resources, source_key).client()
        try:
            source_time = client.system_info().server_date
            reason = rules.outside_time_windows(config, source_time)
            if reason:
                return SkipReason(reason)
            changed, why = _changed_resources(context, config, client, cursor)
        except DHIS2Error as exc:
            # The source is down or refuses us: say so on the tick and try again next interval.
            return SkipReason(f"could not ask {config.source} for changes: {exc}; retrying in {settings.check_interval}s")
        finally:
            client.close()

        if not changed:
            return SkipReason(f"no change on {config.source} in {', '.join(monitored_resources(config))}")
        stamp = format_watermark(source_time)
        new_cursor = {**cursor, **{resource: stamp for resource in changed}}
        translator = DHIS2Translator(config)
        assets = [translator.preflight_key()] + [key for r in changed for key in translator.keys_for_resource(r)]
        # The checks of what the run syncs: without them the run could succeed unverified.
        checks = [translator.uid_check_key(r) for r in changed if r in config.metadata_resources]
        checks += [translator.values_check_key(key.path[-1]) for key in assets if key.path[1] == "data"]
        context.log.info("; ".join(why))
        return SensorResult(
            run_requests=[
                RunRequest(
                    run_key=f"{config.id}:{','.join(changed)}:{stamp}",
                    asset_selection=assets,
                    asset_check_keys=checks,
                    tags={
                        CONFIG_TAG: config.id,
                        STARTED_BY_TAG: "sensor",
                        "dhis_sync/changed": ",".join(changed)[:200],
                    },
                )
            ],
            cursor=json.dumps(new_cursor, sort_keys=True),
        )

    return auto_sync


def _disabled(config: SyncConfig) -> str:
    return (f"auto_sync.enabled is false for {config.id}: nothing is synced; enable it with "
            f"`dhis-sync setup {config.id} --enable` and reload the code location, or stop this sensor "
            f"with `dhis-sync stop {config.id}`")


def _changed_resources(
    context: SensorEvaluationContext, config: SyncConfig, client, cursor: dict[str, str]
) -> tuple[list[str], list[str]]:
    changed: list[str] = []
    why: list[str] = []
    for resource in monitored_resources(config):
        keys = DHIS2Translator(config).keys_for_resource(resource)
        if not keys:
            continue
        watermarks = [last_watermark(context.instance, key) for key in keys]
        if any(w is None for w in watermarks):
            changed.append(resource)
            why.append(f"{resource}: never synced")
            continue
        watermark = min(w for w in watermarks if w is not None)
        checked = dt.datetime.fromisoformat(cursor[resource]) if resource in cursor else None
        if checked is not None and watermark < checked:
            # A run was requested for a change seen at `checked` but did not complete: retry.
            changed.append(resource)
            why.append(f"{resource}: the run requested at {cursor[resource]} did not complete")
            continue
        since = max(watermark, checked) if checked else watermark
        if has_changed(client, config, resource, since):
            changed.append(resource)
            why.append(f"{resource}: changed since {format_watermark(since)}")
    return changed, why


def build_full_sync_schedule(config: SyncConfig) -> ScheduleDefinition | None:
    settings = config.auto
    if not settings.full_sync_cron:
        return None
    return ScheduleDefinition(
        name=schedule_name(config.id),
        cron_schedule=settings.full_sync_cron,
        job_name=config.job_name,
        tags={CONFIG_TAG: config.id, FULL_SYNC_TAG: "true", STARTED_BY_TAG: "schedule"},
        default_status=DefaultScheduleStatus.STOPPED,
        should_execute=lambda _context: settings.enabled,
        description=f"Periodic full sync of {config.name} (ignores watermarks).",
    )
