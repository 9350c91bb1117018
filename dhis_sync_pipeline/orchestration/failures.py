"""Turn DHIS2 client errors into Dagster step outcomes.

A server that is down may come back, so connection errors and 5xx ask Dagster to retry the
step (`RetryRequested`, bounded by the configuration); a wrong password or a rejected request
will not fix itself, so those fail the step at once.

Either way the step's headline is the client's message (which names the instance, says what
happened and how to fix it, and never contains credentials). On the last allowed attempt this
raises `Failure` itself rather than one more `RetryRequested`, because Dagster would otherwise
headline the step "Exceeded max_retries of N" and bury the cause.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import DagsterInvariantViolationError, Failure, MetadataValue, OpExecutionContext, RetryRequested

from dhis_sync_pipeline.dhis2.errors import DHIS2Error


def _previous_attempts() -> int:
    """How many times this step already ran in this run (0 outside a step, e.g. in a sensor)."""
    try:
        return OpExecutionContext.get().retry_number
    except DagsterInvariantViolationError:
        return 0


def _metadata(exc: DHIS2Error) -> dict[str, MetadataValue]:
    fields = {
        "instance": exc.instance,
        "base_url": exc.url,
        "http_status": getattr(exc, "status_code", None),
        "dhis2_error_code": getattr(exc, "error_code", None),
        "error_type": type(exc).__name__,
    }
    return {key: MetadataValue.text(str(value)) for key, value in fields.items() if value is not None}


@contextmanager
def dhis2_failures(max_retries: int = 0, retry_delay_seconds: int = 30) -> Iterator[None]:
    try:
        yield
    except DHIS2Error as exc:
        previous = _previous_attempts()
        if exc.retryable and previous < max_retries:
            raise RetryRequested(max_retries=max_retries, seconds_to_wait=retry_delay_seconds) from exc
        description = str(exc)
        if exc.retryable and max_retries > 0:
            description += f" (the step ran {previous + 1} times, {retry_delay_seconds} s apart)"
        raise Failure(description=description, metadata=_metadata(exc), allow_retries=False) from None
