"""One parser for every import answer DHIS2 gives, across versions.

Shapes handled (see ../shared/DHIS2_API.md):
- metadata ImportReport, plain (≤2.37 and from `taskSummaries`) or wrapped in a WebMessage (≥2.38,
  HTTP 409 for WARNING/ERROR — a report to read, not a transport failure);
- data value ImportSummary, plain (2.36: conflicts only `{object, value}`) or wrapped (≥2.38;
  WARNING is 409 in 2.38–2.42 and 200 from 2.43);
- an ObjectReport (201 for one created object), ErrorReports, legacy ImportSummaries (events),
  the tracker ImportReport (`validationReport`);
- a bare WebMessage without a report (e.g. ERROR "No content to map due to end-of-input");
- an empty or absent body.

Whatever the shape, the result says plainly whether the import succeeded: `ok` is only true for
status OK/SUCCESS with no rejected objects, so a WARNING never passes for success.
"""

from __future__ import annotations

import dataclasses

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SUCCESS_STATUSES = frozenset({"OK", "SUCCESS"})
_STATUS_RANK = {"OK": 0, "SUCCESS": 0, "WARNING": 1, "PENDING": 2, "ERROR": 3}


@dataclass(frozen=True)
class ObjectError:
    """One object (or data value) DHIS2 rejected, with DHIS2's own error code.

    For metadata: `uid` of the object, `object_type` its short class name ("DataElement"),
    `property` the offending property, `indexes` its position in the posted list.
    For data values: `uid` the conflict's `object`, `indexes` the rejected rows of the payload and
    `value_key` the conflict's `objects` map (e.g. `{"dataElement": "…"}`) when DHIS2 sends one.
    """

    uid: str | None
    object_type: str | None
    error_code: str | None
    property: str | None
    message: str
    indexes: tuple[int, ...] = ()
    value_key: dict[str, str] | None = field(default=None, hash=False)  # dicts are unhashable

    def __str__(self) -> str:
        where = " ".join(part for part in (self.object_type, self.uid) if part)
        code = f"{self.error_code} " if self.error_code else ""
        prop = f" [{self.property}]" if self.property else ""
        return f"{code}{where}{prop}: {self.message}".strip()


@dataclass(frozen=True)
class ImportResult:
    """The outcome of one import, whatever shape DHIS2 answered with."""

    status: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    total: int = 0
    errors: list[ObjectError] = field(default_factory=list)
    message: str | None = None
    raw: Any = None
    #: Data-value imports from 2.39.2 / 2.40.1: the payload rows DHIS2 rejected (None: not told).
    rejected_indexes: tuple[int, ...] | None = None
    #: Metadata imports: the counts of each typeReport, by short class name ("DataElement"), so a
    #: payload of several types can be told apart type by type (typeReports come in no order).
    type_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Status OK/SUCCESS and nothing rejected."""
        return self.status in SUCCESS_STATUSES and not self.errors

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or self.status == "ERROR"

    def rejections(self, object_type: str) -> list[ObjectError]:
        """What DHIS2 rejected; a failed import that names no object still counts as one error,
        or a malformed payload would pass for success."""
        if self.errors or not self.has_errors:
            return list(self.errors)
        message = self.message or f"import failed with status {self.status}"
        return [ObjectError(None, object_type, None, None, message)]

    def summary(self) -> str:
        text = (
            f"{self.status}: created {self.created}, updated {self.updated}, "
            f"deleted {self.deleted}, ignored {self.ignored}"
        )
        if self.errors:
            text += f", {len(self.errors)} error(s)"
        return text

    @classmethod
    def combine(cls, results: Iterable[ImportResult]) -> ImportResult:
        """Add up several imports (e.g. one per page); the worst status wins."""
        results = list(results)
        if not results:
            return cls(status="OK", message="nothing imported")
        status = max((result.status for result in results), key=lambda s: _STATUS_RANK.get(s, 3))
        return cls(
            status=status,
            created=sum(result.created for result in results),
            updated=sum(result.updated for result in results),
            deleted=sum(result.deleted for result in results),
            ignored=sum(result.ignored for result in results),
            total=sum(result.total for result in results),
            errors=[error for result in results for error in result.errors],
            message="; ".join(dict.fromkeys(r.message for r in results if r.message)) or None,
            raw=[result.raw for result in results],
            type_counts=_add_type_counts(result.type_counts for result in results),
        )


# --------------------------------------------------------------------------------------------
# parsing


def short_type(klass: str | None) -> str | None:
    """`org.hisp.dhis.dataelement.DataElement` → `DataElement`."""
    if not klass:
        return None
    return klass.rsplit(".", 1)[-1]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _status(value: Any) -> str | None:
    return str(value).upper() if value else None


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return list(value.values())
    return []


def is_job_response(body: Any) -> bool:
    """True for the answer to `async=true`: a WebMessage around a JobConfiguration."""
    if not isinstance(body, Mapping):
        return False
    response = body.get("response")
    if not isinstance(response, Mapping):
        return False
    if str(response.get("responseType", "")).startswith("JobConfiguration"):
        return True
    return "jobType" in response and (
        "relativeNotifierEndpoint" in response or "id" in response or "uid" in response
    )


def is_import_report(body: Any) -> bool:
    """True if `body` (plain or wrapped) carries an import report or summary to read."""
    if not isinstance(body, Mapping):
        return False
    inner = body.get("response")
    report = inner if isinstance(inner, Mapping) else body
    return any(
        key in report
        for key in (
            "typeReports",
            "stats",
            "importCount",
            "conflicts",
            "errorReports",
            "importSummaries",
            "validationReport",
        )
    ) or str(report.get("responseType", "")).startswith(
        ("ImportReport", "ImportSummar", "ObjectReport", "ErrorReport")
    )


def _metadata_errors(report: Mapping[str, Any]) -> list[ObjectError]:
    errors: list[ObjectError] = []
    for type_report in _list(report.get("typeReports")):
        if not isinstance(type_report, Mapping):
            continue
        for object_report in _list(type_report.get("objectReports")):
            if isinstance(object_report, Mapping):
                errors.extend(_object_report_errors(object_report, type_report.get("klass")))
    # Validation failures and some 2.38+ answers list errorReports at the top of the report.
    errors.extend(_object_report_errors(report, None) if "errorReports" in report else [])
    return errors


def _object_report_errors(object_report: Mapping[str, Any], type_klass: str | None) -> list[ObjectError]:
    index = object_report.get("index")
    indexes = (index,) if isinstance(index, int) else ()
    errors = []
    for error in _list(object_report.get("errorReports")):
        if not isinstance(error, Mapping):
            continue
        klass = object_report.get("klass") or type_klass or error.get("mainKlass")
        errors.append(
            ObjectError(
                uid=error.get("mainId") or object_report.get("uid"),
                object_type=short_type(klass),
                error_code=error.get("errorCode"),
                property=error.get("errorProperty"),
                message=str(error.get("message") or ""),
                indexes=indexes,
            )
        )
    return errors


def _conflict_errors(conflicts: Any, reference: str | None = None) -> list[ObjectError]:
    errors = []
    for conflict in _list(conflicts):
        if not isinstance(conflict, Mapping):
            continue
        objects = conflict.get("objects")
        value_key = dict(objects) if isinstance(objects, Mapping) and objects else None
        prop = conflict.get("property")
        object_type = next(iter(value_key)) if value_key else prop
        indexes = tuple(i for i in _list(conflict.get("indexes")) if isinstance(i, int))
        errors.append(
            ObjectError(
                uid=conflict.get("object") or reference,
                object_type=object_type,
                error_code=conflict.get("errorCode"),
                property=prop,
                message=str(conflict.get("value") or conflict.get("message") or ""),
                indexes=indexes,
                value_key=value_key,
            )
        )
    return errors


def _from_import_report(report: Mapping[str, Any], status: str | None, message: str | None, raw: Any) -> ImportResult:
    stats = report.get("stats") or {}
    errors = _metadata_errors(report)
    return dataclasses.replace(_result(status, stats, errors, message, raw), type_counts=_type_counts(report))


def _type_counts(report: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for type_report in _list(report.get("typeReports")):
        if isinstance(type_report, Mapping) and type_report.get("klass"):
            stats = type_report.get("stats") or {}
            counts[short_type(type_report["klass"])] = {k: _int(stats.get(k)) for k in COUNT_NAMES}
    return counts


COUNT_NAMES = ("created", "updated", "deleted", "ignored")


def _add_type_counts(many: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for counts in many:
        for klass, stats in counts.items():
            into = total.setdefault(klass, dict.fromkeys(COUNT_NAMES, 0))
            for name in COUNT_NAMES:
                into[name] += stats.get(name, 0)
    return total


def _from_import_summary(summary: Mapping[str, Any], status: str | None, message: str | None, raw: Any) -> ImportResult:
    count = summary.get("importCount") or {}
    stats = {
        "created": count.get("imported"),
        "updated": count.get("updated"),
        "deleted": count.get("deleted"),
        "ignored": count.get("ignored"),
    }
    errors = _conflict_errors(summary.get("conflicts"), summary.get("reference"))
    message = summary.get("description") or message
    result = _result(status, stats, errors, message, raw)
    indexes = summary.get("rejectedIndexes")
    if isinstance(indexes, list):
        result = dataclasses.replace(result, rejected_indexes=tuple(i for i in indexes if isinstance(i, int)))
    return result


def _from_import_summaries(summaries: Mapping[str, Any], status: str | None, message: str | None, raw: Any) -> ImportResult:
    """Legacy event/enrollment answers: counts on top, one ImportSummary per object."""
    stats = {
        "created": summaries.get("imported"),
        "updated": summaries.get("updated"),
        "deleted": summaries.get("deleted"),
        "ignored": summaries.get("ignored"),
    }
    errors: list[ObjectError] = []
    for summary in _list(summaries.get("importSummaries")):
        if isinstance(summary, Mapping):
            errors.extend(_conflict_errors(summary.get("conflicts"), summary.get("reference")))
            if not summary.get("conflicts") and _status(summary.get("status")) == "ERROR":
                errors.append(
                    ObjectError(summary.get("reference"), None, None, None, str(summary.get("description") or ""))
                )
    return _result(status, stats, errors, message, raw)


def _from_tracker_report(report: Mapping[str, Any], status: str | None, message: str | None, raw: Any) -> ImportResult:
    validation = report.get("validationReport") or {}
    errors = [
        ObjectError(
            uid=error.get("uid"),
            object_type=error.get("trackerType"),
            error_code=error.get("errorCode"),
            property=None,
            message=str(error.get("message") or ""),
        )
        for error in _list(validation.get("errorReports"))
        if isinstance(error, Mapping)
    ]
    return _result(status, report.get("stats") or {}, errors, message, raw)


def _from_object_report(report: Mapping[str, Any], status: str | None, message: str | None, http_status: int, raw: Any) -> ImportResult:
    errors = _object_report_errors(report, None)
    if errors:
        stats = {"ignored": 1}
        status = "ERROR" if status in (None, *SUCCESS_STATUSES) else status
    elif http_status == 201:
        stats = {"created": 1}
    else:
        stats = {"updated": 1}
    return _result(status, stats, errors, message, raw)


def _result(status: str | None, stats: Mapping[str, Any], errors: list[ObjectError], message: str | None, raw: Any) -> ImportResult:
    created, updated = _int(stats.get("created")), _int(stats.get("updated"))
    deleted, ignored = _int(stats.get("deleted")), _int(stats.get("ignored"))
    total = _int(stats.get("total")) or created + updated + deleted + ignored
    if status is None:
        status = "WARNING" if errors else "OK"
    return ImportResult(status, created, updated, deleted, ignored, total, errors, message, raw)


def parse_import_response(body: Any, http_status: int) -> ImportResult:
    """Turn any DHIS2 import answer (dict, JSON text/bytes or nothing) into an ImportResult."""
    raw = body
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        if not body.strip():
            body = None
        else:
            try:
                body = json.loads(body)
            except ValueError:
                return ImportResult(
                    status="ERROR",
                    message=f"HTTP {http_status}: answer is not JSON: {body.strip()[:200]}",
                    raw=raw,
                )

    if not body:
        # 201/204 without a body are plain successes; a 200 import without a report cannot be
        # confirmed, so it is not counted as one.
        if http_status in (201, 204):
            return ImportResult(status="OK", message=f"HTTP {http_status} without a body", raw=raw)
        return ImportResult(
            status="ERROR",
            message=f"HTTP {http_status}: the server sent no import report",
            raw=raw,
        )
    if not isinstance(body, Mapping):
        return ImportResult(status="ERROR", message=f"HTTP {http_status}: unexpected answer {body!r:.200}", raw=raw)

    wrapped = isinstance(body.get("response"), Mapping) and (
        "httpStatus" in body or "httpStatusCode" in body or "status" in body or "message" in body
    )
    report: Mapping[str, Any] = body["response"] if wrapped else body
    message = body.get("message") if wrapped else report.get("message")
    status = _status(report.get("status")) or _status(body.get("status"))
    if status is None and http_status >= 400:
        status = "ERROR"

    if is_job_response(body):
        return ImportResult(
            status="PENDING",
            message=message or "asynchronous job started; poll it for the result",
            raw=raw,
        )
    response_type = str(report.get("responseType", ""))
    if "importCount" in report or response_type == "ImportSummary" or (
        "conflicts" in report and "typeReports" not in report
    ):
        return _from_import_summary(report, status, message, raw)
    if "importSummaries" in report:
        return _from_import_summaries(report, status, message, raw)
    if "validationReport" in report:
        return _from_tracker_report(report, status, message, raw)
    if "typeReports" in report or "stats" in report:
        return _from_import_report(report, status, message, raw)
    if "uid" in report and ("klass" in report or response_type.startswith("ObjectReport")):
        return _from_object_report(report, status, message, http_status, raw)
    if "errorReports" in report:
        errors = _object_report_errors(report, None)
        return _result(status or "ERROR", {}, errors, message, raw)

    # A bare WebMessage (or something unknown): keep its status and message, never invent success.
    if status is None:
        status = "OK" if 200 <= http_status < 300 and "status" in body else "ERROR"
    return ImportResult(status=status, message=message or body.get("description"), raw=raw)
