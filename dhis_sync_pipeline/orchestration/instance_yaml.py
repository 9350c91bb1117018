"""The dagster.yaml every Dagster home of this project gets: one run per configuration, dead runs failed.

`deploy/dagster.yaml` is this text; `deploy/dagster.postgres.yaml` adds PostgreSQL storage to it.
"""

from __future__ import annotations

import os
from pathlib import Path

POLL_INTERVAL_SECONDS = 30  # a killed run is marked FAILURE within about this long


def instance_yaml(poll_interval_seconds: int = POLL_INTERVAL_SECONDS) -> str:
    return f"""\
# Dagster instance for DHIS2 sync: $DAGSTER_HOME/dagster.yaml. Runs, event logs (and so the sync
# watermarks), schedules and sensor cursors are kept in SQLite files in $DAGSTER_HOME.

concurrency:
  # Runs: one per sync configuration at a time (runs carry the tag dhis_sync/config=<id>), at most
  # 2 per destination server (dhis_sync/destination=<instance>), a few in all. Further runs wait
  # in the queue (needs the dagster-daemon). (Dagster's `run_queue`, which must live here once
  # `concurrency` is used.)
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: dhis_sync/config
        value:
          applyLimitPerUniqueValue: true
        limit: 1
      - key: dhis_sync/destination
        value:
          applyLimitPerUniqueValue: true
        limit: 2
  # Steps that import into one destination server share its pool (dhis2_import_<instance>): one
  # at a time per server, whichever runs they belong to. Raise one server's limit with
  # `dagster instance concurrency set dhis2_import_<instance> <n>`.
  pools:
    default_limit: 1

# Runs in their own processes on this machine: Dagster's DefaultRunLauncher, plus a health check
# so that run monitoring (below) can tell when a run's process was killed. For more machines, use
# the run launchers and executors of dagster-celery, dagster-docker or dagster-k8s instead (they
# have health checks of their own).
run_launcher:
  module: dhis_sync_pipeline.orchestration.run_launcher
  class: MonitoredRunLauncher

# The daemon checks running runs every poll_interval_seconds: a run whose process is gone is
# marked FAILURE, frees its configuration's slot and lets the sensor go on. No max_runtime_seconds:
# a long sync is not a dead one.
run_monitoring:
  enabled: true
  poll_interval_seconds: {poll_interval_seconds}

telemetry:
  enabled: false
"""


def write_default_instance_yaml(home: Path | str | None = None, **options: int) -> Path | None:
    """Write `instance_yaml()` into `home` (default: $DAGSTER_HOME) if it has no dagster.yaml.

    Never overwrites a file that is there. Returns the path written, or None when nothing was.
    """
    home = home or os.environ.get("DAGSTER_HOME")
    if not home:
        return None
    path = Path(home) / "dagster.yaml"
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "x", encoding="utf-8") as file:  # "x": another process may have just written one
            file.write(instance_yaml(**options))
    except FileExistsError:
        return None
    return path
