"""Errors raised by the DHIS2 client.

Every message starts with the instance and its base URL, then says what happened, then how to
fix it: "source (https://dhis2.example.org): GET /api/system/info answered 503 Service Unavailable
after 6 attempts: <what the server said>. <fix>". That first sentence is what a failed Dagster step
shows as its headline. Messages are written for DHIS2 administrators and never contain
credentials: they are built from the instance name, the base URL and the server's answer, which
the client scrubs of every form of the credentials it sent (`auth.scrub`).

`retryable` tells the sync layer whether retrying the whole step later may help (a server that
was down may come back; a wrong password will not fix itself).
"""

from __future__ import annotations

from typing import Any


def _rebuild(cls: type[DHIS2Error], message: str, state: dict[str, Any]) -> DHIS2Error:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class DHIS2Error(Exception):
    """Base class: something went wrong talking to one DHIS2 instance."""

    retryable: bool = False

    def __init__(self, message: str, *, instance: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.instance = instance
        self.url = url

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments break the default pickling of exceptions, and Dagster
        # ships step errors between processes.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


class DHIS2AuthenticationError(DHIS2Error):
    """The server refused our credentials (401) or redirected us to its login page."""


class DHIS2ConnectionError(DHIS2Error):
    """The server could not be reached, even after retrying with backoff."""

    retryable = True


class DHIS2TLSError(DHIS2ConnectionError):
    """The TLS handshake failed, usually because the server's certificate cannot be verified.

    Not retryable: a certificate does not become trusted by waiting.
    """

    retryable = False


class DHIS2UnsupportedVersionError(DHIS2Error):
    """The server runs a DHIS2 release older than `version.MIN_SUPPORTED`."""


class DHIS2HTTPError(DHIS2Error):
    """The server answered with an HTTP error that is not an import report.

    `error_code` is DHIS2's WebMessage code (e.g. E1005 "object not found") when the body has one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_code: str | None = None,
        dhis2_message: str | None = None,
        instance: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, instance=instance, url=url)
        self.status_code = status_code
        self.error_code = error_code
        self.dhis2_message = dhis2_message

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.status_code >= 500 or self.status_code == 429


class DHIS2ResponseError(DHIS2Error):
    """The server answered 2xx but the body is malformed or truncated."""

    retryable = True


class DHIS2TruncatedBodyError(DHIS2ResponseError):
    """A streamed answer ended before its JSON did (the rows before the cut were readable)."""


class DHIS2ImportTimeout(DHIS2Error):
    """An asynchronous import job did not finish within `task_timeout`.

    The job may still be running on the server: it is *not* known to have failed or succeeded.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        job_type: str,
        job_id: str,
        instance: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, instance=instance, url=url)
        self.job_type = job_type
        self.job_id = job_id


__all__ = [
    "DHIS2AuthenticationError",
    "DHIS2ConnectionError",
    "DHIS2Error",
    "DHIS2HTTPError",
    "DHIS2ImportTimeout",
    "DHIS2ResponseError",
    "DHIS2TLSError",
    "DHIS2TruncatedBodyError",
    "DHIS2UnsupportedVersionError",
]
