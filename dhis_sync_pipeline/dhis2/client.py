"""`DHIS2Client`: the one way this project talks to a DHIS2 server.

It owns one retrying `requests.Session` (see `session.py`), turns every failure into a `DHIS2Error`
that names the instance, pages through collections, and returns imports as `ImportResult`s —
following asynchronous imports to their end (see `tasks.py`).

Nothing here logs or raises with credentials: log lines carry method, path, status and duration;
error messages carry the instance name, the base URL and DHIS2's own message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ijson
import requests
import urllib3
from requests.auth import AuthBase

from dhis_sync_pipeline.dhis2.auth import ApiTokenAuth, describe_auth, scrub
from dhis_sync_pipeline.dhis2.diagnosis import body_excerpt, is_web_message, transport_problem
from dhis_sync_pipeline.dhis2.errors import (
    DHIS2AuthenticationError,
    DHIS2ConnectionError,
    DHIS2Error,
    DHIS2HTTPError,
    DHIS2ResponseError,
    DHIS2TLSError,
    DHIS2UnsupportedVersionError,
    DHIS2TruncatedBodyError,
)
from dhis_sync_pipeline.dhis2.import_result import ImportResult, is_import_report, parse_import_response
from dhis_sync_pipeline.dhis2.query import chunked, format_datetime, in_filter, parse_datetime
from dhis_sync_pipeline.dhis2.session import attempts, build_session
from dhis_sync_pipeline.dhis2.tasks import Job, wait_for_job
from dhis_sync_pipeline.dhis2.version import MIN_SUPPORTED, DHIS2Version, is_supported

logger = logging.getLogger(__name__)

#: HTTP statuses of an import answer that still carry a report to read (WARNING/ERROR).
REPORT_STATUSES = frozenset({400, 409})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class SystemInfo:
    """What `GET /api/system/info` says about a server; `server_date` is its clock, naive."""

    version: DHIS2Version
    server_date: datetime
    time_zone: str | None
    system_id: str | None
    system_name: str | None
    raw: dict[str, Any] = field(repr=False)

    @property
    def tzinfo(self) -> tzinfo | None:
        return _zone(self.time_zone)


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class _BadBody(Exception):
    """A 2xx answer whose body was cut short or is not valid JSON (internal)."""


def _bool_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """DHIS2 wants `true`/`false`; Python would send `True`/`False`."""
    result: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        result[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return result


class DHIS2Client:
    """A client for one DHIS2 instance (`name` is how errors and logs refer to it).

    Use as a context manager or call `close()`; the session pools connections.
    """

    def __init__(
        self,
        base_url: str,
        auth: AuthBase | None = None,
        name: str = "dhis2",
        connect_timeout: float = 10,
        read_timeout: float = 120,
        verify_tls: bool = True,
        max_retries: int = 5,
        backoff_factor: float = 0.5,
        poll_interval: float = 0.5,
        task_timeout: float = 3600,
        backoff_jitter: float | None = None,
        body_retries: int = 2,
    ) -> None:
        self.name = name
        self.base_url = self._normalise_base_url(base_url, name)
        self.auth = auth
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.poll_interval = poll_interval
        self.task_timeout = task_timeout
        self.body_retries = body_retries
        self._session = build_session(
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            backoff_jitter=backoff_jitter,
            verify_tls=verify_tls,
        )
        self._session.auth = auth

    @staticmethod
    def _normalise_base_url(base_url: str, name: str) -> str:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"instance {name}: base URL must look like https://host[/context], got {base_url!r}"
                             if "@" not in base_url else f"instance {name}: invalid base URL")
        if parts.username or parts.password:
            raise ValueError(
                f"instance {name}: put credentials in the auth settings, not in the base URL "
                f"({parts.scheme}://…@{parts.hostname})"
            )
        path = parts.path.rstrip("/")
        if path.endswith("/api"):
            path = path[: -len("/api")]
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    def __repr__(self) -> str:
        return f"DHIS2Client(name={self.name!r}, base_url={self.base_url!r}, auth={self.auth!r})"

    def __enter__(self) -> DHIS2Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # ----------------------------------------------------------------------------------------
    # transport

    def url(self, path: str) -> str:
        """Absolute URL of an API path: "dataElements" → "<base>/api/dataElements"."""
        if path.startswith(("http://", "https://")):
            # Credentials go with every request: never to another server.
            if not path.startswith(self.base_url + "/"):
                raise ValueError(f"instance {self.name}: {path!r} is not under {self.base_url}")
            return path
        path = path.lstrip("/")
        if path.startswith("api/"):
            path = path[len("api/") :]
        return f"{self.base_url}/api/{path}"

    def _where(self) -> str:
        """How every error message starts: "source (https://dhis2.example.org)"."""
        return f"{self.name} ({self.base_url})"

    def _scrub(self, text: str) -> str:
        """Text kept from a server, without any form of the credentials this client sends."""
        return scrub(text, self.auth)

    def _error(self, cls: type[DHIS2Error], message: str, **fields: Any) -> Any:
        """Every error about a server's answer is built here, and scrubbed as a whole: bodies
        (already scrubbed before they were cut to an excerpt), Location headers, echoed URLs."""
        if isinstance(fields.get("dhis2_message"), str):
            fields["dhis2_message"] = self._scrub(fields["dhis2_message"])
        return cls(self._scrub(message), instance=self.name, url=self.base_url, **fields)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        report_statuses: frozenset[int] = frozenset(),
        stream: bool = False,
    ) -> requests.Response:
        """One request (urllib3 retries underneath); returns a 2xx (or report) response."""
        url = self.url(path)
        api_path = urlsplit(url).path
        started = time.perf_counter()
        try:
            response = self._session.request(
                method,
                url,
                params=_bool_params(params),
                data=data,
                headers=dict(headers or {}),
                timeout=self.timeout,
                # Per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override a session's
                # verify=False (psf/requests#3829), which would silently ignore verify_tls: false.
                verify=self._session.verify,
                allow_redirects=False,
                stream=stream,
            )
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            logger.debug("%s %s -> truncated body after %.0f ms", method, api_path, _ms(started))
            raise _BadBody(f"the body was cut short ({type(exc).__name__})") from None
        except requests.exceptions.RequestException as exc:
            logger.debug("%s %s -> %s after %.0f ms", method, api_path, scrub(_reason(exc), self.auth), _ms(started))
            problem = transport_problem(exc, url, *self.timeout)
            tries = attempts(exc) or 1
            where = f"{method} {api_path}" + (f", {tries} attempts" if tries > 1 else "")
            raise self._error(
                DHIS2TLSError if problem.tls else DHIS2ConnectionError,
                f"{self._where()}: {problem.what} ({where}). {problem.fix}",
            ) from None
        logger.debug("%s %s -> %s in %.0f ms", method, api_path, response.status_code, _ms(started))
        retries = getattr(response.raw, "retries", None)
        if retries is not None and retries.history:
            logger.warning(
                "%s %s on instance %s: HTTP %s after %d retries (%s)",
                method, api_path, self.name, response.status_code, len(retries.history),
                ", ".join(str(h.status or type(h.error).__name__) for h in retries.history),
            )
        self._check(method, api_path, response, report_statuses)
        return response

    def _check(self, method: str, api_path: str, response: requests.Response, report_statuses: frozenset[int]) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        body = _json_or_none(response)
        if status in REDIRECT_STATUSES:
            location = response.headers.get("Location", "")
            if "login" in location.lower() or self.auth is None:
                raise self._auth_error(f"the server redirected {method} {api_path} to its login page ({location})")
            raise self._error(
                DHIS2HTTPError,
                f"{self._where()}: {method} {api_path} was redirected (HTTP {status}) to {location}. "
                "Set the instance's base_url to the address the server redirects to.",
                status_code=status,
            )
        if status in report_statuses and is_import_report(body):
            return  # a WARNING/ERROR import report: a result to read, not an error
        said = body_excerpt(body, "" if body is not None else response.text, response.headers.get("Content-Type", ""),
                            clean=self._scrub)
        error_code = body.get("errorCode") if isinstance(body, dict) else None
        tries = _attempts(response)
        phrase = response.reason or _phrase(status)
        answered = f"{method} {api_path} answered {status} {phrase}".rstrip()
        answered += f" after {tries} attempts" if tries > 1 else ""
        answered += f": {said}" if said and said.lower() != phrase.lower() else ""
        answered += f" [{error_code}]" if error_code else ""
        if status == 401:
            raise self._auth_error(answered)
        if (status == 400 and isinstance(self.auth, ApiTokenAuth)
                and any(word in said.lower() for word in ("token", "checksum"))):
            # DHIS2 2.41+ (ApiTokenResolver) answers 400 to a token of the wrong form or checksum.
            raise self._auth_error(f"{answered} (the token is malformed: copy the whole d2p_… token again)")
        raise self._error(
            DHIS2HTTPError,
            f"{self._where()}: {answered}. {self._hint(status, api_path, body, response)}".rstrip(),
            status_code=status,
            error_code=error_code,
            dhis2_message=said or None,
        )

    def _hint(self, status: int, api_path: str, body: Any, response: requests.Response) -> str:
        """What to do about an HTTP error, when something can be said."""
        if status == 404 and (api_path.endswith("/system/info") or not is_web_message(body)):
            root = urlunsplit(urlsplit(self.base_url)[:2] + ("/dhis", "", ""))
            return (f"Is base_url right? DHIS2 may be served under a context path such as {root} "
                    "(base_url is the address DHIS2 opens at in a browser, without /api).")
        if status == 403:
            return ("The user lacks the authority or sharing access for this: give it a role with "
                    "that authority (a superuser role is simplest).")
        if status == 414:
            return (f"The request URL ({len(response.request.url or '')} characters) is longer than the "
                    "server or a proxy in front of it accepts: raise the proxy's limit (nginx: "
                    "large_client_header_buffers) or use smaller page sizes.")
        if status == 429:
            return "The server is rate limiting this client; try again later or lower the sync's frequency."
        if status in (502, 503, 504):
            return "The server (or the proxy in front of it) is overloaded or restarting; try again later."
        if status >= 500:
            return "DHIS2 failed on this request; the server's log has the details."
        return ""

    def _auth_error(self, what: str) -> DHIS2AuthenticationError:
        if self.auth is None:
            fix = "No credentials are configured: set a username and password or an API token."
        elif isinstance(self.auth, ApiTokenAuth):
            fix = (
                "Check the personal access token configured for this instance (its environment "
                "variable): has it expired or been revoked, or is it restricted to other IP "
                "addresses, HTTP methods or referrers?"
            )
        else:
            fix = (
                f"Check the password of {describe_auth(self.auth)} configured for this instance "
                "(its environment variable), and that the account is enabled and not locked."
            )
        return self._error(DHIS2AuthenticationError, f"{self._where()}: authentication failed: {what}. {fix}")

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[requests.Response, Any]:
        """GET and decode; a truncated or malformed body is fetched again a few times.

        urllib3 retries what goes wrong before the status line; a body cut short afterwards is
        only noticed here, so this small bounded loop covers that case (GET only).
        """
        for attempt in range(self.body_retries + 1):
            try:
                response = self._send("GET", path, params=params)
                return response, _decode(response)
            except _BadBody as exc:
                problem = str(exc)
                if attempt < self.body_retries:
                    logger.warning("GET %s on instance %s: %s; fetching again", path, self.name, problem)
                    time.sleep(self.backoff_factor * (2**attempt))
        raise self._error(
            DHIS2ResponseError,
            f"{self._where()}: GET {urlsplit(self.url(path)).path} sent a malformed answer "
            f"{_times(self.body_retries + 1)} ({problem}). A proxy or the server may be cutting "
            "responses short; check its logs or use a smaller page size.",
        )

    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._get(path, params)[1]

    # ----------------------------------------------------------------------------------------
    # reading

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a path relative to /api; JSON decoded, text as text, an empty body as None."""
        return self._get_json(path, params)

    def me(self) -> dict[str, Any]:
        return self.get("me")

    def system_info(self) -> SystemInfo:
        """Version and clock of the server (use `server_date` for watermarks, not local time)."""
        response, raw = self._get("system/info")
        if not isinstance(raw, dict):
            said = body_excerpt(None, raw if isinstance(raw, str) else "", response.headers.get("Content-Type", ""),
                                clean=self._scrub)
            raise self._error(
                DHIS2ResponseError,
                f"{self._where()}: GET /api/system/info answered {response.status_code} with "
                f"{response.headers.get('Content-Type') or 'no content type'}, not DHIS2's JSON"
                f"{': ' + said if said else ''}. Is base_url the DHIS2 server (with its context "
                "path, e.g. https://host/dhis)?",
            )
        version = DHIS2Version.parse(raw.get("version"))
        if not is_supported(version):
            raise self._error(
                DHIS2UnsupportedVersionError,
                f"{self._where()} runs DHIS2 {version}; dhis-sync supports "
                f"{MIN_SUPPORTED.major}.{MIN_SUPPORTED.minor} and later. Upgrade the server, or "
                "leave it out of the sync configuration.",
            )
        time_zone = raw.get("serverTimeZoneId")
        zone = _zone(time_zone)
        if raw.get("serverDate"):
            server_date = parse_datetime(str(raw["serverDate"]), zone)
        elif response.headers.get("Date"):
            # Non-superusers get less detail; the HTTP Date header is the same clock in GMT.
            server_date = parsedate_to_datetime(response.headers["Date"]).astimezone(zone or timezone.utc)
            server_date = server_date.replace(tzinfo=None)
        else:
            raise DHIS2ResponseError(
                f"{self._where()}: /api/system/info has no serverDate; the user may need more authorities",
                instance=self.name, url=self.base_url,
            )
        return SystemInfo(
            version=version,
            server_date=server_date,
            time_zone=time_zone,
            system_id=raw.get("systemId"),
            system_name=raw.get("systemName"),
            raw=raw,
        )

    def iter_pages(
        self,
        collection: str,
        fields: str | None = ":owner",
        filters: Iterable[str] = (),
        page_size: int = 50,
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield a list of objects per page of `GET /api/<collection>`, following the pager."""
        key = collection.rstrip("/").rsplit("/", 1)[-1]
        query: dict[str, Any] = {**(params or {}), "paging": "true", "pageSize": page_size}
        if fields:
            query["fields"] = fields
        filters = list(filters)
        if filters:
            query["filter"] = filters
        page = 1
        while True:
            body = self._get_json(collection, {**query, "page": page})
            if not isinstance(body, dict):
                raise DHIS2ResponseError(
                    f"{self._where()}: GET /api/{collection} did not answer with a JSON object",
                    instance=self.name, url=self.base_url,
                )
            items = body.get(key)
            if items is None:  # the list is not always named after the path's last segment
                items = next((v for k, v in body.items() if k != "pager" and isinstance(v, list)), [])
            if items:
                yield items
            pager = body.get("pager") or {}
            page_count = int(pager.get("pageCount") or 0)
            if not items or not pager or page >= page_count:
                return
            page += 1

    def count(self, collection: str, filters: Iterable[str] = ()) -> int:
        """Number of objects matching the filters (one cheap request: pageSize=1, fields=id)."""
        query: dict[str, Any] = {"paging": "true", "pageSize": 1, "page": 1, "fields": "id"}
        filters = list(filters)
        if filters:
            query["filter"] = filters
        body = self._get_json(collection, query)
        pager = body.get("pager") if isinstance(body, dict) else None
        if not isinstance(pager, dict) or "total" not in pager:
            raise DHIS2ResponseError(
                f"{self._where()}: GET /api/{collection} answered without pager.total",
                instance=self.name, url=self.base_url,
            )
        return int(pager["total"])

    def export_metadata(
        self, filters: Mapping[str, Sequence[str]], fields: str = ":owner"
    ) -> dict[str, list[dict[str, Any]]]:
        """Several types in one `GET /api/metadata` (`<type>=true&<type>:fields=…&<type>:filter=…`):
        `filters` maps each wanted type to its own filters (e.g. its `lastUpdated:ge:` watermark).
        Every wanted type is in the answer, an empty list when nothing matched."""
        query: dict[str, Any] = {}
        for collection, type_filters in filters.items():
            query[collection] = "true"
            query[f"{collection}:fields"] = fields
            if type_filters:
                query[f"{collection}:filter"] = list(type_filters)
        if not query:
            return {}
        body = self._get_json("metadata", query)
        if not isinstance(body, dict):
            raise DHIS2ResponseError(
                f"{self._where()}: GET /api/metadata did not answer with a JSON object",
                instance=self.name, url=self.base_url,
            )
        return {collection: list(body.get(collection) or []) for collection in filters}

    def get_by_ids(
        self,
        collection: str,
        ids: Iterable[str],
        fields: str | None = ":owner",
        chunk_size: int = 300,
    ) -> Iterator[list[dict[str, Any]]]:
        """Fetch objects by UID, `chunk_size` ids per `id:in` filter (long URLs fail with 414)."""
        unique = list(dict.fromkeys(ids))
        for chunk in chunked(unique, chunk_size):
            yield from self.iter_pages(collection, fields=fields, filters=[in_filter("id", chunk)], page_size=chunk_size)

    def iter_deleted_objects(
        self,
        klass: str | Sequence[str],
        deleted_at: datetime | None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Deleted objects (uid, klass, code, deletedAt, …) of a class, deleted at/after `deleted_at`.

        `klass` is DHIS2's class name, e.g. "DataElement" (a list asks for several).
        """
        params: dict[str, Any] = {"klass": [klass] if isinstance(klass, str) else list(klass)}
        if deleted_at is not None:
            params["deletedAt"] = format_datetime(deleted_at)
        for page in self.iter_pages("deletedObjects", fields=None, page_size=page_size, params=params):
            yield from page

    def stream_data_values(self, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The rows of one `GET /api/dataValueSets` export, parsed as they arrive.

        DHIS2 streams this answer row by row, so a 200 can end in truncated JSON: the rows read
        so far are yielded, then `DHIS2TruncatedBodyError` says the answer was cut short (the
        caller decides how to read it again). Memory stays flat whatever the answer holds.
        """
        response = self._send("GET", "dataValueSets", params=params, stream=True)
        response.raw.decode_content = True  # gzip from the server or a proxy
        pinned = _pinned_fields(params)
        try:
            for row in ijson.items(response.raw, "dataValues.item", use_float=True):
                if "followUp" in row:  # 2.43 (DataExportValue) spells it followUp
                    row["followup"] = row.pop("followUp")
                for name, value in pinned:
                    row.setdefault(name, value)
                yield row
        except (ijson.JSONError, requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise DHIS2TruncatedBodyError(
                f"{self._where()} cut short its answer to GET /api/dataValueSets "
                f"({type(exc).__name__}: {str(exc)[:80]}); a proxy or the server may be timing out",
                instance=self.name,
                url=self.base_url,
            ) from None
        finally:
            response.close()

    # ----------------------------------------------------------------------------------------
    # writing

    def post_import(
        self,
        path: str,
        payload: Mapping[str, Any] | Sequence[Any] | bytes | str,
        *,
        content_type: str = "application/json",
        params: Mapping[str, Any] | None = None,
    ) -> ImportResult:
        """POST an import and return its result, polling async jobs to their end.

        A 409 (or 400) carrying an import report is a result to read, not an exception.
        """
        if isinstance(payload, (bytes, bytearray)):
            data = bytes(payload)
        elif isinstance(payload, str):
            data = payload.encode("utf-8")
        else:
            data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
            content_type = "application/json"
        try:
            response = self._send(
                "POST", path, params=params, data=data,
                headers={"Content-Type": content_type}, report_statuses=REPORT_STATUSES,
            )
            body = _decode(response)
        except _BadBody as exc:
            # Not posted again: the import may be running; a later sync run repeats it safely.
            raise DHIS2ResponseError(
                f"{self._where()} sent a malformed answer to POST {urlsplit(self.url(path)).path}: "
                f"{exc}. The import may or may not have run; running the sync again is safe.",
                instance=self.name, url=self.base_url,
            ) from None
        job = Job.from_response(body)
        if job is None:
            return parse_import_response(body, response.status_code)
        logger.info("instance %s: %s job %s started; polling", self.name, job.job_type, job.job_id)
        return wait_for_job(
            self._fetch_task,
            job,
            poll_interval=self.poll_interval,
            timeout=self.task_timeout,
            instance=self.name,
            base_url=self.base_url,
        )

    def _fetch_task(self, path: str) -> Any:
        body = self._get_json(path)
        return None if body in ("", {}, []) else body

    def post_metadata(self, payload: Mapping[str, Any], **params: Any) -> ImportResult:
        """`POST /api/metadata`; async (polled to the end) unless `async=False`/`async_=False`.

        Other keyword arguments are DHIS2 import parameters (importStrategy, atomicMode, …).
        """
        return self.post_import("metadata", payload, params=_async_params(params))

    def post_data_values(
        self,
        payload: Mapping[str, Any] | bytes,
        content_type: str = "application/json",
        **params: Any,
    ) -> ImportResult:
        """`POST /api/dataValueSets`: a dict is sent as JSON, bytes as they are with `content_type`.

        Async (polled to the end) unless `async=False`/`async_=False`.
        """
        return self.post_import("dataValueSets", payload, content_type=content_type, params=_async_params(params))


def _pinned_fields(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Row fields 2.43 moves to the header when the request pins them to one id (DataExportOutput)."""
    pinned = []
    for name, is_pinned in (
        ("orgUnit", str(params.get("children", "false")).lower() != "true"),
        ("period", True),
        ("attributeOptionCombo", True),
    ):
        value = params.get(name)
        values = value if isinstance(value, (list, tuple)) else [value] if value else []
        if is_pinned and len(values) == 1 and "," not in str(values[0]):
            pinned.append((name, str(values[0])))
    return pinned


def _async_params(params: dict[str, Any]) -> dict[str, Any]:
    params = dict(params)
    if "async_" in params:
        params["async"] = params.pop("async_")
    params.setdefault("async", True)
    return params


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


def _decode(response: requests.Response) -> Any:
    """JSON for JSON answers, text for text (e.g. /system/ping), None for an empty body."""
    content = response.content
    if not content or not content.strip():
        return None
    content_type = response.headers.get("Content-Type", "")
    if "json" in content_type or content.lstrip()[:1] in (b"{", b"["):
        try:
            return response.json()
        except ValueError as exc:
            raise _BadBody(f"invalid JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    return response.text


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, short, for debug logs."""
    reason: BaseException = exc
    for _ in range(5):
        inner = getattr(reason, "reason", None)  # ssl.SSLError.reason is a str: not followed
        if not isinstance(inner, BaseException) and reason.args and isinstance(reason.args[0], BaseException):
            inner = reason.args[0]
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    return f"{type(reason).__name__}: {reason}"[:200]


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _attempts(response: requests.Response) -> int:
    """How many times urllib3 sent the request that got this response."""
    retries = getattr(response.raw, "retries", None)
    return len(retries.history) + 1 if retries is not None else 1


__all__ = ["DHIS2Client", "SystemInfo"]
