"""Runs of the sync configurations over a period, per run and per resource, from the Dagster instance.

Everything comes from Dagster's records, the ones its UI shows: the run records (status, start,
end, tags) and each run's events: a resource's materialization carries the counts the sync step
recorded (read, created, …, errors, duration_seconds, objects_per_second); a failed step carries
the same counts in its failure metadata; a failed asset check marks its resource. The rejected
objects are the `rejected_objects_json` / `rejected_values_json` metadata the steps write.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from dagster import DagsterEventType, DagsterInstance, RunsFilter

from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG, FULL_SYNC_TAG, STARTED_BY_TAG

COUNTS = ("read", "created", "updated", "deleted", "ignored", "rejected")
# The metadata key a step records each count under ("errors": objects the destination rejected).
METADATA_KEYS = {"read": "read", "created": "created", "updated": "updated", "deleted": "deleted",
                 "ignored": "ignored", "rejected": "errors"}
REJECTION_KEYS = ("rejected_objects_json", "rejected_values_json")
REJECTION_COLUMNS = ("config_id", "run_id", "resource", "errorCode", "uid", "type", "property", "dataElement",
                     "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo", "message")
MAX_RUNS = 1000  # a week of an automatic configuration at its highest rate (6 an hour) fits
KINDS = ("metadata", "data", "tracker")
SINCE_PATTERN = re.compile(r"^(\d+)([hdw])$")
EVENTS = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.STEP_FAILURE,
          DagsterEventType.ASSET_CHECK_EVALUATION}


@dataclass
class ResourceRow:
    """One resource (metadata type or dataSet) of one run."""

    config_id: str
    run_id: str
    run_start: str
    resource: str  # e.g. metadata/dataElements, data/BfMAe6Itzgt
    kind: str  # metadata | data | tracker
    status: str = "ok"  # ok | failed | check_failed
    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    rejected: int = 0
    duration_seconds: float | None = None
    objects_per_second: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunRow:
    config_id: str
    run_id: str
    status: str  # Dagster's run status: SUCCESS, FAILURE, CANCELED, STARTED, QUEUED, …
    started_by: str
    full_sync: bool
    start_time: str  # ISO 8601 UTC ("" while queued)
    end_time: str
    duration_seconds: float | None
    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    rejected: int = 0
    objects_synced: int = 0  # metadata objects created, updated or deleted
    values_synced: int = 0  # data values created, updated or deleted
    failed_step: str = ""
    failure: str = ""  # the failed step's headline
    resources: list[ResourceRow] = field(default_factory=list)
    timestamp: float = 0.0  # start (or creation) time, for grouping by day

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        del row["resources"], row["timestamp"]
        return row


def parse_since(text: str) -> dt.timedelta:
    """'7d', '36h' or '2w' as a duration; anything else is a ValueError saying what to write."""
    match = SINCE_PATTERN.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a period; write a number and h, d or w, e.g. 7d, 36h or 2w")
    count, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(hours=count) if unit == "h" else dt.timedelta(days=count * (7 if unit == "w" else 1))


def read_history(instance: DagsterInstance, config_ids: list[str], since: dt.timedelta,
                 now: dt.datetime | None = None) -> list[RunRow]:
    """The runs of these configurations created in the period, oldest first, with their resources."""
    if not config_ids:
        return []
    now = now or dt.datetime.now(dt.UTC)
    filters = RunsFilter(tags={CONFIG_TAG: sorted(config_ids)}, created_after=now - since)
    records = instance.get_run_records(filters=filters, limit=MAX_RUNS)
    return [_run_row(instance, record) for record in sorted(records, key=lambda r: r.create_timestamp)]


def read_run(instance: DagsterInstance, run_id: str) -> RunRow:
    """One run, as `read_history` reads each."""
    records = instance.get_run_records(filters=RunsFilter(run_ids=[run_id]), limit=1)
    if not records:
        raise KeyError(f"no run {run_id!r} in this Dagster instance")
    return _run_row(instance, records[0])


def _run_row(instance: DagsterInstance, record) -> RunRow:
    run = record.dagster_run
    start, end = record.start_time, record.end_time
    row = RunRow(
        config_id=run.tags.get(CONFIG_TAG, ""),
        run_id=run.run_id,
        status=run.status.value,
        started_by=run.tags.get(STARTED_BY_TAG, ""),
        full_sync=run.tags.get(FULL_SYNC_TAG) == "true",
        start_time=_iso(start),
        end_time=_iso(end),
        duration_seconds=round(end - start, 3) if start and end else None,
        timestamp=start or record.create_timestamp.timestamp(),
    )
    resources: dict[str, ResourceRow] = {}
    failures: list[tuple[str, str]] = []
    for entry in instance.all_logs(run.run_id, of_type=EVENTS):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            resource = _resource(resources, row, materialization.asset_key.path)
            if resource is not None:
                _counts(resource, materialization.metadata)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            resource = _resource(resources, row, evaluation.asset_key.path)
            if resource is not None and not evaluation.passed and resource.status == "ok":
                resource.status = "check_failed"
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            step_key = event.step_key or ""
            data = event.step_failure_data
            user = data.user_failure_data
            headline = (user.description if user and user.description else
                        data.error.message if data.error else "step failed")
            failures.append((step_key, headline.strip().splitlines()[0] if headline.strip() else "step failed"))
            name, is_check = _step_resource(step_key)
            resource = _resource(resources, row, name.split("/")) if name else None
            if resource is not None:
                resource.status = "check_failed" if is_check else "failed"
                _counts(resource, user.metadata if user else {})
    if failures:
        step_key, row.failure = failures[0]
        row.failed_step = _step_name(step_key)
    row.resources = list(resources.values())
    for resource in row.resources:
        for name in COUNTS:
            setattr(row, name, getattr(row, name) + getattr(resource, name))
        synced = resource.created + resource.updated + resource.deleted
        if resource.kind == "data":
            row.values_synced += synced
        else:
            row.objects_synced += synced
    return row


def _resource(resources: dict[str, ResourceRow], row: RunRow, path: list[str]) -> ResourceRow | None:
    # Asset keys are [config, "metadata"|"data"|"tracker", name]; preflight has no counts of its own.
    if len(path) == 2 and path[0] in KINDS:
        path = ["", *path]
    if len(path) < 3 or path[1] not in KINDS:
        return None
    name = f"{path[1]}/{path[2]}"
    if name not in resources:
        resources[name] = ResourceRow(row.config_id, row.run_id, row.start_time, name, path[1])
    return resources[name]


def _counts(resource: ResourceRow, metadata: dict[str, Any]) -> None:
    for name, key in METADATA_KEYS.items():
        if key in metadata:
            setattr(resource, name, int(metadata[key].value))
    if "duration_seconds" in metadata:
        resource.duration_seconds = float(metadata["duration_seconds"].value)
    if "objects_per_second" in metadata:
        resource.objects_per_second = float(metadata["objects_per_second"].value)


def _step_resource(step_key: str) -> tuple[str, bool]:
    """The resource ("data/<uid>") of a step that syncs or checks one asset, and whether it is its
    check's step (`e2e__data__<uid>_destination_holds_source_values`); ("", False) for the others."""
    parts = step_key.split("__")
    if len(parts) != 3 or parts[1] not in KINDS:
        return "", False
    # DHIS2 UIDs and collection names have no underscore: what follows one names a check.
    name, _, check = parts[2].partition("_")
    return f"{parts[1]}/{name}", bool(check)


def _step_name(step_key: str) -> str:
    """A step key (`e2e__metadata__dataElements`, `e2e__preflight`) without its configuration."""
    parts = step_key.split("__")
    return "/".join(parts[1:]) if len(parts) > 1 else step_key


def rejected_objects(instance: DagsterInstance, run_id: str) -> list[dict[str, Any]]:
    """Every object or value the destination rejected in the run, one dict per REJECTION_COLUMNS."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise KeyError(f"no run {run_id!r} in this Dagster instance")
    config_id = run.tags.get(CONFIG_TAG, "")
    rows: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    wanted = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.STEP_FAILURE}
    for entry in instance.all_logs(run_id, of_type=wanted):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            metadata = materialization.metadata
            resource = "/".join(materialization.asset_key.path[1:3])
        else:
            user = event.step_failure_data.user_failure_data
            resource, _ = _step_resource(event.step_key or "")
            metadata = user.metadata if user else {}
        for key in REJECTION_KEYS:
            if key in metadata:
                for item in metadata[key].value or []:
                    row = _rejection(config_id, run_id, resource, item)
                    identity = tuple(row.values())
                    if identity not in seen:  # a failure may repeat what its materialization listed
                        seen.add(identity)
                        rows.append(row)
    return rows


def _rejection(config_id: str, run_id: str, resource: str, item: dict[str, Any]) -> dict[str, Any]:
    row = {column: "" for column in REJECTION_COLUMNS}
    row.update({k: "" if v is None else v for k, v in item.items() if k in row})
    if not row["uid"] and item.get("object"):  # data values name the rejected object "object"
        row["uid"] = item["object"]
    row.update(config_id=config_id, run_id=run_id, resource=resource)
    return row


def _iso(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
