"""The history per day, as the series the dashboard's charts draw (one point per UTC day)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dhis_sync_pipeline.reporting.history import RunRow

STATUSES = ("SUCCESS", "FAILURE", "CANCELED", "other")


def daily_series(runs: Sequence[RunRow], days: int, today: dt.date | None = None) -> dict[str, Any]:
    today = today or dt.datetime.now(dt.UTC).date()
    labels = [(today - dt.timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    index = {label: i for i, label in enumerate(labels)}
    runs_by_status = {status: [0] * days for status in STATUSES}
    objects, values, rejected = [0] * days, [0] * days, [0] * days
    for run in runs:
        day = dt.datetime.fromtimestamp(run.timestamp, dt.UTC).date().isoformat()
        if day not in index:
            continue
        i = index[day]
        runs_by_status[run.status if run.status in STATUSES else "other"][i] += 1
        objects[i] += run.objects_synced
        values[i] += run.values_synced
        rejected[i] += run.rejected
    finished = [r for r in runs if r.duration_seconds is not None]
    return {
        "days": labels,
        "runs": runs_by_status,
        "objects_synced": objects,
        "values_synced": values,
        "rejected": rejected,
        # One point per finished run: when it started and how long it took.
        "durations": [{"run_id": r.run_id, "start": r.start_time, "seconds": r.duration_seconds,
                       "status": r.status} for r in finished],
    }
