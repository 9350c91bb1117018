"""Turn DHIS2 client errors into Dagster step outcomes.

A server that is down may come back, so connection errors and 5xx ask Dagster to retry the
step (`RetryRequested`, bounded by the configuration); a wrong password or a rejected request
will not fix itself, so those fail the step at once with the client's message, which names the
instance and never contains credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import Failure, RetryRequested

from dhis_sync_pipeline.dhis2.errors import DHIS2Error


@contextmanager
def dhis2_failures(max_retries: int = 0, retry_delay_seconds: int = 30) -> Iterator[None]:
    try:
        yield
    except DHIS2Error as exc:
        if exc.retryable and max_retries > 0:
            raise RetryRequested(max_retries=max_retries, seconds_to_wait=retry_delay_seconds) from exc
        raise Failure(description=str(exc), allow_retries=False) from None
