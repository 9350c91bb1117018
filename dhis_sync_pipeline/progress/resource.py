"""The Dagster resource sync steps report their progress to, page by page.

```python
reporter = context.resources.sync_progress.reporter(context, config_id=config.id,
                                                    resource="dataElements", kind="metadata")
reporter.update(processed=450, errors=10, total=1000)   # after every page
reporter.finish()                                       # when the resource is done
```
A reporter is also a `(processed, errors, total)` callable, the progress callback the sync
functions take. Every update is written to the progress store (see `store.py`); the run's own log
gets a line every ten seconds while a resource lasts and one when it is done, so the dashboard and
Dagster's run view tell the same story.
"""

from __future__ import annotations

import time
from typing import Any

from dagster import ConfigurableResource

from dhis_sync_pipeline.progress.store import ProgressStore, get_store, store_url_for_instance

STEP_METADATA = "metadata"
STEP_DATA = "data"
STEP_TRACKER = "tracker"
LOG_EVERY_SECONDS = 10.0


class ProgressResource(ConfigurableResource):
    """Records per-resource sync progress beside the Dagster instance.

    `database_url` overrides where: by default the instance's own PostgreSQL (dagster-postgres)
    or `$DAGSTER_HOME/dhis_sync_progress.db`.
    """

    database_url: str | None = None

    def store_for(self, instance: Any) -> ProgressStore:
        return get_store(self.database_url or store_url_for_instance(instance))

    def reporter(self, context: Any, *, config_id: str, resource: str, kind: str = STEP_METADATA) -> ProgressReporter:
        return ProgressReporter(
            store=self.store_for(context.instance),
            log=context.log,
            run_id=context.run.run_id if hasattr(context, "run") else context.run_id,
            config_id=config_id,
            resource=resource,
            kind=kind,
        )


class ProgressReporter:
    """Progress of one resource within one run."""

    def __init__(self, *, store: ProgressStore, log: Any, run_id: str, config_id: str, resource: str, kind: str):
        self.store = store
        self.log = log
        self.run_id = run_id
        self.config_id = config_id
        self.resource = resource
        self.kind = kind
        self.processed = 0
        self.errors = 0
        self.total = 0
        self.current_step: str | None = kind
        self._logged_at = time.monotonic()  # a resource done within LOG_EVERY_SECONDS logs one line

    def update(
        self, *, processed: int, errors: int = 0, total: int | None = None, current_step: str | None = None
    ) -> None:
        """`processed` objects handled so far (accepted + rejected), `errors` of them rejected."""
        self.processed = max(int(processed), 0)
        self.errors = min(max(int(errors), 0), self.processed) if self.processed else max(int(errors), 0)
        if total is not None:
            self.total = max(int(total), 0)
        self.total = max(self.total, self.processed)
        if current_step is not None:
            self.current_step = current_step
        self._write(finished=False)

    def finish(
        self, *, processed: int | None = None, errors: int | None = None, total: int | None = None
    ) -> None:
        if processed is not None:
            self.processed = int(processed)
        if errors is not None:
            self.errors = int(errors)
        if total is not None:
            self.total = int(total)
        self.total = max(self.total, self.processed)
        self._write(finished=True)

    def __call__(self, processed: int, errors: int, total: int) -> None:
        """The `(processed, errors, total)` progress callback of the sync functions."""
        self.update(processed=processed, errors=errors, total=total)

    @property
    def synced(self) -> int:
        return max(self.processed - self.errors, 0)

    @property
    def percent(self) -> int:
        return percent(self.processed, self.total)

    def _write(self, *, finished: bool) -> None:
        self.store.record(
            run_id=self.run_id,
            config_id=self.config_id,
            resource=self.resource,
            kind=self.kind,
            synced=self.synced,
            errors=self.errors,
            total=self.total,
            current_step=self.current_step,
            finished=finished,
        )
        # The row is written on every update (the dashboard reads it); the run's log gets a line
        # when the resource is done and, while it lasts, one every LOG_EVERY_SECONDS: each line is an
        # event Dagster stores, and a step of many short resources would spend its time on them.
        now = time.monotonic()
        if finished and not self.total:
            return  # nothing to do: the row says so, the run's log needs no line for it
        if not finished and now - self._logged_at < LOG_EVERY_SECONDS:
            return
        self._logged_at = now
        done = "done: " if finished else ""
        self.log.info(
            f"progress {self.resource} ({self.kind}): {done}{self.processed}/{self.total} processed "
            f"({self.percent}%), {self.synced} synced, {self.errors} errors"
        )


def percent(done: float, total: float) -> int:
    if total <= 0:
        return 0
    return int(min(100, max(0, round(100 * done / total))))
