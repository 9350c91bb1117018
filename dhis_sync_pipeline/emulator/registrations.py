"""Complete data set registrations: /api/completeDataSetRegistrations GET, POST and DELETE.

Follows DefaultCompleteDataSetRegistrationExchangeService (import, export validation),
JdbcCompleteDataSetRegistrationExchangeStore (export query and writer) and
CompleteDataSetRegistrationController (parameters, DELETE), whose logic is the same from 2.36
to 2.43 except where a version is named below.

A registration is stored under (dataSet, period, orgUnit, aoc) as {date, storedBy,
lastUpdatedBy, lastUpdated, completed}, times as server-local text like DHIS2's zone-less
`timestamp` columns. `completed: false` is stored and exported, never deleted: only
importStrategy=DELETE and the DELETE method remove a registration.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Mapping

from .data_values import ExportError, _base_summary, _flag, _multi
from .metadata_import import ImportRequestError, parse_json_body
from .periods import period_range
from .responses import web_message
from .schema import DEFAULT_CATEGORY_COMBO, DEFAULT_COC
from .timeutil import format_ts, local_to_utc_wall, parse_dhis2_date

# ImportStrategy values ImportOptions binds (the old names are aliases).
STRATEGIES = {"CREATE": "CREATE", "UPDATE": "UPDATE", "CREATE_AND_UPDATE": "CREATE_AND_UPDATE",
              "DELETE": "DELETE", "SYNC": "SYNC", "NEW_AND_UPDATES": "CREATE_AND_UPDATE",
              "NEW": "CREATE", "UPDATES": "UPDATE", "DELETES": "DELETE"}
# DefaultCompleteDataSetRegistrationExchangeService.EXPORT_ID_SCHEMES; any other becomes UID.
EXPORT_ID_SCHEMES = {"UID": "id", "CODE": "code", "NAME": "name"}
# DateUtils.DURATION_PATTERN / TEMPORAL_MAP.
_DURATION = re.compile(r"^(\d+)(d|h|m|s)$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class BadRequest(Exception):
    """What Spring's binding refuses before DHIS2's code runs: HTTP 400."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ===================================================================== storage
def _store(state, key: tuple, date: datetime, stored_by: str, last_updated_by: str,
           completed: bool) -> None:
    ds, pe, ou, aoc = key
    text = format_ts(date)
    # CompleteDataSetRegistration(…, date, storedBy, date, lastUpdatedBy, completed): the
    # importer sets lastUpdated to the completion date, not to the time of the write.
    state.registrations[key] = {
        "dataSet": ds, "period": pe, "organisationUnit": ou, "attributeOptionCombo": aoc,
        "date": text, "storedBy": stored_by, "lastUpdatedBy": last_updated_by,
        "lastUpdated": text, "completed": completed,
    }


def register(state, data_set: str, period: str, org_unit: str, aoc: str, date: Any,
             user: str, completed: bool) -> str:
    """Store one registration (the dataValueSets `completeDate` path); returns 'imported' or
    'updated'. Caller holds the lock."""
    key = (data_set, period, org_unit, aoc)
    parsed = parse_dhis2_date(str(date), state.tz) if date else None
    existing = key in state.registrations
    _store(state, key, parsed or state.now(), user, user, bool(completed))
    return "updated" if existing else "imported"


# ===================================================================== import (POST)
Conflicts = dict  # (object, message) → conflict, in order of appearance


def _conflict(conflicts: Conflicts, obj: Any, message: str) -> None:
    """ImportSummary.addConflict(object, value): no error code, no indexes, one entry per
    object and message. Returns None: the registration is ignored."""
    entry: dict[str, Any] = {"object": obj, "value": message}
    if obj is None:
        del entry["object"]  # Jackson leaves nulls out
    conflicts.setdefault((str(obj), message), entry)


def _trim(value: Any) -> str | None:
    """StringUtils.trimToNull (and the mapper's empty-string-to-null)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _boolean(value: Any, name: str) -> bool | None:
    """Jackson's Boolean: true/false, also as strings; anything else fails the import."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"Cannot deserialize value of type `java.lang.Boolean` from "
                     f"`{value}` (property `{name}`)")


def _period_type(iso: str) -> str | None:
    """PeriodType#getName of an ISO period, for strictPeriods."""
    for pattern, name in ((r"\d{4}", "Yearly"), (r"\d{8}", "Daily"), (r"\d{4}-?\d{2}", "Monthly"),
                          (r"\d{6}B", "BiMonthly"), (r"\d{4}Q[1-4]", "Quarterly"),
                          (r"\d{4}S[12]", "SixMonthly"), (r"\d{4}AprilS[12]", "SixMonthlyApril"),
                          (r"\d{4}NovS[12]", "SixMonthlyNov"), (r"\d{4}April", "FinancialApril"),
                          (r"\d{4}July", "FinancialJuly"), (r"\d{4}Oct", "FinancialOct"),
                          (r"\d{4}Nov", "FinancialNov"), (r"\d{4}BiW\d{1,2}", "BiWeekly"),
                          (r"\d{4}W\d{1,2}", "Weekly"), (r"\d{4}WedW\d{1,2}", "WeeklyWednesday"),
                          (r"\d{4}ThuW\d{1,2}", "WeeklyThursday"),
                          (r"\d{4}SatW\d{1,2}", "WeeklySaturday"),
                          (r"\d{4}SunW\d{1,2}", "WeeklySunday")):
        if re.fullmatch(pattern, iso):
            return name
    return None


def _descendant(units: dict, ou: str, ancestors: set[str]) -> bool:
    """OrganisationUnit#isDescendant: the unit itself or one below any of `ancestors`."""
    path = (units.get(ou) or {}).get("path", "/" + ou)
    return any(part in ancestors for part in path.split("/") if part)


def _aoc_problem(state, ds_uid: str, pe: str, ou: str, aoc_uid: str) -> tuple | None:
    """validateAttrOptCombo: the period inside the AOC's options' dates, the org unit inside
    their org units. Stricter: DataSet#openPeriodsAfterCoEndDate is not granted."""
    store = state.store
    options = [store["categoryOptions"].get(ref.get("id")) or {}
               for ref in (store["categoryOptionCombos"][aoc_uid].get("categoryOptions") or [])]
    starts = [parse_dhis2_date(o["startDate"], state.tz) for o in options if o.get("startDate")]
    ends = [parse_dhis2_date(o["endDate"], state.tz) for o in options if o.get("endDate")]
    start, end = max(filter(None, starts), default=None), min(filter(None, ends), default=None)
    rng = period_range(pe)
    if rng and ((start and start.date() > rng[0]) or (end and end.date() < rng[1])):
        return ou, f"Period: {pe} is not within range of attribute option combo: {aoc_uid}"
    allowed: set[str] | None = None
    for option in options:
        units = {ref.get("id") for ref in option.get("organisationUnits") or []}
        if units:
            allowed = units if allowed is None else allowed & units
    if allowed is not None and not _descendant(store["organisationUnits"], ou, allowed):
        return ou, f"Organisation unit: {ou} is not valid for attribute option combo {aoc_uid}"
    return None


def _scheme_check(params: Mapping[str, Any], where: str) -> None:
    for name in ("idScheme", "dataSetIdScheme", "orgUnitIdScheme", "attributeOptionComboIdScheme"):
        scheme = str(params.get(name) or "UID").upper()
        if scheme not in ("UID", "ID"):
            raise ImportRequestError(f"{name}={scheme} ({where}) is not supported by the DHIS2 "
                                     "emulator for completeDataSetRegistrations; use UID")


def check_import_params(params: Mapping[str, str]) -> str:
    """What binding ImportOptions refuses (HTTP 400, before any job starts); returns the
    import strategy."""
    raw_strategy = str(params.get("importStrategy") or "CREATE_AND_UPDATE").upper()
    if raw_strategy not in STRATEGIES:
        raise ImportRequestError(f"Value '{params.get('importStrategy')}' is not valid for "
                                 f"parameter importStrategy. Valid values are: "
                                 f"[{', '.join(STRATEGIES)}]")
    _scheme_check(params, "parameter")
    return raw_strategy


def import_registrations(state, payload: Any, params: Mapping[str, str], user: str) -> dict:
    """POST: DefaultCompleteDataSetRegistrationExchangeService#saveCompleteDataSetRegistrations.

    Returns the raw ImportSummary. Raises ImportRequestError for what the controller's
    parameter binding refuses (HTTP 400)."""
    raw_strategy = check_import_params(params)
    version = state.version_tuple()
    try:
        data = parse_json_body(payload)
        if not isinstance(data, dict):
            raise ImportRequestError("Cannot deserialize value of type `org.hisp.dhis.dxf2."
                                     "dataset.CompleteDataSetRegistrations` from Array value")
        items = data.get("completeDataSetRegistrations") or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ImportRequestError("Cannot deserialize `completeDataSetRegistrations`: "
                                     "expected a list of objects")
        _scheme_check(data, "payload")
        # ImportConfig: the payload's `strategy` and `dryRun` win over the parameters.
        strategy = STRATEGIES.get(str(data.get("strategy") or raw_strategy).upper(), raw_strategy)
        dry_run = _boolean(data.get("dryRun"), "dryRun")
    except (ImportRequestError, ValueError) as exc:
        return _summary(version, "ERROR", "The import process failed: " +
                        getattr(exc, "message", str(exc)))
    dry_run = _flag(params, "dryRun") if dry_run is None else dry_run
    skip_existing = _flag(params, "skipExistingCheck")
    conflicts: Conflicts = {}
    imported = updated = deleted = 0
    failure = None
    with state.lock:
        now = state.now()  # `Date now = new Date()` once per import
        for index, item in enumerate(items):
            try:
                outcome = _import_one(state, item, params, user, now, strategy, dry_run,
                                      skip_existing, conflicts)
            except ValueError as exc:
                # An unreadable date or boolean escapes batchImport: the whole summary becomes
                # ERROR; what was written before stays written.
                failure = str(exc)
                break
            imported += outcome == "imported"
            updated += outcome == "updated"
            deleted += outcome == "deleted"
    if failure is not None:
        return _summary(version, "ERROR", f"The import process failed: {failure}")
    # finalizeSummary: ignored = total − the rest; ERROR when nothing at all was applied (also
    # for an empty list), SUCCESS otherwise, never WARNING.
    total = len(items)
    ignored = total - imported - updated - deleted
    summary = _summary(version, "ERROR" if total == ignored else "SUCCESS",
                       "Import process complete.")
    summary["importCount"] = {"imported": imported, "updated": updated, "ignored": ignored,
                              "deleted": deleted}
    summary["conflicts"] = list(conflicts.values())
    return summary


def _import_one(state, item: dict, params, user: str, now: datetime, strategy: str,
                dry_run: bool, skip_existing: bool, conflicts: Conflicts) -> str | None:
    """One registration: batchImport's loop body. Returns what was counted (None: ignored)."""
    store = state.store
    # The payload's property is `organisationUnit`; `orgUnit` is an unknown property, which
    # DHIS2's mapper ignores, so such a registration has no org unit and is rejected.
    ds, pe, ou = _trim(item.get("dataSet")), _trim(item.get("period")), _trim(
        item.get("organisationUnit"))
    aoc = _trim(item.get("attributeOptionCombo"))
    data_set = store["dataSets"].get(ds) if ds else None
    # MetadataProperties#validate
    if data_set is None:
        return _conflict(conflicts, item.get("dataSet"), "Data set not found or not accessible")
    if pe is None or period_range(pe) is None:
        return _conflict(conflicts, item.get("period"), "Period not valid")
    if ou is None or ou not in store["organisationUnits"]:
        return _conflict(conflicts, item.get("organisationUnit"),
                         "Organisation unit not found or not accessible")
    if aoc not in store["categoryOptionCombos"]:
        # An unknown (or absent) AOC falls back to the default one, as DHIS2 does, unless
        # requireAttributeOptionCombo is set.
        if _flag(params, "requireAttributeOptionCombo"):
            return _conflict(conflicts, "Attribute option combo",
                             "Attribute option combo is required but is not specified")
        aoc = DEFAULT_COC
    ds_combo = (data_set.get("categoryCombo") or {}).get("id") or DEFAULT_CATEGORY_COMBO
    aoc_combo = (store["categoryOptionCombos"][aoc].get("categoryCombo") or {}).get("id")
    if _flag(params, "strictAttributeOptionCombos") and aoc_combo != ds_combo:
        return _conflict(conflicts, aoc_combo, f"Attribute option combo: {aoc_combo} must have "
                                               f"category combo: {ds_combo}")
    problem = _aoc_problem(state, ds, pe, ou, aoc)
    if problem:
        return _conflict(conflicts, *problem)
    if _flag(params, "strictPeriods") and _period_type(pe) != data_set.get("periodType"):
        return _conflict(conflicts, pe, f"Period type of period: {pe} is not equal to the period "
                                        f"type of data set: {data_set.get('periodType')}")
    if _flag(params, "strictOrganisationUnits") and ou not in {
            r.get("id") for r in data_set.get("organisationUnits") or []}:
        return _conflict(conflicts, ds, f"Data set {ds} is not assigned to organisation unit {ou}")
    stored_by = _trim(item.get("storedBy")) or user
    last_updated_by = _trim(item.get("lastUpdatedBy")) or user
    completed = _boolean(item.get("completed"), "completed")
    completed = True if completed is None else completed
    date_text = _trim(item.get("date"))
    date = now
    if date_text is not None:
        date = parse_dhis2_date(date_text, state.tz)
        if date is None:
            raise ValueError(f'Invalid format: "{date_text}"')
    key = (ds, pe, ou, aoc)
    exists = key in state.registrations and not skip_existing
    if exists:
        if strategy in ("CREATE_AND_UPDATE", "UPDATE", "SYNC"):
            if not dry_run:
                _store(state, key, date, stored_by, last_updated_by, completed)
            return "updated"
        if strategy == "DELETE":
            if not dry_run:
                del state.registrations[key]
            return "deleted"
        return None
    if strategy in ("CREATE_AND_UPDATE", "CREATE", "SYNC"):
        if dry_run:
            return "imported"
        if key in state.registrations:  # skipExistingCheck: the insert fails, nothing counted
            return None
        _store(state, key, date, stored_by, last_updated_by, completed)
        return "imported"
    return None


def _summary(version: tuple[int, int], status: str, description: str) -> dict:
    summary = _base_summary(status, description)
    summary.pop("dataSetComplete", None)
    if version < (2, 39):  # ImportSummary#getRejectedIndexes exists from 2.39
        summary.pop("rejectedIndexes", None)
    return summary


def registration_response(summary: dict, version: tuple[int, int]) -> tuple[int, dict]:
    """CompleteDataSetRegistrationController: 2.36 renders the plain summary with 200; from
    2.38 WebMessageUtils#importSummary wraps it (ERROR → 409; the importer never says WARNING)."""
    if version < (2, 38):
        return 200, summary
    if summary["status"] == "ERROR":
        return 409, web_message(409, "An error occurred, please check import summary.",
                                wm_status="ERROR", response=summary)
    return 200, web_message(200, "Import was successful.", wm_status="OK", response=summary)


# ===================================================================== export (GET)
def _bool_param(params, name: str) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return False
    # Spring's StringToBooleanConverter
    if raw.lower() in ("true", "on", "yes", "1"):
        return True
    if raw.lower() in ("false", "off", "no", "0"):
        return False
    raise BadRequest(f"Value '{raw}' is not valid for parameter {name}. "
                     f"Invalid boolean value '{raw}'")


def _date_param(state, params, name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    value = parse_dhis2_date(raw, state.tz)
    if value is None:  # CrudControllerAdvice, TypeMismatchException from FromTextPropertyEditor
        raise BadRequest(f"Value '{raw}' is not valid for parameter {name}. "
                         f'Invalid format: "{raw}"')
    return value


def _output_scheme(params, name: str) -> str:
    """IdSchemes + limitToValidIdSchemes: UID, CODE or NAME; anything else exports UIDs."""
    raw = params.get(name) or params.get("idScheme") or "UID"
    return EXPORT_ID_SCHEMES.get(raw.upper(), "id")


def select_registrations(state, params) -> list[dict]:
    """GET: paramsFromUrl, validate() and the JDBC query. Raises ExportError (409, E20xx) or
    BadRequest (400)."""
    version = state.version_tuple()
    # Up to 2.40 `@RequestParam Set<String> dataSet` is required (Spring answers 400); from 2.41
    # the parameters bind to CompleteDataSetRegQueryParams and a missing one reaches validate().
    if version < (2, 41) and "dataSet" not in params:
        raise BadRequest("Required request parameter 'dataSet' for method parameter type Set "
                         "is not present")
    limit = None
    if params.get("limit") not in (None, ""):
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadRequest(f"Value '{params['limit']}' is not valid for parameter limit. "
                             f"For input string: \"{params['limit']}\"") from None
    children = _bool_param(params, "children")
    start, end = _date_param(state, params, "startDate"), _date_param(state, params, "endDate")
    created = _date_param(state, params, "created")
    duration = params.get("createdDuration") or None
    with state.lock:
        store = state.store
        # idObjManager.getObjects(…, UID, …): unknown uids are dropped silently.
        data_sets = [u for u in dict.fromkeys(_multi(params, "dataSet")) if u in store["dataSets"]]
        units = store["organisationUnits"]
        org_units = [u for u in dict.fromkeys(_multi(params, "orgUnit")) if u in units]
        groups = [u for u in dict.fromkeys(_multi(params, "orgUnitGroup"))
                  if u in store["organisationUnitGroups"]]
        raw_periods = _multi(params, "period")
        periods: list[str] = []
        for pe in dict.fromkeys(raw_periods):
            if period_range(pe) is not None:
                periods.append(pe)
            elif version >= (2, 43):  # Period.of throws; ≤ 2.42 drops the period silently
                raise BadRequest(f"Invalid Period `{pe}`, failed to create date interval")
        # paramsFromUrl: start/end dates count only without any `period` parameter.
        has_dates = not raw_periods and start is not None and end is not None
        # validate(): every failed check overwrites the previous one, so the LAST failing
        # check is the one reported. There is no lastUpdated selection (E2002 names it, but
        # ExportParams has none; an unknown parameter is ignored).
        error = None
        if not data_sets:
            error = ("E2013", "At least one data set must be specified")
        if not periods and not has_dates and created is None and not duration:
            error = ("E2002", "At least one period, start/end dates, last updated or last "
                              "updated duration must be specified")
        if periods and has_dates:  # unreachable, as in DHIS2 (paramsFromUrl keeps one)
            error = ("E2003", "Both periods and start/end date cannot be specified")
        if has_dates and start > end:
            error = ("E2004", "Start date must be before end date")
        if duration and not _DURATION.match(duration):
            error = ("E2005", "Duration is not valid: `{0}`")  # DHIS2 passes no argument
        if not org_units and not groups:
            error = ("E2006", "At least one organisation unit or organisation unit group must "
                              "be specified")
        if children and groups:
            error = ("E2007", "Organisation unit children cannot be included for organisation "
                              "unit groups")
        if children and not org_units:
            error = ("E2008", "At least one organisation unit must be specified when children "
                              "are included")
        if limit is not None and limit < 0:
            error = ("E2009", "Limit cannot be less than zero: `{0}`")
        if error:
            raise ExportError(error[1], error[0])
        return _query(state, params, data_sets, org_units, groups, children, periods,
                      (start, end) if has_dates else None, created, duration, limit)


def _query(state, params, data_sets, org_units, groups, children, periods, dates, created,
           duration, limit) -> list[dict]:
    """JdbcCompleteDataSetRegistrationExchangeStore#createQuery and #write."""
    store = state.store
    units = store["organisationUnits"]
    threshold = None
    if created is not None:
        # createCreatedClause: `cdsr.date >= '<created as UTC, with +0000>'`; PostgreSQL drops
        # the offset when comparing with a zone-less column, so the threshold is the UTC wall
        # time against server-local dates: west of UTC it starts |offset| hours late.
        threshold = local_to_utc_wall(created, state.tz)
    elif duration:
        # nowMinusDuration takes LocalDateTime.now() as if it were UTC and prints it as UTC:
        # the two cancel, and the threshold is server-local now minus the duration.
        n, unit = _DURATION.match(duration).groups()
        threshold = state.now() - timedelta(**{_UNITS[unit]: int(n)})
    threshold_text = format_ts(threshold) if threshold is not None else None
    wanted_ds, wanted_pe = set(data_sets), set(periods)
    roots = tuple(units[u]["path"] for u in org_units)
    members: dict[str, list[str]] = {}
    if groups and not children:
        for uid, group in store["organisationUnitGroups"].items():
            for ref in group.get("organisationUnits") or []:
                members.setdefault(ref.get("id"), []).append(uid)
    wanted_ou, wanted_groups = set(org_units), set(groups)
    schemes = {name: _output_scheme(params, name)
               for name in ("dataSetIdScheme", "orgUnitIdScheme", "attributeOptionComboIdScheme")}
    out: list[dict] = []
    # No ORDER BY in DHIS2; the emulator answers in key order so paging tests are stable.
    for (ds, pe, ou, aoc), reg in sorted(state.registrations.items()):
        if ds not in wanted_ds or ou not in units:
            continue
        if children:
            # `ou.path LIKE '<path>%'`: the units themselves and everything below them.
            copies = 1 if units[ou].get("path", "").startswith(roots) else 0
        elif groups:
            # LEFT JOIN orgunitgroupmembers: one row per membership of the unit (in ANY group),
            # kept when the unit or that group was asked for, so rows can repeat.
            rows = members.get(ou) or [None]
            copies = sum(1 for g in rows if ou in wanted_ou or g in wanted_groups)
        else:
            copies = 1 if ou in wanted_ou else 0
        if not copies:
            continue
        if dates is not None:
            # `pe.startdate >= startDate AND pe.enddate <= endDate` on dates (server-local).
            rng = period_range(pe)
            if rng is None or rng[0] < dates[0].date() or rng[1] > dates[1].date():
                continue
        elif periods and pe not in wanted_pe:
            continue
        if threshold_text is not None and reg["date"] < threshold_text:
            continue
        row = {"period": pe,
               "dataSet": _identifier(store["dataSets"], ds, schemes["dataSetIdScheme"]),
               "organisationUnit": _identifier(units, ou, schemes["orgUnitIdScheme"]),
               "attributeOptionCombo": _identifier(store["categoryOptionCombos"], aoc,
                                                   schemes["attributeOptionComboIdScheme"]),
               "date": reg["date"][:10],  # removeTime: the first 10 characters, a date only
               "storedBy": reg.get("storedBy"),
               "completed": bool(reg.get("completed", True))}
        out.extend({k: v for k, v in row.items() if v is not None} for _ in range(copies))
    return out[:limit] if limit is not None else out


def _identifier(collection: dict, uid: str, prop: str) -> str | None:
    if prop == "id":
        return uid
    return (collection.get(uid) or {}).get(prop)


def render(rows: list[dict]) -> dict:
    """StreamingJsonCompleteDataSetRegistrations opens the array with the first row only:
    no rows gives `{}`."""
    return {"completeDataSetRegistrations": rows} if rows else {}


# ===================================================================== DELETE
def delete_registrations(state, params) -> None:
    """CompleteDataSetRegistrationController#deleteCompleteDataSetRegistration (204).

    Raises BadRequest (missing parameter) or ExportError (409 conflict). Lock checks are not
    emulated (no period is ever locked here)."""
    for name in ("ds", "pe", "ou"):
        if not params.get(name):
            kind = "Set" if name == "ds" else "String"
            raise BadRequest(f"Required request parameter '{name}' for method parameter type "
                             f"{kind} is not present")
    version = state.version_tuple()
    with state.lock:
        store = state.store
        asked = list(dict.fromkeys(_multi(params, "ds")))
        if any(uid not in store["dataSets"] for uid in asked):
            raise ExportError(f"Illegal data set identifier in this list: [{', '.join(asked)}]")
        pe = params["pe"]
        if period_range(pe) is None:
            if version >= (2, 43):  # Period.of
                raise BadRequest(f"Invalid Period `{pe}`, failed to create date interval")
            raise ExportError(f"Illegal period identifier: {pe}")
        ou = params["ou"]
        if ou not in store["organisationUnits"]:
            raise ExportError(f"Illegal organisation unit identifier: {ou}")
        aoc = _attribute_option_combo(state, params.get("cc"), params.get("cp"))
        targets = [ou]
        if _bool_param(params, "multiOu"):
            targets += state.children_map().get(ou, [])
        for unit in targets:
            for ds in asked:
                # unRegisterCompleteDataSet: only where the data set is assigned to the unit.
                assigned = {r.get("id") for r in store["dataSets"][ds].get("organisationUnits")
                            or []}
                if unit in assigned:
                    state.registrations.pop((ds, pe, unit, aoc), None)


def _attribute_option_combo(state, cc: str | None, cp: str | None) -> str:
    """InputUtils#getAttributeOptionCombo: none given → default; else the combo's option combo
    holding exactly the options `cp` (semicolon-separated). Unknown → 409 (stricter)."""
    if not cc and not cp:
        return DEFAULT_COC
    wanted = set((cp or "").split(";")) - {""}
    for uid, coc in state.store["categoryOptionCombos"].items():
        if (coc.get("categoryCombo") or {}).get("id") == cc and {
                r.get("id") for r in coc.get("categoryOptions") or []} == wanted:
            return uid
    raise ExportError(f"Illegal attribute option combo identifier: {cc} {cp}")
