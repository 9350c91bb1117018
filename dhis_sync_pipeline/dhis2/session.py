"""The retrying `requests.Session` every DHIS2 client uses.

Transport retries are urllib3's job: a `Retry` mounted on an `HTTPAdapter` retries connection
errors, read errors (dropped connections), 429 (waiting as long as `Retry-After` asks) and
502/503/504 with exponential backoff plus jitter, so many workers hitting a recovering server do
not retry in lockstep.

POST is retried too. That is safe for what this project posts: metadata imports with
`identifier=UID` and `importStrategy=CREATE_AND_UPDATE` and data value imports are idempotent
(posting the same payload twice leaves the server in the same state), and an async import that
was started twice only runs the same idempotent import twice.

`raise_on_status=False`: when retries are exhausted urllib3 hands back the last response instead
of raising, so the client can report DHIS2's own error message. When it gives up on a transport
error instead, `attempts(exc)` says how many tries were made, so a message can say so truthfully.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

#: Statuses worth retrying: rate limiting and the gateway/proxy errors of a restarting server.
RETRY_STATUSES: frozenset[int] = frozenset({429, 502, 503, 504})

USER_AGENT = "dhis-sync-pipeline"


class CountingRetry(Retry):
    """A `Retry` whose final `MaxRetryError` carries the number of attempts made (`attempts`)."""

    def increment(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().increment(*args, **kwargs)
        except MaxRetryError as exc:
            exc.attempts = len(self.history) + 1  # type: ignore[attr-defined]
            raise


def attempts(exc: BaseException) -> int | None:
    """How many tries a requests/urllib3 error took, if a `CountingRetry` gave up on it."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(getattr(seen, "attempts", None), int):
            return seen.attempts  # type: ignore[attr-defined]
        inner = seen.args[0] if seen.args else None
        seen = inner if isinstance(inner, BaseException) else None
    return None


def build_retry(
    max_retries: int = 5,
    backoff_factor: float = 0.5,
    backoff_jitter: float | None = None,
    backoff_max: float = 60.0,
) -> Retry:
    """The urllib3 retry policy; `backoff_jitter` defaults to `backoff_factor`."""
    return CountingRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,  # e.g. TLS certificate errors: retrying cannot help
        allowed_methods=None,  # every method, POST included (see module docstring)
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_factor if backoff_jitter is None else backoff_jitter,
        backoff_max=backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


def build_session(
    *,
    max_retries: int = 5,
    backoff_factor: float = 0.5,
    backoff_jitter: float | None = None,
    verify_tls: bool = True,
    pool_maxsize: int = 10,
) -> requests.Session:
    """A session with the retry policy mounted for http and https and DHIS2's API headers.

    `X-Requested-With: XMLHttpRequest` makes DHIS2 answer 401 instead of redirecting an
    unauthenticated request to its HTML login page.
    """
    session = requests.Session()
    adapter = HTTPAdapter(
        max_retries=build_retry(max_retries, backoff_factor, backoff_jitter),
        pool_maxsize=pool_maxsize,
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = verify_tls
    session.headers.update(
        {
            "Accept": "application/json",
            "X-Requested-With": "XMLHttpRequest",
            "User-Agent": USER_AGENT,
        }
    )
    return session
