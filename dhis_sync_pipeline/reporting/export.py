"""The history as CSV or JSON: the one format of `dhis-sync report` and the dashboard's downloads.

Both call `export()`, so a file downloaded from the dashboard and the command's output for the
same runs are the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from dhis_sync_pipeline.reporting.history import REJECTION_COLUMNS, RunRow

RUN_COLUMNS = ("config_id", "run_id", "status", "started_by", "full_sync", "start_time", "end_time",
               "duration_seconds", "read", "created", "updated", "deleted", "ignored", "rejected",
               "objects_synced", "values_synced", "failed_step", "failure")
RESOURCE_COLUMNS = ("config_id", "run_id", "run_start", "resource", "kind", "status", "read", "created",
                    "updated", "deleted", "ignored", "rejected", "duration_seconds", "objects_per_second")
Level = Literal["run", "resource"]
Format = Literal["csv", "json"]


def run_rows(runs: Iterable[RunRow]) -> list[dict[str, Any]]:
    return [run.as_dict() for run in runs]


def resource_rows(runs: Iterable[RunRow]) -> list[dict[str, Any]]:
    return [resource.as_dict() for run in runs for resource in run.resources]


def export(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: Format) -> str:
    if fmt == "json":
        return json.dumps([{c: row.get(c) for c in columns} for row in rows], indent=2, ensure_ascii=False) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return buffer.getvalue()


def export_runs(runs: Sequence[RunRow], level: Level, fmt: Format) -> str:
    if level == "run":
        return export(run_rows(runs), RUN_COLUMNS, fmt)
    return export(resource_rows(runs), RESOURCE_COLUMNS, fmt)


def export_rejections(rows: Sequence[dict[str, Any]], fmt: Format) -> str:
    return export(rows, REJECTION_COLUMNS, fmt)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def report(instance, config_ids: Sequence[str], since: str, level: Level, fmt: Format) -> str:
    """The runs of these configurations in the last `since` (e.g. 7d), one row per run or per
    resource: what `dhis-sync report` prints and the dashboard's buttons download."""
    from dhis_sync_pipeline.reporting.history import parse_since, read_history

    return export_runs(read_history(instance, list(config_ids), parse_since(since)), level, fmt)


def rejections_report(instance, run_id: str, fmt: Format) -> str:
    from dhis_sync_pipeline.reporting.history import rejected_objects

    return export_rejections(rejected_objects(instance, run_id), fmt)
