"""Turn DHIS2 client errors into Dagster step outcomes.

A server that is down may come back, so connection errors and 5xx fail the step in a way the
step's `RetryPolicy` retries (exponential backoff with jitter, see translator.py); a wrong
password or a rejected request will not fix itself, so those fail the step at once
(`allow_retries=False`).

Either way the step's headline is the client's message (which names the instance, says what
happened and how to fix it, and never contains credentials); on the last attempt it also says
how often the step ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import DagsterInvariantViolationError, Failure, MetadataValue, OpExecutionContext

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
def dhis2_failures(max_retries: int = 0, delay_seconds: float = 0) -> Iterator[None]:
    """`max_retries`, `delay_seconds`: the step's RetryPolicy's, to say on the last attempt how often
    it ran."""
    try:
        yield
    except DHIS2Error as exc:
        previous = _previous_attempts()
        description = str(exc)
        if exc.retryable and max_retries > 0 and previous >= max_retries:
            pauses = ", with growing pauses between" if delay_seconds > 0 else ", without pauses"
            description += f" (the step ran {previous + 1} times{pauses})"
        raise Failure(description=description, metadata=_metadata(exc), allow_retries=exc.retryable) from None
