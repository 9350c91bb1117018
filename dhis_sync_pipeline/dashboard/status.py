"""The JSON the dashboard shows: progress from the progress store, run state from Dagster.

Whether a run is running, finished or failed, and when it started and ended, is read from the
Dagster instance's run records (the same the Dagster UI shows); the progress store only adds the
per-resource counts that steps report page by page.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dhis_sync_pipeline.config import SyncConfig, SyncFile
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG
from dhis_sync_pipeline.dashboard.i18n import step_label
from dhis_sync_pipeline.progress.resource import percent
from dhis_sync_pipeline.progress.store import ProgressStore, ResourceProgress

RUNNING = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
QUEUED = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED]
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
STATUS_WORDS = {
    DagsterRunStatus.SUCCESS: "completed",
    DagsterRunStatus.FAILURE: "failed",
    DagsterRunStatus.CANCELED: "canceled",
    DagsterRunStatus.STARTED: "running",
    DagsterRunStatus.STARTING: "running",
    DagsterRunStatus.CANCELING: "canceling",
    DagsterRunStatus.QUEUED: "queued",
    DagsterRunStatus.NOT_STARTED: "queued",
}
SYNC_KINDS = ("metadata", "data", "tracker")


class UnknownConfig(KeyError):
    pass


def iso(timestamp: float | dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, from an epoch timestamp or a naive-UTC datetime."""
    if timestamp is None:
        return None
    if isinstance(timestamp, dt.datetime):
        moment = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=dt.UTC)
    else:
        moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class StatusService:
    instance: DagsterInstance
    store: ProgressStore
    sync_file: SyncFile

    def config(self, config_id: str) -> SyncConfig:
        try:
            return self.sync_file.sync_config(config_id)
        except KeyError:
            raise UnknownConfig(config_id) from None

    # --- runs, from Dagster ------------------------------------------------------------------

    def _runs(self, config_id: str, statuses: list[DagsterRunStatus], limit: int = 1):
        return self.instance.get_run_records(
            filters=RunsFilter(tags={CONFIG_TAG: config_id}, statuses=statuses), limit=limit
        )

    def running_run(self, config_id: str):
        records = self._runs(config_id, RUNNING)
        return records[0] if records else None

    def queued_run(self, config_id: str):
        records = self._runs(config_id, QUEUED)
        return records[0] if records else None

    def last_finished_run(self, config_id: str):
        records = self._runs(config_id, FINISHED)
        return records[0] if records else None

    # --- payloads ----------------------------------------------------------------------------

    def progress(self, config_id: str, lang: str = "en") -> dict[str, Any]:
        config = self.config(config_id)
        record = self.running_run(config_id)
        if record is None:
            last = self.last_finished_run(config_id)
            return {"success": True, "is_running": False, "last_job": self.last_job(last, with_error=True)}
        return {"success": True, "is_running": True, **self.running_payload(config, record, lang)}

    def running_payload(self, config: SyncConfig, record: Any, lang: str) -> dict[str, Any]:
        run = record.dagster_run
        rows = self.store.run_progress(run.run_id)
        planned = self._planned_resources(run)
        steps = self._step_states(run)
        by_resource = {row.resource: row for row in rows}

        fractions = []
        for resource in planned or list(by_resource):
            row = by_resource.get(resource)
            state = steps.get(resource)
            if state in ("SUCCESS", "FAILURE", "SKIPPED"):
                fractions.append(1.0)
            elif row is not None:
                fractions.append(row.fraction)
            else:
                fractions.append(0.0)
        overall = sum(fractions) / len(fractions) if fractions else 0.0

        total_expected = sum(row.total for row in rows)
        total_synced = sum(row.synced for row in rows)
        total_errors = sum(row.errors for row in rows)
        total_processed = total_synced + total_errors

        started = _started(record)
        elapsed = max(time.time() - started, 0.0)
        speed = round(total_processed / elapsed, 2) if elapsed > 0 else 0.0
        remaining = int(elapsed * (1 - overall) / overall) if 0 < overall < 1 else (0 if overall >= 1 else None)
        if speed == 0 and overall < 1:
            remaining = None  # nothing processed yet: no honest estimate

        current = _current_row(rows, steps)
        if current is None:
            current_step = step_label(None, lang)
        elif overall >= 1:
            current_step = step_label("finishing", lang)
        else:
            current_step = step_label(current.current_step or current.kind, lang)

        return {
            "job_id": run.run_id,
            "config_name": config.name,
            "progress": {
                "percent": int(overall * 100) if overall < 1 else 100,
                "total_expected": total_expected,
                "total_processed": total_processed,
                "total_synced": total_synced,
                "total_errors": total_errors,
            },
            "timing": {
                "started_at": iso(started),
                "elapsed_seconds": int(elapsed),
                "speed_per_second": speed,
                "estimated_remaining_seconds": remaining,
            },
            "resources": {
                row.resource: {
                    "type": row.kind,
                    "synced": row.synced,
                    "errors": row.errors,
                    "total": row.total,
                    "percent": 100 if steps.get(row.resource) == "SUCCESS" else percent(row.processed, row.total),
                }
                for row in rows
            },
            "current_step": current_step,
            "current_resource": current.resource if current is not None else None,
        }

    def last_job(self, record: Any, *, with_error: bool) -> dict[str, Any] | None:
        if record is None:
            return None
        run = record.dagster_run
        synced, errors = self.store.totals_by_run([run.run_id]).get(run.run_id, (0, 0))
        job = {
            "id": run.run_id,
            "status": STATUS_WORDS.get(run.status, run.status.value.lower()),
            "started_at": iso(_started(record)),
            "completed_at": iso(record.end_time),
            "total_synced": synced,
            "total_errors": errors,
        }
        if with_error:
            job["error_message"] = self._error_message(run) if run.status != DagsterRunStatus.SUCCESS else None
        return job

    def dashboard_stats(self, sensor_state: dict[str, bool], daemon_running: bool) -> dict[str, Any]:
        configs = []
        for config in self.sync_file.sync_configurations:
            active = bool(sensor_state.get(config.id))
            running = self.running_run(config.id) is not None
            configs.append(
                {
                    "config_id": config.id,
                    "config_name": config.name,
                    "source": config.source,
                    "destination": config.destination,
                    "is_active": active,
                    "is_running": active and daemon_running,
                    "settings": _settings(config),
                    "last_job": self.last_job(self.last_finished_run(config.id), with_error=False),
                    "has_running_job": running,
                }
            )
        active_ids = [c["config_id"] for c in configs if c["is_active"]]
        return {
            "success": True,
            "configs": configs,
            "scheduler": {"total_active": len(active_ids), "active_configs": active_ids},
        }

    def summary(self, daemon_running: bool) -> dict[str, Any]:
        """What the dashboard's header needs besides dashboard-stats."""
        ids = [c.id for c in self.sync_file.sync_configurations]
        queued = {}
        for config_id in ids:
            record = self.queued_run(config_id)
            if record is not None:
                queued[config_id] = record.dagster_run.run_id
        return {
            "success": True,
            "objects_synced_total": self.store.total_synced(ids),
            "automatic_configs": sum(1 for c in self.sync_file.sync_configurations if c.is_automatic),
            "daemon_running": daemon_running,
            "queued": queued,
        }

    # --- helpers -----------------------------------------------------------------------------

    def _resources_by_step(self, run: Any) -> dict[str, list[str]]:
        """Per step of the run's execution plan, the resources it syncs (the last part of the asset
        keys of its outputs: one for a dataSet's or programme's step, every type for the metadata
        step)."""
        try:
            snapshot = self.instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        except Exception:  # noqa: BLE001 - a run without a plan snapshot: count what reported
            return {}
        to_execute = set(snapshot.step_keys_to_execute or [step.key for step in snapshot.steps])
        found: dict[str, list[str]] = {}
        for step in snapshot.steps:
            if step.key not in to_execute:
                continue
            for output in step.outputs:
                key = output.properties.asset_key if output.properties else None
                if key is not None and len(key.path) == 3 and key.path[1] in SYNC_KINDS:
                    found.setdefault(step.key, []).append(key.path[2])
        return found

    def _planned_resources(self, run: Any) -> list[str]:
        """The resources this run will sync, from the run's own execution plan."""
        return [resource for resources in self._resources_by_step(run).values() for resource in resources]

    def _step_states(self, run: Any) -> dict[str, str]:
        """Per resource, the state of the step that syncs it."""
        by_step = self._resources_by_step(run)
        states = {}
        for stats in self.instance.get_run_step_stats(run.run_id):
            if stats.status is None:
                continue
            for resource in by_step.get(stats.step_key, ()):
                states[resource] = stats.status.value
        return states

    def _error_message(self, run: Any) -> str | None:
        from dagster import DagsterEventType

        messages = []
        wanted = {DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
        for entry in self.instance.all_logs(run.run_id, of_type=wanted):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.STEP_FAILURE:
                data = event.step_failure_data
                if data.user_failure_data and data.user_failure_data.description:
                    text = data.user_failure_data.description
                elif data.error is not None:
                    text = data.error.message.strip()
                else:
                    text = "step failed"
                messages.append(f"{event.step_key}: {text.splitlines()[0] if text else ''}")
            elif not messages:
                messages.append(entry.user_message or event.message or "run failed")
        if not messages:
            return "canceled" if run.status == DagsterRunStatus.CANCELED else None
        return "\n".join(messages[:10])


def _started(record: Any) -> float:
    """When the run started (Dagster's run record), or was created if it has not started yet."""
    if record.start_time:
        return record.start_time
    created = record.create_timestamp
    if created.tzinfo is None:  # Dagster stores naive UTC
        created = created.replace(tzinfo=dt.UTC)
    return created.timestamp()


def _current_row(rows: list[ResourceProgress], steps: dict[str, str]) -> ResourceProgress | None:
    in_progress = [r for r in rows if steps.get(r.resource) in (None, "IN_PROGRESS") and r.finished_at is None]
    candidates = in_progress or rows
    if not candidates:
        return None
    return max(candidates, key=lambda r: r.updated_at)


def _settings(config: SyncConfig) -> dict[str, Any] | None:
    if config.auto_sync is None and not config.is_automatic:
        return None
    auto = config.auto
    return {"is_enabled": bool(config.is_automatic and auto.enabled), "check_interval": auto.check_interval}
