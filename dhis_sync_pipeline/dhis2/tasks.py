"""Following an asynchronous DHIS2 import (`async=true`) to its end.

The answer to an async import only says the job started. Its outcome is known only after polling
`/api/system/tasks/{type}/{id}` until a notification says `completed: true` and then reading
`/api/system/taskSummaries/{type}/{id}` (an empty 200 until the summary is written). Stopping
earlier reports success for imports that failed, so a job that does not finish in time raises
`DHIS2ImportTimeout` instead of returning anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dhis_sync_pipeline.dhis2.errors import DHIS2ImportTimeout, DHIS2ResponseError
from dhis_sync_pipeline.dhis2.import_result import ImportResult, is_job_response, parse_import_response

logger = logging.getLogger(__name__)

#: How long to keep asking for the summary of a job that reported failure without one.
FAILED_JOB_SUMMARY_ATTEMPTS = 3


def _backoff(poll_interval: float) -> Iterator[float]:
    """Ask again soon at first (small imports finish in milliseconds), then every poll_interval."""
    delay = min(0.02, poll_interval)
    while True:
        yield delay
        delay = min(delay * 2, poll_interval)


@dataclass(frozen=True)
class Job:
    """An import job running on the server."""

    job_type: str
    job_id: str

    @classmethod
    def from_response(cls, body: Any) -> Job | None:
        """Read the job from an `async=true` answer (pre-2.41 and 2.41+ forms), or None."""
        if not is_job_response(body):
            return None
        response = body["response"]
        endpoint = response.get("relativeNotifierEndpoint")
        if isinstance(endpoint, str) and endpoint.strip("/").count("/") >= 2:
            job_type, job_id = endpoint.rstrip("/").split("/")[-2:]
            return cls(job_type, job_id)
        job_type = response.get("jobType")
        job_id = response.get("id") or response.get("uid")
        if not job_type or not job_id:
            raise DHIS2ResponseError(f"async import answer names no job: {body!r:.300}")
        return cls(str(job_type), str(job_id))

    @property
    def tasks_path(self) -> str:
        return f"system/tasks/{self.job_type}/{self.job_id}"

    @property
    def summary_path(self) -> str:
        return f"system/taskSummaries/{self.job_type}/{self.job_id}"


def _notifications(body: Any) -> list[Mapping[str, Any]]:
    if isinstance(body, Mapping) and ("completed" in body or "message" in body):
        body = [body]
    elif isinstance(body, Mapping):  # some versions key notifications by job id
        body = [item for value in body.values() for item in (value if isinstance(value, list) else [value])]
    return [item for item in body or [] if isinstance(item, Mapping)]


def wait_for_job(
    fetch: Callable[[str], Any],
    job: Job,
    *,
    poll_interval: float,
    timeout: float,
    instance: str,
    base_url: str,
) -> ImportResult:
    """Poll the job until it completes, then parse its summary.

    `fetch(path)` GETs a path under /api and returns the decoded JSON, or None for an empty body.
    """
    deadline = time.monotonic() + timeout
    started = time.monotonic()

    def timed_out(what: str) -> DHIS2ImportTimeout:
        return DHIS2ImportTimeout(
            f"{what} for {job.job_type} job {job.job_id} on instance {instance} ({base_url}) "
            f"after {timeout:g} s (task_timeout). The job may still be running: check "
            f"{base_url}/api/{job.tasks_path} or raise task_timeout for large imports.",
            job_type=job.job_type,
            job_id=job.job_id,
            instance=instance,
            url=base_url,
        )

    last: Mapping[str, Any] | None = None
    delays = _backoff(poll_interval)
    while True:
        notifications = _notifications(fetch(job.tasks_path))
        if notifications:
            last = notifications[0]
            logger.debug("%s %s: %s", job.job_type, job.job_id, last.get("message"))
        if any(item.get("completed") for item in notifications):
            break
        if time.monotonic() >= deadline:
            raise timed_out("no completion")
        time.sleep(next(delays))

    failures = [item for item in notifications if str(item.get("level", "")).upper() == "ERROR"]
    attempts = 0
    while True:
        summary = fetch(job.summary_path)
        if summary:
            result = parse_import_response(summary, 200)
            logger.info(
                "%s job %s on %s finished in %.1f s: %s",
                job.job_type, job.job_id, instance, time.monotonic() - started, result.summary(),
            )
            return result
        attempts += 1
        if failures and attempts >= FAILED_JOB_SUMMARY_ATTEMPTS:
            message = str(failures[0].get("message") or "job failed without a summary")
            return ImportResult(status="ERROR", message=message, raw=notifications)
        if time.monotonic() >= deadline:
            raise timed_out("no import summary")
        time.sleep(next(delays))
