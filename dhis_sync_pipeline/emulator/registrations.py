"""Complete data set registrations: /api/completeDataSetRegistrations GET and POST."""

from __future__ import annotations

from typing import Any, Mapping

from .data_values import ExportError, _base_summary, _Conflicts, _flag, _multi
from .metadata_import import ImportRequestError, parse_json_body
from .periods import period_range
from .schema import DEFAULT_COC
from .timeutil import format_ts, parse_ts


def register(state, data_set: str, period: str, org_unit: str, aoc: str, date: Any,
             user: str, completed: bool) -> str:
    """Store one registration; returns 'imported' or 'updated'. Caller holds the lock."""
    key = (data_set, period, org_unit, aoc)
    parsed = parse_ts(str(date), state.tz) if date else None
    now = state.now_str()
    existing = state.registrations.get(key)
    state.registrations[key] = {
        "dataSet": data_set, "period": period, "organisationUnit": org_unit,
        "attributeOptionCombo": aoc, "date": format_ts(parsed) if parsed else now,
        "storedBy": user, "completed": completed, "lastUpdated": now, "lastUpdatedBy": user,
    }
    return "updated" if existing else "imported"


def import_registrations(state, payload: Any, params: Mapping[str, str], user: str) -> dict:
    """POST: validate each registration like DHIS2 and answer with an ImportSummary."""
    try:
        data = parse_json_body(payload)
    except ImportRequestError as exc:
        return _base_summary("ERROR", f"The import process failed: {exc.message}")
    items = data.get("completeDataSetRegistrations") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return _base_summary("ERROR", "The import process failed: payload must contain a "
                                      "`completeDataSetRegistrations` list")
    summary = _base_summary("SUCCESS", "Import process completed successfully")
    summary.pop("dataSetComplete")
    count = summary["importCount"]
    conflicts = _Conflicts()
    dry_run = _flag(params, "dryRun")
    strategy = str(params.get("importStrategy", "CREATE_AND_UPDATE")).upper()
    with state.lock:
        store = state.store
        for index, item in enumerate(items):
            ds = item.get("dataSet")
            pe = item.get("period")
            ou = item.get("organisationUnit") or item.get("orgUnit")
            aoc = item.get("attributeOptionCombo") or DEFAULT_COC
            problem = None
            if ds not in store["dataSets"]:
                problem = ("E7600", "dataSet", ds, f"Data set not found or not accessible: `{ds}`")
            elif not isinstance(pe, str) or period_range(pe) is None:
                problem = ("E7611", "period", pe, f"Period not valid: `{pe}`")
            elif ou not in store["organisationUnits"]:
                problem = ("E7612", "orgUnit", ou,
                           f"Organisation unit not found or not accessible: `{ou}`")
            elif aoc not in store["categoryOptionCombos"]:
                problem = ("E7615", "attributeOptionCombo", aoc,
                           f"Attribute option combo not found or not accessible for writing "
                           f"data: `{aoc}`")
            if problem:
                code, prop, obj, message = problem
                conflicts.add(index, code, prop, str(obj), {prop: str(obj)}, message)
                count["ignored"] += 1
                continue
            key = (ds, pe, ou, aoc)
            if strategy in ("DELETE", "DELETES"):
                if key in state.registrations:
                    if not dry_run:
                        del state.registrations[key]
                    count["deleted"] += 1
                else:
                    count["ignored"] += 1
                continue
            completed = item.get("completed", True)
            completed = completed if isinstance(completed, bool) else str(completed) == "true"
            if dry_run:
                count["updated" if key in state.registrations else "imported"] += 1
            else:
                outcome = register(state, ds, pe, ou, aoc, item.get("date"),
                                   item.get("storedBy") or user, completed)
                count[outcome] += 1
    summary["conflicts"] = conflicts.as_list()
    summary["rejectedIndexes"] = sorted(conflicts.rejected)
    if conflicts.items:
        summary["status"] = "WARNING"
    return summary


def select_registrations(state, params) -> list[dict]:
    """GET: registrations for dataSet(s), period(s) or dates, orgUnit(s) (+children)."""
    data_sets = set(_multi(params, "dataSet"))
    periods = set(_multi(params, "period"))
    org_units = _multi(params, "orgUnit")
    start, end = params.get("startDate"), params.get("endDate")
    last_updated = params.get("lastUpdated")
    if not data_sets:
        raise ExportError("At least one data set must be specified", "E2013")
    if not (periods or (start and end) or last_updated):
        raise ExportError("At least one period, start/end dates, last updated or last updated "
                          "duration must be specified", "E2002")
    if not org_units:
        raise ExportError("At least one organisation unit or organisation unit group must be "
                          "specified", "E2006")
    with state.lock:
        units = state.store["organisationUnits"]
        ous = set(org_units)
        if _flag(params, "children"):
            roots = tuple(units[u]["path"] + "/" for u in org_units if u in units)
            ous.update(uid for uid, unit in units.items()
                       if (unit.get("path", "") + "/").startswith(roots))
        s = parse_ts(start, state.tz).date() if start and end and parse_ts(start, state.tz) else None
        e = parse_ts(end, state.tz).date() if start and end and parse_ts(end, state.tz) else None
        since = None
        if last_updated:
            parsed = parse_ts(last_updated, state.tz)
            if parsed is None:
                raise ExportError(f"Invalid lastUpdated date: `{last_updated}`")
            since = format_ts(parsed)
        out = []
        for (ds, pe, ou, _aoc), reg in sorted(state.registrations.items()):
            if ds not in data_sets or ou not in ous:
                continue
            if periods and pe not in periods:
                continue
            if since is not None and reg.get("lastUpdated", "") < since:
                continue
            if s is not None:
                rng = period_range(pe)
                if rng is None or rng[0] < s or rng[1] > e:
                    continue
            out.append(dict(reg))
        return out
