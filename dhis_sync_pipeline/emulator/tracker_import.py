"""`POST /api/tracker`'s work: flatten, validate, commit, and the ImportReport.

Follows DefaultTrackerImportService / DefaultTrackerBundleService: a nested payload is flattened
(TrackerBundleParams), objects are validated in the order tracked entities, enrollments, events,
relationships; with `atomicMode=ALL` (DHIS2's default) any error commits nothing and the report is
ERROR; with `atomicMode=OBJECT` the valid objects are committed and the report stays OK, the
rejected ones only listed in `validationReport.errorReports` and counted `ignored`. Changes to
enrollments, events and relationships bump their tracked entities' `updatedAt`
(TrackerBundle#updatedTrackedEntities). `importStrategy=DELETE` soft-deletes and cascades (TE →
its enrollments, their events, its relationships; enrollment → its events), as a superuser with
F_TEI_CASCADE_DELETE may. `reportMode` ERRORS (default) leaves `bundleReport` out, FULL has it.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from .tracker_store import ID_FIELD, KINDS, TRACKER_TYPE, TrackerStore, store_of
from .tracker_validation import Metadata, Validator, _ref

STRATEGIES = ("CREATE", "UPDATE", "CREATE_AND_UPDATE", "DELETE")


class TrackerRequestError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def flatten(payload: dict) -> dict[str, list[dict]]:
    """Nested enrollments/events/relationships moved to the top level (TrackerBundleParams)."""
    out: dict[str, list[dict]] = {k: [] for k in KINDS}

    def take_relationships(obj: dict) -> None:
        out["relationships"].extend(obj.pop("relationships", None) or [])

    for te in payload.get("trackedEntities") or []:
        te = dict(te)
        for enrollment in te.pop("enrollments", None) or []:
            enrollment = dict(enrollment)
            enrollment.setdefault("trackedEntity", te.get("trackedEntity"))
            out["enrollments"].append(enrollment)
        take_relationships(te)
        out["trackedEntities"].append(te)
    for enrollment in [*out["enrollments"], *(payload.get("enrollments") or [])]:
        for event in enrollment.pop("events", None) or []:
            event = dict(event)
            event.setdefault("enrollment", enrollment.get("enrollment"))
            out["events"].append(event)
        take_relationships(enrollment)
    out["enrollments"].extend(dict(e) for e in payload.get("enrollments") or [])
    for event in payload.get("events") or []:
        event = dict(event)
        take_relationships(event)
        out["events"].append(event)
    out["relationships"].extend(payload.get("relationships") or [])
    return out


def parse_params(params: dict[str, str]) -> dict[str, str]:
    strategy = params.get("importStrategy", "CREATE_AND_UPDATE").upper()
    atomic = params.get("atomicMode", "ALL").upper()
    if strategy not in STRATEGIES:
        raise TrackerRequestError(f"Value {strategy} is not valid for parameter importStrategy. "
                                  f"Valid values are: {list(STRATEGIES)}")
    if atomic not in ("ALL", "OBJECT"):
        raise TrackerRequestError(f"Value {atomic} is not valid for parameter atomicMode. "
                                  "Valid values are: [ALL, OBJECT]")
    return {"importStrategy": strategy, "atomicMode": atomic,
            "reportMode": params.get("reportMode", "ERRORS").upper()}


def import_tracker(state, payload: dict, params: dict[str, str]) -> dict[str, Any]:
    """Validate and commit; returns the ImportReport (as /report and async=false render it)."""
    options = parse_params(params)
    started = time.perf_counter()
    flat = flatten(payload)
    with state.lock:
        store = store_of(state)
        validator = Validator(Metadata(state), store, options["importStrategy"])
        rejections = []
        for kind in KINDS:
            rejections += validator.run(kind, flat[kind])
        stats = {k: {"created": 0, "updated": 0, "deleted": 0, "ignored": len(validator.rejected[k])}
                 for k in KINDS}
        atomic_failed = options["atomicMode"] == "ALL" and bool(rejections)
        if atomic_failed:
            for kind in KINDS:
                stats[kind] = {"created": 0, "updated": 0, "deleted": 0, "ignored": len(flat[kind])}
        else:
            _commit(state, store, validator.valid, options["importStrategy"], stats)
    total = {key: sum(s[key] for s in stats.values()) for key in ("created", "updated", "deleted", "ignored")}
    total["total"] = sum(total.values())
    report: dict[str, Any] = {
        "status": "ERROR" if atomic_failed else "OK",
        "validationReport": {"errorReports": [r.report() for r in rejections], "warningReports": []},
        "stats": total,
    }
    if options["reportMode"] == "FULL":
        report["bundleReport"] = {
            "status": "ERROR" if atomic_failed else "OK", "stats": total,
            "typeReportMap": {TRACKER_TYPE[k]: {
                "trackerType": TRACKER_TYPE[k],
                "stats": {**stats[k], "total": sum(stats[k].values())},
                "objectReports": [{"trackerType": TRACKER_TYPE[k], "uid": uid}
                                  for uid in validator.valid[k]] if not atomic_failed else []}
                for k in KINDS}}
        report["timingsStats"] = {"timers": {"totalImport": f"{time.perf_counter() - started:.3f} sec."}}
    return report


def _commit(state, store: TrackerStore, valid: dict[str, dict[str, dict]], strategy: str,
            stats: dict[str, dict[str, int]]) -> None:
    now = state.now_str()
    bumped: set[str] = set()
    if strategy == "DELETE":
        # children first so a cascading parent delete does not count them twice
        for kind in reversed(KINDS):
            for uid in valid[kind]:
                _delete(store, kind, uid, now, bumped)
                stats[kind]["deleted"] += 1
    else:
        for kind in KINDS:
            for uid, obj in valid[kind].items():
                old = store.get(kind, uid)
                stored = _stored_form(kind, obj, old, now)
                store.put(kind, stored)
                stats[kind]["created" if old is None else "updated"] += 1
                if kind == "enrollments":
                    owner_key = (_ref(obj["trackedEntity"]), _ref(obj["program"]))
                    store.owners.setdefault(owner_key, _ref(obj["orgUnit"]))  # TrackedEntityProgramOwner
                bumped |= _tracked_entities_of(store, kind, stored)
    for te in bumped:
        te_obj = store.get("trackedEntities", te)
        if te_obj is not None:
            te_obj["updatedAt"] = now


def _tracked_entities_of(store: TrackerStore, kind: str, obj: dict) -> set[str]:
    """TrackerPersister#getUpdatedTrackedEntities."""
    if kind == "enrollments":
        return {obj["trackedEntity"]}
    if kind == "events" and obj.get("enrollment"):
        enrollment = store.get("enrollments", obj["enrollment"])
        return {enrollment["trackedEntity"]} if enrollment else set()
    if kind == "relationships":
        return {obj[s]["trackedEntity"]["trackedEntity"] for s in ("from", "to")
                if isinstance(obj[s].get("trackedEntity"), dict)}
    return set()


def _delete(store: TrackerStore, kind: str, uid: str, now: str, bumped: set[str]) -> None:
    obj = store.get(kind, uid)
    if obj is None or obj.get("deleted"):
        return
    obj["deleted"], obj["updatedAt"] = True, now
    if kind == "trackedEntities":
        for enrollment in [e for e in store.objects["enrollments"].values() if e["trackedEntity"] == uid]:
            _delete(store, "enrollments", enrollment["enrollment"], now, bumped)
        for rel in [r for r in store.objects["relationships"].values() if uid in _tracked_entities_of(store, "relationships", r)]:
            _delete(store, "relationships", rel["relationship"], now, bumped)
    elif kind == "enrollments":
        for event in [e for e in store.objects["events"].values() if e.get("enrollment") == uid]:
            _delete(store, "events", event["event"], now, bumped)
        bumped.add(obj["trackedEntity"])
    else:
        bumped |= _tracked_entities_of(store, kind, obj)


_SERVER_FIELDS = ("createdAt", "updatedAt", "deleted", "createdAtClient", "updatedAtClient")


def _stored_form(kind: str, obj: dict, old: dict | None, now: str) -> dict:
    """The object as the store keeps it: ids as plain strings, server timestamps."""
    new = {k: copy.deepcopy(v) for k, v in obj.items() if k not in _SERVER_FIELDS
           and k not in ("enrollments", "events", "relationships", "programOwners")}
    for name in ("trackedEntityType", "orgUnit", "program", "programStage", "enrollment",
                 "trackedEntity", "relationshipType", "attributeOptionCombo"):
        if name in new:
            new[name] = _ref(new[name])
    if kind == "relationships":
        for side in ("from", "to"):
            item = new[side]
            for name in ("trackedEntity", "enrollment", "event"):
                if item.get(name) is not None:
                    new[side] = {name: {name: _ref(item[name])}}
                    break
    if kind in ("trackedEntities", "enrollments"):
        merged = {a["attribute"]: a for a in (old or {}).get("attributes", [])}
        for a in new.get("attributes") or []:
            attr = _ref(a.get("attribute"))
            if a.get("value") in (None, ""):
                merged.pop(attr, None)  # an empty value deletes the attribute value
            else:
                merged[attr] = {"attribute": attr, "value": str(a["value"])}
        new["attributes"] = list(merged.values())
    if kind == "events":
        merged = {d["dataElement"]: d for d in (old or {}).get("dataValues", [])}
        for d in new.get("dataValues") or []:
            element = _ref(d.get("dataElement"))
            if d.get("value") in (None, ""):
                merged.pop(element, None)
            else:
                merged[element] = {"dataElement": element, "value": str(d["value"])}
        new["dataValues"] = list(merged.values())
        new.setdefault("status", "ACTIVE")
    if kind == "enrollments":
        new.setdefault("status", "ACTIVE")
    new["createdAt"] = old["createdAt"] if old else now
    new["updatedAt"] = now
    new["deleted"] = False
    return new
