"""Reading and writing tracker data through `/api/tracker` (DHIS2 2.36+), on any version.

Reading (`iter_tracker`): page numbers only; `totalPages` stays off (DHIS2 counts the whole
selection for it). 2.42+ send `pager.nextPage` while there is a next page; 2.38–2.41 never send
links (PagingWrapper, deprecated Page#withPager), so there a full page means "ask for the next".
The org unit parameters are spelled per version: `orgUnit` (`;`-separated) + `ouMode` before
2.41, `orgUnits` + `orgUnitMode` from 2.41 (2.42 silently ignores `ouMode`: sending it would read
the whole server); events take one `orgUnit` in every version.

Writing (`post_tracker`): `POST /api/tracker` with `async=true` (DHIS2's default) answers a job;
`/api/tracker/jobs/{uid}` is polled until a notification is `completed`, then `/report` is read
(404 until it exists). The report is read to the object: with `atomicMode=OBJECT` an OK report
still lists rejections in `validationReport.errorReports`; each becomes an ObjectError with the
tracker type, uid and code. The transport (retries, auth, errors that name the server) is the
DHIS2Client's.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dhis_sync_pipeline.dhis2.client import REPORT_STATUSES, DHIS2Client, _decode
from dhis_sync_pipeline.dhis2.errors import DHIS2HTTPError, DHIS2ImportTimeout, DHIS2ResponseError
from dhis_sync_pipeline.dhis2.import_result import ObjectError
from dhis_sync_pipeline.dhis2.version import DHIS2Version

logger = logging.getLogger(__name__)

KINDS = ("trackedEntities", "enrollments", "events", "relationships")
TRACKER_TYPES = {"TRACKED_ENTITY": "trackedEntities", "ENROLLMENT": "enrollments", "EVENT": "events",
                 "RELATIONSHIP": "relationships"}
NEW_PARAMS = DHIS2Version.parse("2.41")
PAGE_LINKS = DHIS2Version.parse("2.42")


@dataclass
class TrackerReport:
    """An ImportReport read to the object."""

    status: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    errors: list[ObjectError] = field(default_factory=list)
    raw: Any = None

    def rejected(self, kind: str) -> set[str]:
        return {e.uid for e in self.errors if e.object_type == kind and e.uid}


def org_unit_params(version: DHIS2Version, kind: str, roots: list[str], mode: str) -> dict[str, str]:
    """The org unit selection in the spelling the version reads (see the module docstring)."""
    mode_key = "orgUnitMode" if version >= NEW_PARAMS else "ouMode"
    if kind == "events":
        if len(roots) != 1:
            raise ValueError("events are read for one org unit root at a time")
        return {"orgUnit": roots[0], mode_key: mode}
    if version >= NEW_PARAMS:
        return {"orgUnits": ",".join(roots), mode_key: mode}
    return {"orgUnit": ";".join(roots), mode_key: mode}


def iter_tracker(client: DHIS2Client, version: DHIS2Version, kind: str, params: Mapping[str, Any],
                 page_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """Pages of one tracker export, in order, until the last one."""
    page = 1
    while True:
        body = client.get(f"tracker/{kind}", {**params, "page": page, "pageSize": page_size})
        if not isinstance(body, dict):
            raise DHIS2ResponseError(f"{client.name}: GET /api/tracker/{kind} did not answer JSON",
                                     instance=client.name, url=client.base_url)
        items = body.get(kind, body.get("instances"))
        if not isinstance(items, list):
            raise DHIS2ResponseError(
                f"{client.name}: GET /api/tracker/{kind} answered neither `{kind}` nor `instances`",
                instance=client.name, url=client.base_url)
        if items:
            yield items
        pager = body.get("pager") if isinstance(body.get("pager"), dict) else body
        if version >= PAGE_LINKS:
            if not pager.get("nextPage"):
                return
        elif len(items) < page_size:
            return
        page += 1


def post_tracker(client: DHIS2Client, payload: Mapping[str, Any], *, import_strategy: str = "CREATE_AND_UPDATE",
                 atomic_mode: str = "OBJECT", dry_run: bool = False) -> TrackerReport:
    """One tracker import, polled to its report."""
    params = {"importStrategy": import_strategy, "atomicMode": atomic_mode, "async": "true"}
    if dry_run:
        params["importMode"] = "VALIDATE"
    data = json.dumps(payload, separators=(",", ":")).encode()
    response = client._send("POST", "tracker", params=params, data=data,  # noqa: SLF001 - shared transport
                            headers={"Content-Type": "application/json"}, report_statuses=REPORT_STATUSES)
    body = _decode(response)
    inner = body.get("response") if isinstance(body, dict) else None
    if isinstance(inner, dict) and inner.get("responseType") == "TrackerJob":
        return parse_report(_wait(client, str(inner["id"])))
    return parse_report(body)


def _wait(client: DHIS2Client, job_id: str) -> Any:
    deadline = time.monotonic() + client.task_timeout
    delay = 0.02
    while True:
        notifications = client.get(f"tracker/jobs/{job_id}") or []
        if isinstance(notifications, dict):
            notifications = [notifications]
        if any(isinstance(n, dict) and n.get("completed") for n in notifications):
            break
        if time.monotonic() > deadline:
            raise DHIS2ImportTimeout(
                f"tracker import job {job_id} on {client.name} ({client.base_url}) did not complete in "
                f"{client.task_timeout:g} s (task_timeout); check {client.base_url}/api/tracker/jobs/{job_id}",
                job_type="TRACKER_IMPORT_JOB", job_id=job_id, instance=client.name, url=client.base_url)
        time.sleep(delay)
        delay = min(delay * 2, client.poll_interval)
    failed = [n for n in notifications if str(n.get("level", "")).upper() == "ERROR"]
    for attempt in range(20):
        try:
            return client.get(f"tracker/jobs/{job_id}/report")
        except DHIS2HTTPError as exc:
            if exc.status_code != 404:
                raise
            if failed and attempt >= 2:
                return {"status": "ERROR", "message": str(failed[0].get("message") or "job failed")}
        time.sleep(min(0.05 * (attempt + 1), client.poll_interval))
    raise DHIS2ResponseError(f"{client.name}: tracker job {job_id} completed but its report never appeared",
                             instance=client.name, url=client.base_url)


def parse_report(body: Any) -> TrackerReport:
    if not isinstance(body, dict):
        raise DHIS2ResponseError(f"tracker import answered no report: {body!r:.200}")
    report = body.get("response") if isinstance(body.get("response"), dict) and "status" in body["response"] else body
    stats = report.get("stats") or {}
    errors = [
        ObjectError(uid=e.get("uid"), object_type=TRACKER_TYPES.get(e.get("trackerType"), e.get("trackerType")),
                    error_code=e.get("errorCode"), property=None, message=str(e.get("message") or ""))
        for e in (report.get("validationReport") or {}).get("errorReports") or []
    ]
    status = str(report.get("status") or "ERROR")
    if status == "ERROR" and not errors:
        errors.append(ObjectError(uid=None, object_type=None, error_code=None, property=None,
                                  message=str(report.get("message") or "tracker import failed")))
    return TrackerReport(status=status, created=int(stats.get("created", 0)), updated=int(stats.get("updated", 0)),
                         deleted=int(stats.get("deleted", 0)), ignored=int(stats.get("ignored", 0)),
                         errors=errors, raw=report)
