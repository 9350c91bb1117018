"""Version-dependent response shapes and status codes (see DHIS2_API.md).

- ImportReport: plain with HTTP 200 up to 2.37; from 2.38 wrapped in a WebMessage, 409 with
  wrapper status WARNING when the report is WARNING or ERROR.
- ImportSummary: plain with HTTP 200 and conflicts reduced to {object, value} in 2.36; wrapped
  from 2.38, ERROR → 409, WARNING → 409 in 2.38–2.42 and 200 from 2.43.
"""

from __future__ import annotations

import copy
from http import HTTPStatus
from typing import Any

REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 409: "Conflict", 414: "URI Too Long", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def reason(status: int) -> str:
    """Spring's HttpStatus reason phrase, which DHIS2 puts in `httpStatus`."""
    if status in REASONS:
        return REASONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def web_message(status: int, message: str | None = None, error_code: str | None = None,
                wm_status: str | None = None, response: dict | None = None) -> dict:
    body: dict[str, Any] = {"httpStatus": reason(status), "httpStatusCode": status,
                            "status": wm_status or ("OK" if status < 400 else "ERROR")}
    if message is not None:
        body["message"] = message
    if error_code is not None:
        body["errorCode"] = error_code
    if response is not None:
        body["response"] = response
    return body


def wrapped(version: tuple[int, int]) -> bool:
    return version >= (2, 38)


def import_report_response(report: dict, version: tuple[int, int]) -> tuple[int, dict]:
    if not wrapped(version):
        return 200, report
    if report["status"] == "OK":
        return 200, web_message(200, None, wm_status="OK",
                                response={"responseType": "ImportReport", **report})
    return 409, web_message(409, "One or more errors occurred, please see full details in "
                                 "import report.", wm_status="WARNING",
                            response={"responseType": "ImportReport", **report})


def legacy_summary(summary: dict) -> dict:
    """2.36's ImportSummary: conflicts are only {object, value}; no rejectedIndexes."""
    out = copy.deepcopy(summary)
    out["conflicts"] = [{"object": c["object"], "value": c["value"]} for c in out["conflicts"]]
    out.pop("rejectedIndexes", None)
    return out


def import_summary_response(summary: dict, version: tuple[int, int]) -> tuple[int, dict]:
    if not wrapped(version):
        return 200, legacy_summary(summary)
    status = summary["status"]
    if status == "ERROR":
        return 409, web_message(409, "An error occurred, please check import summary.",
                                wm_status="ERROR", response=summary)
    if status == "WARNING":
        code = 200 if version >= (2, 43) else 409
        return code, web_message(code, "One more conflicts encountered, please check import "
                                       "summary.", wm_status="WARNING", response=summary)
    return 200, web_message(200, "Import was successful.", wm_status="OK", response=summary)


def raw_summary(summary: dict, version: tuple[int, int]) -> dict:
    """What taskSummaries returns for a data value job (never wrapped)."""
    return summary if wrapped(version) else legacy_summary(summary)
