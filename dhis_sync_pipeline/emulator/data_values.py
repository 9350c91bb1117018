"""Aggregate data values: a compact store, the /api/dataValueSets importer and exporter.

Values live in one dict keyed by the 5-part key (dataElement, period, orgUnit, coc, aoc) with a
tuple record (value, storedBy, created, lastUpdated, comment, followup, deleted), strings
interned, so a million values import and export in seconds. `created`/`lastUpdated` are kept as
DHIS2's `datavalue` table keeps them: zone-less server-local text (a `timestamp` column); the
export writes them in UTC (`toLongGmtDate`).

Importers: 2.36–2.42 follow DefaultDataValueSetService (value by value, E76xx conflicts); 2.43
follows DataEntryPipeline + DefaultDataEntryService (one group per payload, E80xx/E81xx).
Exporters: 2.36–2.42 follow SpringDataValueSetStore + the streamed writers; 2.43 follows
DefaultDataExportService + HibernateDataExportStore + DataExportOutput.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import sys
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, Mapping

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
# The export SQL of 2.36–2.43 has no total order; rows come back in an order that changes from
# request to request. Deliberately not seeded.
_ORDER_RNG = random.Random()


class DataValueStore:
    """The values themselves; callers hold the state lock."""

    def __init__(self) -> None:
        self._values: dict[Key, Record] = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: Key) -> Record | None:
        return self._values.get(key)

    def put(self, key: Key, record: Record) -> None:
        self._values[tuple(_intern(part) for part in key)] = record  # type: ignore[assignment]

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
        """The internal view (`EmulatorState.data_values()`): timestamps as stored, server-local."""
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


# ===================================================================== time helpers
def now_utc(state) -> datetime:
    """Server time in UTC (naive), following the server clock including advance_clock."""
    return state.now().replace(tzinfo=state.tz).astimezone(timezone.utc).replace(tzinfo=None)


def local_to_utc(value: datetime, tz) -> datetime:
    """A zone-less server-local time as UTC (naive); Java picks the earlier offset in a DST fold."""
    return value.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


class GmtFormatter:
    """DateUtils.toLongGmtDate / getLongGmtDateString of a stored server-local timestamp:
    `2024-05-01T10:00:00.000+0000`. Offsets are whole minutes, so the converted minute prefix is
    cached and a million rows cost one dict lookup each."""

    def __init__(self, tz) -> None:
        self.tz = tz
        self._minutes: dict[str, str] = {}

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        prefix = text[:16]
        converted = self._minutes.get(prefix)
        if converted is None:
            parsed = parse_ts(prefix)
            converted = (local_to_utc(parsed, self.tz).strftime("%Y-%m-%dT%H:%M")
                         if parsed is not None else prefix)
            self._minutes[prefix] = converted
        rest = text[16:] or ":00.000"
        return converted + rest + "+0000"


def _seconds(ts: str) -> str:
    """DataValueBatchHandler writes timestamps with getLongDateString: seconds, no millis."""
    return ts[:19] + ".000"


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

    def reject(self, index: int) -> None:
        """A value DHIS2 skips without a conflict but still lists in rejectedIndexes."""
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
        for flag in ("followup", "deleted"):
            if flag in item:
                item[flag] = item[flag].lower() == "true"
        values.append(item)
    return {"dataValues": values}


def _base_summary(status: str, description: str) -> dict:
    return {"responseType": "ImportSummary", "status": status, "description": description,
            "importCount": {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0},
            "conflicts": [], "rejectedIndexes": [], "dataSetComplete": "false"}


def error_summary(message: str) -> dict:
    """The summary DHIS2 gives when the payload cannot be read at all."""
    return _base_summary("ERROR", f"The import process failed: {message}")


def _patch(state) -> tuple[int, ...]:
    return tuple(int(x) for x in state.full_version.split(".")[:3])


def _has_rejected_indexes(state) -> bool:
    """ImportSummary.rejectedIndexes exists from 2.39.2 and 2.40.1 (not in 2.38.x, 2.40.0)."""
    patch = _patch(state)
    return (2, 39, 2) <= patch < (2, 40, 0) or patch >= (2, 40, 1)


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
        if state.version_tuple() >= (2, 43):
            return _import_243(state, data, strategy, params, user)
        summary = _import(state, data, strategy, params, user)
        if not _has_rejected_indexes(state):
            summary.pop("rejectedIndexes", None)
        return summary


def _text(value: Any) -> str | None:
    """StringUtils.trimToNull of a JSON value (numbers and booleans as DHIS2 reads them)."""
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif not isinstance(value, str):
        value = str(value)
    return value.strip() or None


def _payload_time(state, text: Any) -> str | None:
    """A payload created/lastUpdated as stored: zone-less is server-local, an offset converts."""
    parsed = parse_ts(text, state.tz) if isinstance(text, str) and text else None
    return _seconds(format_ts(parsed)) if parsed is not None else None


def _import(state, data: dict, strategy: str, params: Mapping[str, str], user: str) -> dict:
    """2.36–2.42: DefaultDataValueSetService.importDataValue, value by value."""
    version = state.version_tuple()
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
    # DHIS2-15254 (2.38.6, 2.39.5, 2.40.3 and later): an update that changes nothing is ignored.
    ignore_unchanged = version >= (2, 38)
    # createDataValue: payload created/lastUpdated are kept up to 2.40; 2.41 sets both to now.
    payload_times = version <= (2, 40)
    # CREATE of an existing / UPDATE of a missing value: ignored and listed in rejectedIndexes.
    reject_skipped = version >= (2, 39)

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

    now = _seconds(state.now_str())
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
        value = _text(dv.get("value"))
        if problem is None and value is not None and strategy != "DELETE":
            problem = _validate_value(ctx, de, value)
        if problem is not None:
            code, prop, obj, objects, message = problem
            conflicts.add(index, code, prop, obj, objects, message)
            count["ignored"] += 1
            continue
        key = (de, pe, ou, coc, aoc)
        comment = _text(dv.get("comment"))
        # A key repeated in one payload sees the earlier write, as DHIS2 applies values in order.
        existing = writes.get(key) or store.get(key)
        live = existing is not None and not existing[6]
        if skip_existing and live:
            conflicts.add(index, "E7610", "dataValue", de, {"dataElement": de},
                          "Data value already exists and skipExistingCheck=true was given")
            count["ignored"] += 1
            continue
        followup = dv.get("followup")
        followup = followup if isinstance(followup, bool) else str(followup).lower() == "true"
        stored_by = _text(dv.get("storedBy")) or user
        deleted = dv.get("deleted") is True or str(dv.get("deleted")).lower() == "true"
        created = (payload_times and _payload_time(state, dv.get("created"))) or now
        last_updated = (payload_times and _payload_time(state, dv.get("lastUpdated"))) or now
        is_null = value is None and comment is None  # DataValue.isNullValue
        if live:
            if not (payload_times and dv.get("created")):
                created = existing[2]  # "Preserve any existing created date"
            if strategy in ("CREATE_AND_UPDATE", "UPDATE"):
                if is_null or deleted:  # saveDataValueUpdate: the row becomes a tombstone
                    writes[key] = (value, stored_by, created, last_updated, comment, followup, True)
                    count["deleted"] += 1
                elif (ignore_unchanged and existing[0] == value and existing[4] == comment
                      and bool(existing[5]) == followup):  # dataValueUpdateShouldBeIgnored
                    count["ignored"] += 1
                else:
                    writes[key] = (value, stored_by, created, last_updated, comment, followup, False)
                    count["updated"] += 1
            elif strategy == "DELETE":  # saveDataValueDelete
                writes[key] = (value, stored_by, created, last_updated, comment, followup, True)
                count["deleted"] += 1
            else:
                count["ignored"] += 1
                if reject_skipped:
                    conflicts.reject(index)
            continue
        if strategy not in ("CREATE_AND_UPDATE", "CREATE"):
            count["ignored"] += 1
            if reject_skipped:
                conflicts.reject(index)
            continue
        if is_null:  # saveDataValueCreate ignores null values
            count["ignored"] += 1
            continue
        writes[key] = (value, stored_by, created, last_updated, comment, followup, deleted)
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


# ===================================================================== 2.43 importer
_UID = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{10}$")
_PERIOD_TYPES = (  # PeriodType.getPeriodTypeFromIsoString, the types DHIS2 names
    (re.compile(r"^\d{4}$"), "Yearly"), (re.compile(r"^\d{8}$"), "Daily"),
    (re.compile(r"^\d{4}-?\d{2}$"), "Monthly"), (re.compile(r"^\d{6}B$"), "BiMonthly"),
    (re.compile(r"^\d{4}Q[1-4]$"), "Quarterly"), (re.compile(r"^\d{4}S[12]$"), "SixMonthly"),
    (re.compile(r"^\d{4}AprilS[12]$"), "SixMonthlyApril"),
    (re.compile(r"^\d{4}NovS[12]$"), "SixMonthlyNov"),
    (re.compile(r"^\d{4}April$"), "FinancialApril"), (re.compile(r"^\d{4}July$"), "FinancialJuly"),
    (re.compile(r"^\d{4}Oct$"), "FinancialOct"), (re.compile(r"^\d{4}Nov$"), "FinancialNov"),
    (re.compile(r"^\d{4}BiW\d{1,2}$"), "BiWeekly"), (re.compile(r"^\d{4}W\d{1,2}$"), "Weekly"),
    (re.compile(r"^\d{4}WedW\d{1,2}$"), "WeeklyWednesday"),
    (re.compile(r"^\d{4}ThuW\d{1,2}$"), "WeeklyThursday"),
    (re.compile(r"^\d{4}SatW\d{1,2}$"), "WeeklySaturday"),
    (re.compile(r"^\d{4}SunW\d{1,2}$"), "WeeklySunday"))


def _period_type(iso: str) -> str | None:
    return next((name for pattern, name in _PERIOD_TYPES if pattern.match(iso)), None)


def _java(arg: Any, grouping: bool = False) -> str:
    """An argument as Java prints it: lists `[a, b]`; MessageFormat groups numbers (1,234)."""
    if isinstance(arg, (list, tuple)):
        return "[" + ", ".join(_java(a) for a in arg) + "]"
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, int) and grouping:
        return f"{arg:,}"
    return str(arg)


_E80_MESSAGES = {  # feedback/ErrorCode.java (2.43), placeholders as MessageFormat indexes
    "E8000": "Atomic mode requires all values to be valid but only {0}/{1} were. First issue: {2}",
    "E8002": "Data set detection failed, found multiple sets: `{0}`",
    "E8003": "Data set detection failed, found no set for data element(s): `{0}`",
    "E8004": "Data set UID not valid: `{0}`",
    "E8008": "Data set `completeDate` is not a valid date string: `{0}`",
    "E8009": "Data set `completeDate` requires data set, org unit, period and attribute option "
             "combo to be defined at the group level.",
    "E8020": "Data set {0} not usable with data element(s): `{1}`",
    "E8021": "Data set {0} not usable with period(s): `{1}`",
    "E8022": "Data set {0} not usable with org unit(s): `{1}`",
    "E8023": "Data set {0} not usable with attribute option combo(s): `{1}`",
    "E8024": "Data set {0} + data element {1} not usable with category option combo(s): `{2}`",
    "E8030": "Untimely data entry for data set {0} and period(s): `{1}`",
    "E8031": "Untimely data entry for org unit {0} and period(s): `{1}`",
    "E8100": "Value #{0} period not defined in group or value: `{1}`",
    "E8102": "Value #{0} data element not defined in group or value: `{1}`",
    "E8104": "Value #{0} data element UID not valid: `{1}`",
    "E8105": "Value #{0} org unit not defined in group or value: `{1}`",
    "E8106": "Value #{0} org unit UID is not valid: `{1}`",
    "E8109": "Value #{0} category option combo UID is not valid: `{1}`",
    "E8111": "Value #{0} attribute option combo UID is not valid: `{1}`",
    "E8120": "Value #{0} value is required",
    "E8121": "Value #{0} value or comment is required`",
    "E8122": "Value #{0} value `{1}` is no valid {2}: {3}",
    "E8123": "Value #{0} value `{1}` is no valid option for data element `{2}`",
    "E8124": "Value #{0} comment is restricted to options and does not allow {1}`",
    "E8125": "Value #{0} comment too long (max {1} characters)`",
    "E8128": "Value #{0} all affect the same data value: `{1}`",
}


class _GroupRejected(Exception):
    """A ConflictException/BadRequestException of the 2.43 pipeline: code + args."""

    def __init__(self, code: str, *args: Any) -> None:
        super().__init__(code)
        self.code = code
        self.args_ = args


def _conflict_243(code: str, args: tuple, indexes: list[int]) -> dict:
    """DataEntrySummary.toConflict: no `object`/`property` (null, left out by NON_NULL)."""
    message = _E80_MESSAGES[code]
    for i, arg in enumerate(args):
        message = message.replace("{%d}" % i, _java(arg, grouping=True))
    return {"objects": {"args": "-".join(_java(a) for a in args)}, "value": message,
            "errorCode": code, "indexes": indexes}


def _import_243(state, data: dict, strategy: str, params: Mapping[str, str], user: str) -> dict:
    """DataEntryPipeline.importJson: the payload is ONE group (DataEntryInput.fromJson; the
    dataEntryAutoGroup setting that would split it by data set is off by default). A group-level
    problem rejects every value of the group (ERROR, all counts 0); value-level problems reject
    only that value. Everything valid is upserted and counted as `updated`."""
    summary = {"responseType": "ImportSummary", "status": "SUCCESS",
               "importCount": {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0},
               "conflicts": [], "rejectedIndexes": [], "dataSetComplete": "false"}
    values = [dv for dv in data.get("dataValues") or []]
    dry_run = _flag(params, "dryRun") or data.get("dryRun") is True
    atomic = _flag(params, "atomic")
    force = _flag(params, "force")
    delete = strategy == "DELETE"
    try:
        group = _decode_243(data, values)
    except _GroupRejected as exc:  # importInputGroups: decoding failed, index -1
        summary["status"] = "ERROR"
        summary["conflicts"] = [_conflict_243(exc.code, exc.args_, [-1])]
        return summary
    ds_header, completion, decoded = group
    indexes = [v[0] for v in decoded]
    try:
        result = _upsert_group_243(state, ds_header, decoded, delete, dry_run, atomic, force, user)
    except _GroupRejected as exc:  # importGroups: the whole group is rejected
        summary["status"] = "ERROR"
        summary["conflicts"] = [_conflict_243(exc.code, exc.args_, indexes)]
        summary["rejectedIndexes"] = list(indexes)
        return summary
    succeeded, errors = result
    count = summary["importCount"]
    count["updated"] = succeeded
    count["ignored"] = len(errors)
    if delete:  # toImportSummary: a DELETE import reports its writes as deleted
        count["deleted"], count["updated"] = count["updated"], 0
    grouped: dict[str, dict] = {}
    for index, code, args in errors:
        conflict = _conflict_243(code, args, [index])
        key = code + ":" + conflict["objects"]["args"]  # ImportConflict grouping key
        if key in grouped:
            grouped[key]["indexes"].append(index)
        else:
            grouped[key] = conflict
        summary["rejectedIndexes"].append(index)
    summary["conflicts"] = list(grouped.values())
    if errors:
        summary["status"] = "WARNING" if succeeded > 0 else "ERROR"
    if completion is not None and not errors:
        ds, pe, ou, aoc, day = completion
        if not dry_run:
            from .registrations import register
            register(state, ds, pe, ou, aoc or DEFAULT_COC, day.isoformat(), user, True)
        summary["dataSetComplete"] = day.isoformat()  # toMediumDate
    return summary


def _decode_243(data: dict, values: list):
    """DefaultDataEntryService.decodeGroup: ids are only checked to be UIDs here."""
    ds = data.get("dataSet")
    pe_group = data.get("period") or None
    ou_group = data.get("orgUnit")
    aoc_group = data.get("attributeOptionCombo")
    if ds is not None and not _UID.match(str(ds)):
        raise _GroupRejected("E8004", ds)
    completion = None
    complete = data.get("completeDate")
    if complete:
        parsed = parse_ts(str(complete))
        if parsed is None:
            raise _GroupRejected("E8008", complete)
        if ds is None or ou_group is None or pe_group is None:
            raise _GroupRejected("E8009")
        completion = (ds, pe_group, ou_group, aoc_group, parsed.date())
    decoded = []
    valid_periods: set[str] = set()
    uids: set[str] = set()

    def is_uid(value: Any) -> bool:
        if value in uids:
            return True
        if isinstance(value, str) and _UID.match(value):
            uids.add(value)
            return True
        return False
    for i, dv in enumerate(values):
        if not isinstance(dv, dict):
            raise _GroupRejected("E8102", i, dv)
        pe = dv.get("period") or pe_group
        if pe not in valid_periods:
            if not pe or period_range(str(pe)) is None:  # stricter: an invalid ISO is E8100 too
                raise _GroupRejected("E8100", i, dv)
            valid_periods.add(pe)
        de = dv.get("dataElement")
        if de is None:
            raise _GroupRejected("E8102", i, dv)
        if not is_uid(de):
            raise _GroupRejected("E8104", i, de)
        ou = dv.get("orgUnit") or ou_group
        if ou is None:
            raise _GroupRejected("E8105", i, dv)
        if not is_uid(ou):
            raise _GroupRejected("E8106", i, ou)
        coc = dv.get("categoryOptionCombo") or None
        if coc is not None and not is_uid(coc):
            raise _GroupRejected("E8109", i, coc)
        aoc = dv.get("attributeOptionCombo") or aoc_group or None
        if aoc is not None and not is_uid(aoc):
            raise _GroupRejected("E8111", i, aoc)
        value = dv.get("value")
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif value is not None and not isinstance(value, str):
            value = str(value)
        # DataEntryInput.fromJson reads `followUp` (capital U); `followup` is not read.
        follow = dv.get("followUp")
        deleted = dv.get("deleted")
        decoded.append((i, de, str(pe), ou, coc or DEFAULT_COC, aoc or DEFAULT_COC, value,
                        dv.get("comment"), follow if isinstance(follow, bool) else None,
                        deleted if isinstance(deleted, bool) else None))
    return ds, completion, decoded


def _upsert_group_243(state, ds, decoded: list, delete: bool, dry_run: bool, atomic: bool,
                      force: bool, user: str):
    """DefaultDataEntryService.upsertGroup/deleteGroup → (succeeded, value errors)."""
    if delete:  # DataEntryValue.toDeleted
        decoded = [v[:9] + (True,) for v in decoded]
    if not decoded:
        return 0, []
    store = state.store
    data_sets = store["dataSets"]
    if ds is None:  # autoTargetDataSet
        des = list(dict.fromkeys(v[1] for v in decoded))
        found = sorted({s for s, d in data_sets.items() for e in d.get("dataSetElements") or []
                        if (e.get("dataElement") or {}).get("id") in des})
        if not found:
            raise _GroupRejected("E8003", des)
        if len(found) != 1:
            raise _GroupRejected("E8002", found)
        ds = found[0]
    dataset = data_sets.get(ds) or {}
    # validateKeyConsistency, in DHIS2's order; an unknown id is "not usable" like a foreign one
    members = {(e.get("dataElement") or {}).get("id"): (e.get("categoryCombo") or {}).get("id")
               for e in dataset.get("dataSetElements") or []}
    elements = store["dataElements"]
    # An id the database does not hold is "not usable" too (the set's member list is a join on
    # dataelement in DHIS2, so a dangling reference left by the emulator's delete cannot count).
    not_in = list(dict.fromkeys(v[1] for v in decoded if v[1] not in members or v[1] not in elements))
    if not_in:
        raise _GroupRejected("E8020", ds, not_in)
    sources = {(o or {}).get("id") for o in dataset.get("organisationUnits") or []}
    not_in = list(dict.fromkeys(v[3] for v in decoded if v[3] not in sources))
    if not_in:
        raise _GroupRejected("E8022", ds, not_in)
    period_type = dataset.get("periodType")
    periods = list(dict.fromkeys(v[2] for v in decoded))
    not_in = [pe for pe in periods if _period_type(pe) != period_type]
    if not_in:
        raise _GroupRejected("E8021", ds, not_in)
    cocs = store["categoryOptionCombos"]
    combo_of = {uid: (c.get("categoryCombo") or {}).get("id") for uid, c in cocs.items()}
    ds_combo = (dataset.get("categoryCombo") or {}).get("id") or combo_of.get(DEFAULT_COC)
    not_in = [aoc for aoc in dict.fromkeys(v[5] for v in decoded)
              if aoc not in cocs or combo_of.get(aoc) != ds_combo]
    if not_in:
        raise _GroupRejected("E8023", ds, not_in)
    cocs_by_de: dict[str, dict[str, None]] = {}
    for v in decoded:
        cocs_by_de.setdefault(v[1], {})[v[4]] = None
    for de, used in cocs_by_de.items():
        combo = members.get(de) or ((elements.get(de) or {}).get("categoryCombo") or {}).get("id")
        not_in = [coc for coc in used if coc not in cocs or combo_of.get(coc) != combo]
        if not_in:
            raise _GroupRejected("E8024", ds, de, not_in)
    # E8031: the period must start inside the org unit's opening/closed dates
    units = store["organisationUnits"]
    late: dict[str, list[str]] = {}
    starts = {pe: period_range(pe)[0] for pe in periods}
    spans: dict[str, tuple] = {}
    for ou, pe in dict.fromkeys((v[3], v[2]) for v in decoded):
        if ou not in spans:
            unit = units.get(ou) or {}
            opened = parse_ts(str(unit.get("openingDate") or ""))
            closed = parse_ts(str(unit.get("closedDate") or ""))
            spans[ou] = (opened.date() if opened else None, closed.date() if closed else None)
        opened, closed = spans[ou]
        if (opened and starts[pe] < opened) or (closed and starts[pe] > closed):
            late.setdefault(ou, []).append(pe)
    if late:
        ou = next(iter(late))
        raise _GroupRejected("E8031", ou, late[ou])
    # validateEntryTimeliness: expiry days and future periods only bind users without
    # F_EDIT_EXPIRED, and every emulated user is a superuser; explicit input periods bind all.
    inputs = dataset.get("dataInputPeriods") or []
    if inputs and not force:
        today = state.now().date()
        input_spans: dict[str, list[tuple]] = {}
        for item in inputs:
            iso = (item.get("period") or {}).get("id")
            opening = parse_ts(str(item.get("openingDate") or ""))
            closing = parse_ts(str(item.get("closingDate") or ""))
            input_spans.setdefault(iso, []).append((opening, closing))

        def open_now(span) -> bool:
            opening, closing = span
            return ((opening is None or opening.date() <= today)
                    and (closing is None or today <= closing.date()))
        # 2.43.0 has this test inverted (`anyMatch`, fixed later to `noneMatch`): a period counts
        # as closed when it has no input period or when one of its input periods is open now.
        closed = [pe for pe in periods
                  if pe not in input_spans or any(open_now(s) for s in input_spans[pe])]
        if closed:
            raise _GroupRejected("E8030", ds, closed)
    # validateValues
    seen: dict[tuple, list[int]] = {}
    for v in decoded:
        seen.setdefault((v[1], v[2], v[3], v[4], v[5]), []).append(v[0])
    if len(seen) != len(decoded):
        dup_key, dup = min(((k, ix) for k, ix in seen.items() if len(ix) > 1),
                           key=lambda item: item[1][0])
        raise _GroupRejected("E8128", dup, "DataValueKey[dataElement=%s, period=%s, orgUnit=%s, "
                             "categoryOptionCombo=%s, attributeOptionCombo=%s]" % (
                                 dup_key[0], dup_key[1], dup_key[2], dup_key[3], dup_key[4]))
    errors: list[tuple[int, str, tuple]] = []
    valid = decoded
    if not all(v[9] is True for v in decoded):
        valid = []
        ctx_options = _Context(state).options
        comment_allows_empty = dataset.get("noValueRequiresComment") is True
        for v in decoded:
            element = elements.get(v[1]) or {}
            value_type = element.get("valueType", "TEXT")
            value = _normalize_243(v[6], value_type)
            comment = v[7]
            allow_empty = v[9] is True or (comment_allows_empty and not comment)
            if not value:
                if not allow_empty:
                    errors.append((v[0], "E8121" if comment_allows_empty else "E8120", (v[0],)))
                    continue
            else:
                reason = value_type_error(value_type, value)
                if reason:
                    errors.append((v[0], "E8122", (v[0], value, value_type, reason)))
                    continue
                options = ctx_options.get((element.get("optionSet") or {}).get("id"))
                if options is not None and value not in options:
                    errors.append((v[0], "E8123", (v[0], value, v[1])))
                    continue
            comment_options = ctx_options.get((element.get("commentOptionSet") or {}).get("id"))
            if comment_options is not None and (comment is None or comment not in comment_options):
                errors.append((v[0], "E8124", (v[0], comment)))
                continue
            if comment is not None and len(str(comment)) > 5000:
                errors.append((v[0], "E8125", (v[0], 5000)))
                continue
            valid.append(v[:6] + (value,) + v[7:])
    if atomic and len(valid) < len(decoded):
        if len(decoded) == 1 and len(errors) == 1:
            raise _GroupRejected(errors[0][1], *errors[0][2])
        first = ""
        if errors:
            first = _conflict_243(errors[0][1], errors[0][2], [])["value"]
        raise _GroupRejected("E8000", len(valid), len(decoded), first)
    if dry_run:
        return len(valid), errors
    # HibernateDataEntryStore.upsertValues: INSERT … ON CONFLICT DO UPDATE of every row, so an
    # unchanged value is written (and counted) too; storedby is the importing user.
    now = state.now_str()
    data = state.data
    for v in valid:
        key = (v[1], v[2], v[3], v[4], v[5])
        old = data.get(key)
        deleted = v[9] is True
        comment = v[7]
        if old is not None and not old[6] and deleted:
            comment = old[4]  # a deletion keeps the comment of the live row
        data.put(key, (v[6], user, old[2] if old is not None else now, now, comment, v[8],
                       deleted))
    return len(valid), errors


def _normalize_243(value: str | None, value_type: str) -> str | None:
    """DefaultDataEntryService.normalizeValue."""
    if value is None:
        return None
    if value_type.startswith("INTEGER") and value.endswith(".0"):
        return value[:-2]
    if value_type not in ("BOOLEAN", "TRUE_ONLY") or len(value) > 5:
        return value
    lower = value.lower()
    if lower in ("f", "n", "0", "no", "false"):
        return "false"
    if lower in ("t", "y", "1", "yes", "true"):
        return "true"
    return value


# ===================================================================== export
class ExportError(Exception):
    """An export request DHIS2 would refuse (409 with an E2xxx code)."""

    def __init__(self, message: str, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


_DURATION = re.compile(r"^(\d+)([dhms])$")  # DateUtils.DURATION_PATTERN


def _duration(text: str) -> timedelta | None:
    m = _DURATION.match(text.strip())
    if not m:
        return None
    n, unit = int(m[1]), m[2]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: n})


def _multi(params, name: str) -> list[str]:
    """Repeated parameters, also accepting comma-separated lists."""
    out: list[str] = []
    for raw in params.getlist(name) if hasattr(params, "getlist") else (
            [params[name]] if name in params else []):
        out.extend(x for x in str(raw).split(",") if x)
    return out


class Export:
    """One export's rows (already in answer order) and how this version writes them."""

    def __init__(self, rows: list, header: dict, version: tuple[int, int], tz,
                 group: dict | None = None) -> None:
        self.rows = rows
        self.header = header
        self.version = version
        self.gmt = GmtFormatter(tz)
        self.group = group or {}  # 2.43: the group-level ids values leave out


_ERRORS = {
    "E2001": "At least one data element, data set or data element group must be specified",
    "E2002": "At least one period, start/end dates, last updated or last updated duration must "
             "be specified",
    "E2003": "Both periods and start/end date cannot be specified",
    "E2004": "Start date must be before end date",
    "E2005": "Duration is not valid: `{}`",
    "E2006": "At least one organisation unit or organisation unit group must be specified",
    "E2007": "Organisation unit children cannot be included for organisation unit groups",
    "E2008": "At least one organisation unit must be specified when children are included",
    "E2009": "Limit cannot be less than zero: `{}`",
}


def select_data_values(state, params) -> Export:
    """Apply DHIS2's dataValueSets export rules for the emulated version."""
    version = state.version_tuple()
    v243 = version >= (2, 43)
    data_sets = list(dict.fromkeys(_multi(params, "dataSet")))
    groups = list(dict.fromkeys(_multi(params, "dataElementGroup")))
    elements = list(dict.fromkeys(_multi(params, "dataElement")))
    periods = list(dict.fromkeys(_multi(params, "period")))
    start, end = params.get("startDate"), params.get("endDate")
    last_updated = params.get("lastUpdated") or None
    duration = params.get("lastUpdatedDuration") or None
    org_units = list(dict.fromkeys(_multi(params, "orgUnit")))
    ou_groups = list(dict.fromkeys(_multi(params, "orgUnitGroup")))
    children = _flag(params, "children")
    include_deleted = _flag(params, "includeDeleted")
    aoc_list = list(dict.fromkeys(_multi(params, "attributeOptionCombo")))
    aocs = set(aoc_list)
    for name in ID_SCHEME_PARAMS:
        scheme = str(params.get(name, "UID")).upper()
        if scheme not in ("UID", "ID"):
            raise ExportError(f"{name}={scheme} is not supported by the DHIS2 emulator; use UID")
    tz = state.tz
    start_d = end_d = None
    if start and end:
        s, e = parse_ts(start, tz), parse_ts(end, tz)
        if s is None or e is None:
            raise ExportError(f"Invalid start/end date: `{start}`, `{end}`")
        start_d, end_d = s.date(), e.date()
    delta = _duration(duration) if duration else None
    since = parse_ts(last_updated, tz) if last_updated else None
    if last_updated and since is None:
        raise ExportError(f"Invalid lastUpdated date: `{last_updated}`")
    limit = params.get("limit")
    # 2.36–2.42 have no `offset` (DataValueSetQueryParams): an unknown parameter is ignored.
    offset = params.get("offset") if v243 else None
    try:
        limit_n = int(limit) if limit not in (None, "") else None
        offset_n = abs(int(offset)) if offset not in (None, "") else 0  # QueryBuilder.setOffset
    except ValueError as exc:
        raise ExportError(f"Invalid limit/offset: `{limit}`, `{offset}`") from exc

    checks = [  # (failed, code, argument) in DHIS2's order
        (not (data_sets or groups or elements), "E2001", None),
        # 2.43.0 validateFilters counts only periods and start/end as a time filter (a
        # lastUpdated-only export is E2002 until a later patch adds hasLastUpdatedFilters).
        (not (periods or start_d) if v243 else not (periods or start_d or since or duration),
         "E2002", None),
        (bool(periods and start_d), "E2003", None),
        (bool(start_d and start_d > end_d), "E2004", None),
        # 2.43.0 decodes an invalid duration to null (no filter) instead of refusing it.
        (bool(duration and delta is None and not v243), "E2005", duration),
        (not (org_units or ou_groups), "E2006", None),
        (bool(children and ou_groups), "E2007", None),
        (bool(children and not org_units and not v243), "E2008", None),
        (limit_n is not None and limit_n < 0, "E2009", limit),
    ]
    failed = [(code, arg) for bad, code, arg in checks if bad]
    if failed:
        # DefaultDataValueSetService.validate keeps the last error; 2.43 throws at the first.
        code, arg = failed[0] if v243 else failed[-1]
        raise ExportError(_ERRORS[code].format(arg), code)
    for pe in periods:
        if period_range(pe) is None:
            raise ExportError(f"Period is invalid: `{pe}`", "E1101")

    # The lastUpdated filter. SpringDataValueSetStore (2.36–2.42) writes the instant as UTC text
    # (`dv.lastupdated >= '<toLongGmtDate>'`) and PostgreSQL compares it with the zone-less,
    # server-local column: west of UTC the window starts late, east of it early. 2.43 binds a
    # Date, which compares correctly. lastUpdated wins over lastUpdatedDuration in both.
    threshold = None
    if since is not None or delta is not None:
        instant = since if since is not None else state.now() - delta
        threshold = format_ts(instant if v243 else local_to_utc(instant, tz))

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
        group_ids: dict[str, str] = {}
        if v243:
            # DefaultDataExportService.exportGroup: each id the query pins to exactly one value
            if len(data_sets) == 1:
                header["dataSet"] = data_sets[0]
            if len(periods) == 1:
                header["period"] = group_ids["period"] = periods[0]
            if len(org_units) == 1 and not children and not ou_groups:  # isExactOrgUnitsFilter
                header["orgUnit"] = group_ids["orgUnit"] = org_units[0]
            if len(aoc_list) == 1:
                header["attributeOptionCombo"] = group_ids["attributeOptionCombo"] = aoc_list[0]
        elif len(data_sets) == 1 and len(periods) == 1 and len(org_units) == 1 and not groups:
            # DataExportParams.isSingleDataValueSet; completeDate from getCompleteDate (the
            # default-AOC registration, whatever its `completed` flag), in UTC.
            reg = state.registrations.get((data_sets[0], periods[0], org_units[0], DEFAULT_COC))
            complete = None
            if reg and reg.get("date"):
                parsed = parse_ts(str(reg["date"]), tz)
                complete = GmtFormatter(tz)(format_ts(parsed)) if parsed else None
            header = {"dataSet": data_sets[0], "completeDate": complete, "period": periods[0],
                      "orgUnit": org_units[0]}
    # No ORDER BY before 2.43: any order, a fresh one per request; `limit` cuts that.
    _ORDER_RNG.shuffle(rows)
    if v243:
        # HibernateDataExportStore: ORDER BY pe.startdate, pe.enddate, dv.created, deid; rows
        # that tie keep the shuffled order, so pages can overlap or skip on ties.
        starts: dict[str, tuple] = {}
        for key, _rec in rows:
            if key[1] not in starts:
                starts[key[1]] = period_range(key[1]) or (date.min, date.min)
        rows.sort(key=lambda item: (starts[item[0][1]], item[1][2], item[0][0]))
        rows = rows[offset_n:offset_n + limit_n] if limit_n is not None else rows[offset_n:]
    elif limit_n is not None:
        rows = rows[:limit_n]
    return Export(rows, header, version, tz, group_ids)


def _row_236(gmt):
    """StreamingJsonDataValue (2.36): null fields are left out."""
    def row(key: Key, rec: Record) -> dict:
        out = {"dataElement": key[0], "period": key[1], "orgUnit": key[2],
               "categoryOptionCombo": key[3], "attributeOptionCombo": key[4]}
        for name, val in (("value", rec[0]), ("storedBy", rec[1]), ("created", gmt(rec[2])),
                          ("lastUpdated", gmt(rec[3])), ("comment", rec[4])):
            if val is not None:
                out[name] = val
        out["followup"] = bool(rec[5])
        if rec[6]:
            out["deleted"] = True
        return out
    return row


def _row_238(gmt):
    """JsonDataValueSetWriter (2.38–2.42): every field, explicit nulls; `deleted` only if true."""
    def row(key: Key, rec: Record) -> dict:
        out = {"dataElement": key[0], "period": key[1], "orgUnit": key[2],
               "categoryOptionCombo": key[3], "attributeOptionCombo": key[4], "value": rec[0],
               "storedBy": rec[1], "created": gmt(rec[2]), "lastUpdated": gmt(rec[3]),
               "comment": rec[4], "followup": bool(rec[5])}
        if rec[6]:
            out["deleted"] = True
        return out
    return row


def _row_243(gmt, group: dict):
    """DataExportOutput.toJson (2.43): nulls and empty comment/storedBy left out, and ids the
    group header already holds (period, orgUnit, attributeOptionCombo) left out of each value."""
    pe_g, ou_g, aoc_g = group.get("period"), group.get("orgUnit"), group.get("attributeOptionCombo")

    def row(key: Key, rec: Record) -> dict:
        out = {"dataElement": key[0]}
        if key[1] != pe_g:
            out["period"] = key[1]
        if key[2] != ou_g:
            out["orgUnit"] = key[2]
        out["categoryOptionCombo"] = key[3]
        if aoc_g is None:
            out["attributeOptionCombo"] = key[4]
        for name, val in (("value", rec[0]), ("storedBy", rec[1] or None),
                          ("created", gmt(rec[2])), ("lastUpdated", gmt(rec[3])),
                          ("comment", rec[4] or None), ("followup", rec[5])):
            if val is not None:
                out[name] = val
        if rec[6]:
            out["deleted"] = True
        return out
    return row


def render_json(export: Export, chunk: int = 20000) -> Iterable[bytes]:
    """Stream the dataValueSet in chunks so a million rows never sit in one string."""
    version, rows, header = export.version, export.rows, export.header
    if version >= (2, 43):
        row = _row_243(export.gmt, export.group)
    elif version >= (2, 38):
        row = _row_238(export.gmt)
    else:
        row = _row_236(export.gmt)
        header = {k: v for k, v in header.items() if v is not None}
        if not rows:  # StreamingJsonDataValueSet opens `dataValues` with the first value only
            yield json.dumps(header, separators=(",", ":")).encode()
            return
    head = json.dumps(header, separators=(",", ":"))[:-1]
    yield (head + ("," if header else "") + '"dataValues":[').encode()
    for start in range(0, len(rows), chunk):
        part = [row(k, r) for k, r in rows[start:start + chunk]]
        text = json.dumps(part, separators=(",", ":"))[1:-1]
        yield (("," if start else "") + text).encode()
    yield b"]}"


def render_csv(export: Export) -> bytes:
    """CsvDataValueSetWriter / DataExportOutput.toCsv: lastupdated in UTC like the JSON."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["dataelement", "period", "orgunit", "categoryoptioncombo",
                     "attributeoptioncombo", "value", "storedby", "lastupdated", "comment",
                     "followup", "deleted"])
    gmt = export.gmt
    for key, rec in export.rows:
        writer.writerow([*key, rec[0] or "", rec[1] or "", gmt(rec[3]), rec[4] or "",
                         str(bool(rec[5])).lower(), str(rec[6]).lower()])
    return out.getvalue().encode()
