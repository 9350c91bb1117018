"""Aggregate data values: a compact store, the /api/dataValueSets importer and exporter.

Values live in one dict keyed by the 5-part key (dataElement, period, orgUnit, coc, aoc) with a
tuple record (value, storedBy, created, lastUpdated, comment, followup, deleted), strings
interned, so a million values import and export in seconds.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from datetime import timedelta
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .metadata_import import ImportRequestError, parse_json_body
from .periods import period_range
from .schema import DEFAULT_COC
from .timeutil import format_ts, parse_ts

Key = tuple[str, str, str, str, str]
Record = tuple  # (value, storedBy, created, lastUpdated, comment, followup, deleted)

STRATEGIES = {"CREATE": "CREATE", "UPDATE": "UPDATE", "CREATE_AND_UPDATE": "CREATE_AND_UPDATE",
              "DELETE": "DELETE", "NEW_AND_UPDATES": "CREATE_AND_UPDATE", "NEW": "CREATE",
              "UPDATES": "UPDATE", "DELETES": "DELETE"}
ID_SCHEME_PARAMS = ("idScheme", "dataElementIdScheme", "orgUnitIdScheme",
                    "categoryOptionComboIdScheme", "attributeOptionComboIdScheme",
                    "dataSetIdScheme")
_intern = sys.intern


class DataValueStore:
    """The values themselves; callers hold the state lock."""

    def __init__(self) -> None:
        self._values: dict[Key, Record] = {}
        self.version = 0  # bumped on every write; paged exports reuse a selection while unchanged
        self.paging_cache: tuple[Any, list, dict] | None = None

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: Key) -> Record | None:
        return self._values.get(key)

    def put(self, key: Key, record: Record) -> None:
        self._values[tuple(_intern(part) for part in key)] = record  # type: ignore[assignment]
        self.version += 1

    def items(self) -> Iterator[tuple[Key, Record]]:
        return iter(self._values.items())

    def referenced_ids(self, ids: set[str]) -> set[str]:
        """Which of `ids` appear in live values as dataElement, orgUnit or option combo."""
        found: set[str] = set()
        for (de, _pe, ou, coc, aoc), rec in self._values.items():
            if rec[6]:
                continue
            for part in (de, ou, coc, aoc):
                if part in ids:
                    found.add(part)
        return found

    @staticmethod
    def render(key: Key, rec: Record, with_deleted: bool = False) -> dict:
        row = {"dataElement": key[0], "period": key[1], "orgUnit": key[2],
               "categoryOptionCombo": key[3], "attributeOptionCombo": key[4]}
        if rec[0] is not None:
            row["value"] = rec[0]
        row["storedBy"] = rec[1]
        row["created"] = rec[2]
        row["lastUpdated"] = rec[3]
        if rec[4] is not None:
            row["comment"] = rec[4]
        row["followup"] = rec[5]
        if with_deleted and rec[6]:
            row["deleted"] = True
        return row


# ===================================================================== validation helpers
_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def value_type_error(value_type: str, value: str) -> str | None:
    """DHIS2's reason code when a value does not fit its data element's valueType."""
    v = value.strip()
    if value_type in ("NUMBER", "PERCENTAGE", "UNIT_INTERVAL"):
        if not _NUM.match(v):
            return "value_not_numeric"
        if value_type == "PERCENTAGE" and not 0 <= float(v) <= 100:
            return "value_not_percentage"
        if value_type == "UNIT_INTERVAL" and not 0 <= float(v) <= 1:
            return "value_not_unit_interval"
    elif value_type == "INTEGER" and not _INT.match(v):
        return "value_not_integer"
    elif value_type == "INTEGER_POSITIVE" and not (_INT.match(v) and int(v) > 0):
        return "value_not_positive_integer"
    elif value_type == "INTEGER_NEGATIVE" and not (_INT.match(v) and int(v) < 0):
        return "value_not_negative_integer"
    elif value_type == "INTEGER_ZERO_OR_POSITIVE" and not (_INT.match(v) and int(v) >= 0):
        return "value_not_zero_or_positive_integer"
    elif value_type == "BOOLEAN" and v.lower() not in ("true", "false", "1", "0"):
        return "value_not_bool"
    elif value_type == "TRUE_ONLY" and v.lower() not in ("true", "1"):
        return "value_not_true_only"
    elif value_type == "DATE" and not re.match(r"^\d{4}-\d{2}-\d{2}$", v):
        return "value_not_valid_date"
    return None


class _Context:
    """Lookups the importer needs, built once per import under the state lock."""

    def __init__(self, state) -> None:
        store = state.store
        self.data_elements = store["dataElements"]
        self.org_units = store["organisationUnits"]
        self.cocs = store["categoryOptionCombos"]
        self.data_sets = store["dataSets"]
        self.coc_combo = {uid: (c.get("categoryCombo") or {}).get("id") for uid, c in self.cocs.items()}
        self.de_combo = {uid: (d.get("categoryCombo") or {}).get("id")
                         for uid, d in self.data_elements.items()}
        self.de_sets: dict[str, set[str]] = {}
        self.de_aoc_combos: dict[str, set[str]] = {}
        for ds_uid, ds in self.data_sets.items():
            combo = (ds.get("categoryCombo") or {}).get("id")
            for dse in ds.get("dataSetElements") or []:
                de = (dse.get("dataElement") or {}).get("id")
                if de:
                    self.de_sets.setdefault(de, set()).add(ds_uid)
                    self.de_aoc_combos.setdefault(de, set()).add(combo)
        self.options: dict[str, set[str]] = {}
        for uid, option_set in store["optionSets"].items():
            codes = set()
            for ref in option_set.get("options") or []:
                option = store["options"].get(ref.get("id"))
                if option and option.get("code") is not None:
                    codes.add(str(option["code"]))
            self.options[uid] = codes


class _Conflicts:
    """DHIS2 2.38+ groups conflicts by (error code, object) and lists the indexes."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict] = {}
        self.rejected: list[int] = []

    def add(self, index: int, code: str, prop: str, obj: str, objects: dict, message: str) -> None:
        key = (code, obj)
        entry = self.items.get(key)
        if entry is None:
            entry = {"object": obj, "objects": objects, "value": message, "errorCode": code,
                     "property": prop, "indexes": []}
            self.items[key] = entry
        if index >= 0:
            entry["indexes"].append(index)
            self.rejected.append(index)

    def as_list(self) -> list[dict]:
        return list(self.items.values())


def _flag(params: Mapping[str, str], name: str) -> bool:
    return str(params.get(name, "false")).lower() == "true"


def _parse_csv(text: str) -> dict:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ImportRequestError("No content to map due to end-of-input")
    names = ["dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo",
             "value", "storedBy", "lastUpdated", "comment", "followup", "deleted"]
    first = [c.strip().lower() for c in rows[0]]
    if first and first[0] in ("dataelement", "de"):
        rows = rows[1:]
    values = []
    for row in rows:
        if not row:
            continue
        item: dict[str, Any] = {}
        for name, cell in zip(names, row):
            if cell != "":
                item[name] = cell
        if "followup" in item:
            item["followup"] = item["followup"].lower() == "true"
        item.pop("deleted", None)
        values.append(item)
    return {"dataValues": values}


def _base_summary(status: str, description: str) -> dict:
    return {"responseType": "ImportSummary", "status": status, "description": description,
            "importCount": {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0},
            "conflicts": [], "rejectedIndexes": [], "dataSetComplete": "false"}


def error_summary(message: str) -> dict:
    """The summary DHIS2 gives when the payload cannot be read at all."""
    return _base_summary("ERROR", f"The import process failed: {message}")


def import_data_values(state, payload: Any, params: Mapping[str, str], user: str,
                       content_type: str = "application/json") -> dict:
    """Validate and apply one dataValueSet; returns DHIS2's ImportSummary (unwrapped)."""
    strategy = STRATEGIES.get(str(params.get("importStrategy", "CREATE_AND_UPDATE")).upper())
    if strategy is None:
        raise ImportRequestError(f"Value `{params.get('importStrategy')}` is not valid for "
                                 "parameter `importStrategy`")
    for name in ID_SCHEME_PARAMS:
        scheme = str(params.get(name, "UID")).upper()
        if scheme not in ("UID", "ID"):
            raise ImportRequestError(f"{name}={scheme} is not supported by the DHIS2 emulator; "
                                     "use UID")
    try:
        if "csv" in content_type and isinstance(payload, (bytes, str)):
            text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
            if not text.strip():
                raise ImportRequestError("No content to map due to end-of-input")
            data = _parse_csv(text)
        else:
            data = parse_json_body(payload)
    except ImportRequestError as exc:
        return error_summary(exc.message)
    if not isinstance(data, dict) or not isinstance(data.get("dataValues", []), list):
        return error_summary("Payload must be a dataValueSet object with a `dataValues` list")
    with state.lock:
        return _import(state, data, strategy, params, user)


def _import(state, data: dict, strategy: str, params: Mapping[str, str], user: str) -> dict:
    ctx = _Context(state)
    conflicts = _Conflicts()
    summary = _base_summary("SUCCESS", "Import process completed successfully")
    count = summary["importCount"]
    values: list = data.get("dataValues") or []
    header_ds = data.get("dataSet")
    header_pe = data.get("period")
    header_ou = data.get("orgUnit")
    header_aoc = data.get("attributeOptionCombo")
    dry_run = _flag(params, "dryRun")
    skip_existing = _flag(params, "skipExistingCheck")

    abort = None
    if header_ds and header_ds not in ctx.data_sets:
        abort = ("E7600", "dataSet", header_ds, f"Data set not found or not accessible: `{header_ds}`")
    elif header_ou and header_ou not in ctx.org_units:
        abort = ("E7603", "orgUnit", header_ou, f"Org unit not found or not accessible: `{header_ou}`")
    elif header_aoc and header_aoc not in ctx.cocs:
        abort = ("E7604", "attributeOptionCombo", header_aoc,
                 f"Attribute option combo not found or not accessible: `{header_aoc}`")
    if abort:
        code, prop, obj, message = abort
        conflicts.add(-1, code, prop, obj, {prop: obj}, message)
        summary["status"] = "ERROR"
        count["ignored"] = len(values)
        summary["conflicts"] = conflicts.as_list()
        return summary
    header_des = None
    if header_ds:
        header_des = {(e.get("dataElement") or {}).get("id")
                      for e in ctx.data_sets[header_ds].get("dataSetElements") or []}

    now = state.now_str()
    writes: dict[Key, Record] = {}
    store = state.data
    for index, dv in enumerate(values):
        if not isinstance(dv, dict):
            conflicts.add(index, "E7610", "dataElement", "", {}, "Data value is not an object")
            count["ignored"] += 1
            continue
        de = dv.get("dataElement")
        pe = dv.get("period") or header_pe
        ou = dv.get("orgUnit") or header_ou
        coc = dv.get("categoryOptionCombo") or DEFAULT_COC
        aoc = dv.get("attributeOptionCombo") or header_aoc or DEFAULT_COC
        problem = _validate(ctx, de, pe, ou, coc, aoc, header_ds, header_des)
        value = dv.get("value")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif value is not None and not isinstance(value, str):
            value = str(value)
        if problem is None and value is not None and strategy != "DELETE":
            problem = _validate_value(ctx, de, value)
        if problem is not None:
            code, prop, obj, objects, message = problem
            conflicts.add(index, code, prop, obj, objects, message)
            count["ignored"] += 1
            continue
        key = (de, pe, ou, coc, aoc)
        comment = dv.get("comment")
        # A key repeated in one payload sees the earlier write, as DHIS2 applies values in order.
        existing = writes.get(key) or store.get(key)
        live = existing is not None and not existing[6]
        if skip_existing and live:
            conflicts.add(index, "E7610", "dataValue", de, {"dataElement": de},
                          "Data value already exists and skipExistingCheck=true was given")
            count["ignored"] += 1
            continue
        is_null = value is None and comment is None
        if strategy == "DELETE" or (live and is_null and strategy != "CREATE"):
            if live:
                writes[key] = existing[:3] + (now,) + existing[4:6] + (True,)
                count["deleted"] += 1
            else:
                count["ignored"] += 1
            continue
        if is_null:
            count["ignored"] += 1
            continue
        followup = dv.get("followup")
        followup = followup if isinstance(followup, bool) else str(followup).lower() == "true"
        stored_by = dv.get("storedBy") or user
        if live:
            if strategy == "CREATE":
                count["ignored"] += 1
                continue
            writes[key] = (value, stored_by, existing[2], now, comment, followup, False)
            count["updated"] += 1
        else:
            if strategy == "UPDATE":
                count["ignored"] += 1
                continue
            created = parse_ts(dv.get("created") or "", state.tz)
            writes[key] = (value, stored_by, format_ts(created) if created else now, now,
                           comment, followup, False)
            count["imported"] += 1
    if not dry_run:
        for key, record in writes.items():
            store.put(key, record)
    summary["conflicts"] = conflicts.as_list()
    summary["rejectedIndexes"] = sorted(conflicts.rejected)
    if conflicts.items:
        summary["status"] = "WARNING"
    completed = data.get("completeDate") or data.get("completedDate")
    if header_ds and header_pe and header_ou and completed:
        from .registrations import register
        if not dry_run:
            register(state, header_ds, header_pe, header_ou, header_aoc or DEFAULT_COC,
                     completed, user, True)
        summary["dataSetComplete"] = completed
    return summary


def _validate(ctx: _Context, de, pe, ou, coc, aoc, header_ds, header_des):
    """First identity problem of one value as (code, property, object, objects, message)."""
    if de not in ctx.data_elements:
        return ("E7610", "dataElement", str(de), {"dataElement": str(de)},
                f"Data element not found or not accessible: `{de}`")
    if not isinstance(pe, str) or period_range(pe) is None:
        return ("E7611", "period", str(pe), {"period": str(pe)}, f"Period not valid: `{pe}`")
    if ou not in ctx.org_units:
        return ("E7612", "orgUnit", str(ou), {"orgUnit": str(ou)},
                f"Organisation unit not found or not accessible: `{ou}`")
    if coc not in ctx.cocs:
        return ("E7613", "categoryOptionCombo", str(coc), {"categoryOptionCombo": str(coc)},
                f"Category option combo not found or not accessible for writing data: `{coc}`")
    if aoc not in ctx.cocs:
        return ("E7615", "attributeOptionCombo", str(aoc), {"attributeOptionCombo": str(aoc)},
                f"Attribute option combo not found or not accessible for writing data: `{aoc}`")
    if ctx.coc_combo.get(coc) != ctx.de_combo.get(de):
        return ("E7634", "categoryOptionCombo", coc, {"categoryOptionCombo": coc, "dataElement": de},
                f"Category option combo: `{coc}` must be part of category combo of data element: `{de}`")
    allowed_aoc = ctx.de_aoc_combos.get(de) or {ctx.coc_combo.get(DEFAULT_COC)}
    if ctx.coc_combo.get(aoc) not in allowed_aoc:
        return ("E7635", "attributeOptionCombo", aoc,
                {"attributeOptionCombo": aoc, "dataElement": de},
                f"Attribute option combo: `{aoc}` must be part of category combo of data sets "
                f"of data element: `{de}`")
    if header_des is not None and de not in header_des:
        return ("E7633", "dataElement", de, {"dataElement": de, "dataSet": header_ds},
                f"Data element: `{de}` is not part of dataset: `{header_ds}`")
    return None


def _validate_value(ctx: _Context, de: str, value: str):
    element = ctx.data_elements[de]
    reason = value_type_error(element.get("valueType", "TEXT"), value)
    if reason:
        return ("E7619", "value", de, {"dataElement": de},
                f"Value must match data element's `{de}` type constraints: {reason}")
    option_set = (element.get("optionSet") or {}).get("id")
    if option_set and value not in ctx.options.get(option_set, set()):
        return ("E7621", "value", de, {"dataElement": de},
                f"Data value is not a valid option of the data element option set: `{de}`")
    return None


# ===================================================================== export
class ExportError(Exception):
    """An export request DHIS2 would refuse (409 with an E2xxx code)."""

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


_DURATION = re.compile(r"^(\d+)([smhdw])$")


def _duration(text: str) -> timedelta | None:
    m = _DURATION.match(text.strip())
    if not m:
        return None
    n, unit = int(m[1]), m[2]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days",
                         "w": "weeks"}[unit]: n})


def _multi(params, name: str) -> list[str]:
    """Repeated parameters, also accepting comma-separated lists."""
    out: list[str] = []
    for raw in params.getlist(name) if hasattr(params, "getlist") else (
            [params[name]] if name in params else []):
        out.extend(x for x in str(raw).split(",") if x)
    return out


def select_data_values(state, params) -> tuple[list[tuple[Key, Record]], dict]:
    """Apply DHIS2's dataValueSets export rules; returns the rows in export order and a header.

    Order: dataElement, period, orgUnit, categoryOptionCombo, attributeOptionCombo (string
    order), which makes limit/offset paging deterministic.
    """
    data_sets = _multi(params, "dataSet")
    groups = _multi(params, "dataElementGroup")
    elements = _multi(params, "dataElement")
    periods = _multi(params, "period")
    start, end = params.get("startDate"), params.get("endDate")
    last_updated = params.get("lastUpdated")
    duration = params.get("lastUpdatedDuration")
    org_units = _multi(params, "orgUnit")
    ou_groups = _multi(params, "orgUnitGroup")
    children = _flag(params, "children")
    include_deleted = _flag(params, "includeDeleted")
    aocs = set(_multi(params, "attributeOptionCombo"))
    for name in ID_SCHEME_PARAMS:
        scheme = str(params.get(name, "UID")).upper()
        if scheme not in ("UID", "ID"):
            raise ExportError(f"{name}={scheme} is not supported by the DHIS2 emulator; use UID")

    if not (data_sets or groups or elements):
        raise ExportError("At least one data element, data set or data element group must be "
                          "specified", "E2001")
    if not (periods or (start and end) or last_updated or duration):
        raise ExportError("At least one period, start/end dates, last updated or last updated "
                          "duration must be specified", "E2002")
    if periods and (start or end):
        raise ExportError("Both periods and start/end date cannot be specified", "E2003")
    tz = state.tz
    start_d = end_d = None
    if start and end:
        s, e = parse_ts(start, tz), parse_ts(end, tz)
        if s is None or e is None:
            raise ExportError(f"Invalid start/end date: `{start}`, `{end}`")
        if s > e:
            raise ExportError("Start date must be before end date", "E2004")
        start_d, end_d = s.date(), e.date()
    threshold = None
    if duration:
        delta = _duration(duration)
        if delta is None:
            raise ExportError(f"Duration is not valid: `{duration}`", "E2005")
        threshold = format_ts(state.now() - delta)
    if last_updated:
        parsed = parse_ts(last_updated, tz)
        if parsed is None:
            raise ExportError(f"Invalid lastUpdated date: `{last_updated}`")
        threshold = max(threshold or "", format_ts(parsed))
    if not (org_units or ou_groups):
        raise ExportError("At least one organisation unit or organisation unit group must be "
                          "specified", "E2006")
    if children and not org_units:
        raise ExportError("At least one organisation unit must be specified when children are "
                          "included", "E2008")
    limit = params.get("limit")
    offset = params.get("offset")
    try:
        limit_n = int(limit) if limit not in (None, "") else None
        offset_n = int(offset) if offset not in (None, "") else 0
    except ValueError as exc:
        raise ExportError(f"Invalid limit/offset: `{limit}`, `{offset}`") from exc
    if limit_n is not None and limit_n < 0:
        raise ExportError(f"Limit cannot be less than zero: `{limit}`", "E2009")
    for pe in periods:
        if period_range(pe) is None:
            raise ExportError(f"Period is invalid: `{pe}`", "E1101")

    # Later pages of one query (same parameters, offset > 0, no write in between) reuse the sorted
    # selection of the first page, as a database would use its index, so paging 1,000,000 values
    # costs one selection, not one per page.
    cache_key = (tuple(sorted((k, tuple(_multi(params, k))) for k in params if k not in ("limit", "offset"))),
                 state.data.version)
    cached = state.data.paging_cache
    if offset_n and cached is not None and cached[0] == cache_key:
        return _page(cached[1], offset_n, limit_n), cached[2]

    with state.lock:
        store = state.store
        des: set[str] = set()
        for uid in data_sets:
            ds = store["dataSets"].get(uid)
            if ds is None:
                raise ExportError(f"Data set not found or not accessible: `{uid}`", "E1105")
            des.update((e.get("dataElement") or {}).get("id") for e in ds.get("dataSetElements") or [])
        for uid in groups:
            group = store["dataElementGroups"].get(uid)
            if group is None:
                raise ExportError(f"Data element group not found or not accessible: `{uid}`")
            des.update(r.get("id") for r in group.get("dataElements") or [])
        for uid in elements:
            if uid not in store["dataElements"]:
                raise ExportError(f"Data element not found or not accessible: `{uid}`", "E1100")
            des.add(uid)
        units = store["organisationUnits"]
        ous: set[str] = set()
        for uid in org_units:
            if uid not in units:
                raise ExportError(f"Organisation unit not found or not accessible: `{uid}`", "E1102")
            ous.add(uid)
        for uid in ou_groups:
            group = store["organisationUnitGroups"].get(uid)
            if group is None:
                raise ExportError(f"Organisation unit group not found or not accessible: `{uid}`")
            ous.update(r.get("id") for r in group.get("organisationUnits") or [])
        if children:
            roots = tuple(units[u]["path"] + "/" for u in org_units)
            ous.update(uid for uid, unit in units.items()
                       if (unit.get("path", "") + "/").startswith(roots))
        period_set = set(periods)
        period_ok: dict[str, bool] = {}

        def wanted_period(pe: str) -> bool:
            if period_set:
                return pe in period_set
            if start_d is None:
                return True
            ok = period_ok.get(pe)
            if ok is None:
                rng = period_range(pe)
                ok = rng is not None and rng[0] >= start_d and rng[1] <= end_d
                period_ok[pe] = ok
            return ok

        rows = [(key, rec) for key, rec in state.data.items()
                if key[0] in des and key[2] in ous and wanted_period(key[1])
                and (include_deleted or not rec[6])
                and (threshold is None or rec[3] >= threshold)
                and (not aocs or key[4] in aocs)]
        header: dict[str, Any] = {}
        if len(data_sets) == 1 and len(periods) == 1 and len(org_units) == 1 and not children:
            header = {"dataSet": data_sets[0], "period": periods[0], "orgUnit": org_units[0]}
            reg = state.registrations.get((data_sets[0], periods[0], org_units[0], DEFAULT_COC))
            if reg and reg.get("completed", True):
                header["completeDate"] = reg["date"]
    rows.sort(key=lambda item: item[0])
    if limit_n is not None:
        state.data.paging_cache = (cache_key, rows, header)
    return _page(rows, offset_n, limit_n), header


def _page(rows: list, offset: int, limit: int | None) -> list:
    return rows[offset:offset + limit] if limit is not None else rows[offset:]


def render_json(rows: Sequence[tuple[Key, Record]], header: dict, include_deleted: bool,
                chunk: int = 20000) -> Iterable[bytes]:
    """Stream `{"dataValues":[…]}` in chunks so a million rows never sit in one string."""
    head = json.dumps(header, separators=(",", ":"))[:-1]
    yield (head + ("," if header else "") + '"dataValues":[').encode()
    render = DataValueStore.render
    for start in range(0, len(rows), chunk):
        part = [render(k, r, include_deleted) for k, r in rows[start:start + chunk]]
        text = json.dumps(part, separators=(",", ":"))[1:-1]
        yield (("," if start else "") + text).encode()
    yield b"]}"


def render_csv(rows: Sequence[tuple[Key, Record]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["dataelement", "period", "orgunit", "categoryoptioncombo",
                     "attributeoptioncombo", "value", "storedby", "lastupdated", "comment",
                     "followup", "deleted"])
    for key, rec in rows:
        writer.writerow([*key, rec[0] or "", rec[1] or "", rec[3], rec[4] or "",
                         str(rec[5]).lower(), str(rec[6]).lower()])
    return out.getvalue().encode()
