"""POST /api/metadata: validate a payload like DHIS2's object bundle importer, then commit.

Checks run in DHIS2's order of concern: identity (uid form, duplicates, create/update
strategy), required properties, uniqueness, references (store + payload), then deletion
dependencies. atomicMode=ALL commits nothing when any object has an error.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import schema
from .schema import DEFAULT_CATEGORY_COMBO, DEFAULT_IDS, UID_RE, TypeSpec, describe, ref_ids

IMPORT_STRATEGIES = ("CREATE", "UPDATE", "CREATE_AND_UPDATE", "DELETE")
ENUM_PARAMS = {
    "importMode": ("COMMIT", "VALIDATE"),
    "identifier": ("UID", "CODE", "AUTO"),
    "importStrategy": IMPORT_STRATEGIES + ("NEW_AND_UPDATES", "NEW", "UPDATES", "DELETES"),
    "atomicMode": ("ALL", "NONE"),
    "mergeMode": ("MERGE", "REPLACE"),
    "importReportMode": ("ERRORS", "FULL", "DEBUG", "ERRORS_NOT_OWNER"),
    "preheatMode": ("REFERENCE", "ALL", "NONE"),
    "flushMode": ("AUTO", "OBJECT"),
}
_LEGACY_STRATEGY = {"NEW_AND_UPDATES": "CREATE_AND_UPDATE", "NEW": "CREATE", "UPDATES": "UPDATE",
                    "DELETES": "DELETE"}
ROOT_KEYS_IGNORED = ("system", "date")
# Types whose objects get the default category combo when the payload names none.
DEFAULT_COMBO_TYPES = ("dataElements", "dataSets", "programs")


class ImportRequestError(Exception):
    """The request as a whole is unacceptable (bad parameter, unreadable body)."""

    def __init__(self, message: str, status: int = 400, error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code


def parse_json_body(payload: Any) -> Any:
    """Bytes/str to JSON with DHIS2's (Jackson's) wording for an empty body."""
    if isinstance(payload, (bytes, bytearray, str)):
        text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else payload
        if not text.strip():
            raise ImportRequestError("No content to map due to end-of-input")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportRequestError(f"Unexpected character: {exc.msg} at line {exc.lineno} "
                                     f"column {exc.colno}") from exc
    return payload


def parse_params(params: Mapping[str, str]) -> dict[str, Any]:
    """Validate and normalise the import parameters (unknown enum values are a 400)."""
    out: dict[str, Any] = {"importMode": "COMMIT", "identifier": "UID",
                           "importStrategy": "CREATE_AND_UPDATE", "atomicMode": "ALL",
                           "mergeMode": "REPLACE", "importReportMode": "ERRORS"}
    for name, allowed in ENUM_PARAMS.items():
        if name in params and params[name] != "":
            value = str(params[name]).upper()
            if value not in allowed:
                raise ImportRequestError(
                    f"Value `{params[name]}` is not valid for parameter `{name}`; "
                    f"allowed: {', '.join(allowed)}")
            out[name] = value
    out["importStrategy"] = _LEGACY_STRATEGY.get(out["importStrategy"], out["importStrategy"])
    if out["identifier"] == "CODE":
        raise ImportRequestError("identifier=CODE is not supported by the DHIS2 emulator; "
                                 "synchronisation must match objects by UID")
    for flag in ("skipSharing", "skipValidation", "async", "skipTranslation"):
        out[flag] = str(params.get(flag, "false")).lower() == "true"
    return out


@dataclass
class Candidate:
    """One payload object on its way through validation."""

    spec: TypeSpec
    index: int
    uid: str | None
    raw: dict
    obj: dict = field(default_factory=dict)  # cleaned, merged object to store
    exists: bool = False
    errors: list[dict] = field(default_factory=list)


def _error(code: str, message: str, c: Candidate, prop: str | None, args: list) -> dict:
    report = {"message": message, "mainKlass": c.spec.klass, "mainId": c.uid,
              "errorCode": code, "args": [str(a) for a in args]}
    if prop is not None:
        report["errorProperty"] = prop
    return report


def _normalise_refs(spec: TypeSpec, obj: dict) -> None:
    """Store references as `{"id": uid}` only, as DHIS2 keeps just the relation."""
    for path in tuple(spec.refs) + schema.USER_REFS:
        head, _, rest = path.partition(".")
        value = obj.get(head)
        if rest:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict) and isinstance(item.get(rest), dict):
                    ref = item[rest]
                    item[rest] = {"id": ref.get("id")} if "id" in ref else ref
        elif isinstance(value, dict) and "id" in value:
            obj[head] = {"id": value["id"]}
        elif isinstance(value, list):
            obj[head] = [{"id": r["id"]} if isinstance(r, dict) and "id" in r else r for r in value]


SHARING_KEYS = ("owner", "public", "external", "users", "userGroups")


def _link_options(state, option_set: str, obj: dict) -> None:
    """The option set owns its list; DHIS2 sets each listed option's `optionSet` from it."""
    options = state.store["options"]
    for ref in obj.get("options") or []:
        uid = ref.get("id") if isinstance(ref, dict) else None
        if uid in options:
            options[uid]["optionSet"] = {"id": option_set}


def _clean(spec: TypeSpec, raw: dict) -> dict:
    obj = {k: copy.deepcopy(v) for k, v in raw.items()
           if k not in schema.COMPUTED and k not in spec.non_owner
           and k not in ("created", "lastUpdated", "lastUpdatedBy")}
    if spec.plural == "organisationUnits":
        obj.pop("path", None)
        obj.pop("level", None)
    if isinstance(obj.get("sharing"), dict):
        # DHIS2 reads only these keys of a sharing object and ignores the rest.
        obj["sharing"] = {k: v for k, v in obj["sharing"].items() if k in SHARING_KEYS}
    if spec.plural in DEFAULT_COMBO_TYPES and not obj.get("categoryCombo"):
        obj["categoryCombo"] = {"id": DEFAULT_CATEGORY_COMBO}
    _normalise_refs(spec, obj)
    return obj


def _is_missing(value: Any) -> bool:
    return value is None or value == "" or value == {}


def import_metadata(state, payload: Any, raw_params: Mapping[str, str], user: str) -> dict:
    """Run one metadata import against `state`; return DHIS2's ImportReport (unwrapped)."""
    params = parse_params(raw_params)
    data = parse_json_body(payload)
    if not isinstance(data, dict):
        raise ImportRequestError("Metadata payload must be a JSON object keyed by collection name")
    with state.lock:
        return _Importer(state, params, user).run(data)


class _Importer:
    def __init__(self, state, params: dict[str, Any], user: str) -> None:
        self.state = state
        self.params = params
        self.user = user
        self.strategy: str = params["importStrategy"]
        self.candidates: list[Candidate] = []

    # ---------------------------------------------------------------- pipeline
    def run(self, data: dict) -> dict:
        self._collect(data)
        if self.strategy == "DELETE":
            self._check_deletions()
        else:
            self._check_required()
            self._check_unique()
            self._check_references()
        has_errors = any(c.errors for c in self.candidates)
        atomic_all = self.params["atomicMode"] == "ALL"
        commit = self.params["importMode"] == "COMMIT" and not (has_errors and atomic_all)
        stats = self._stats(rejected_all=has_errors and atomic_all)
        if commit:
            self._commit()
        if has_errors:
            status = "ERROR" if atomic_all or self.params["importMode"] == "VALIDATE" else "WARNING"
        else:
            status = "OK"
        return self._report(status, stats)

    def _collect(self, data: dict) -> None:
        seen: dict[str, Candidate] = {}
        for spec in schema.TYPES:
            items = data.get(spec.plural)
            if items is None:
                continue
            if not isinstance(items, list):
                raise ImportRequestError(f"`{spec.plural}` must be a list of objects")
            store = self.state.store[spec.plural]
            for index, raw in enumerate(items):
                if not isinstance(raw, dict):
                    raise ImportRequestError(f"`{spec.plural}[{index}]` must be an object")
                uid = raw.get("id")
                c = Candidate(spec, index, uid, raw)
                self.candidates.append(c)
                if uid is None and self.strategy in ("CREATE", "CREATE_AND_UPDATE"):
                    c.uid = uid = self.state.new_uid()
                if uid is None:
                    c.errors.append(_error("E5001", "No matching object for reference. Identifier "
                                           f"was null, and object was {describe(spec, raw, None)}.",
                                           c, "id", [None, describe(spec, raw, None)]))
                    continue
                if not isinstance(uid, str) or not UID_RE.match(uid):
                    c.errors.append(_error("E4014", f"Invalid UID `{uid}` for property `id`",
                                           c, "id", [uid, "id"]))
                    continue
                if uid in seen:
                    c.errors.append(_error(
                        "E5004", f"Id `{uid}` for type `{spec.singular}` exists on more than 1 "
                        "object in the payload, removing all but the first found.",
                        c, "id", [uid, spec.singular]))
                    continue
                seen[uid] = c
                other_type = self.state.uid_index.get(uid)
                if other_type is not None and other_type != spec.plural:
                    other = schema.BY_PLURAL[other_type]
                    c.errors.append(_error(
                        "E5003", f"Property `id` with value `{uid}` on object "
                        f"{describe(spec, raw, uid)} already exists on object "
                        f"{describe(other, None, uid)}.", c, "id",
                        ["id", uid, describe(spec, raw, uid), uid]))
                    continue
                c.exists = uid in store
                if self.strategy == "CREATE" and c.exists:
                    c.errors.append(_error(
                        "E5000", "Found matching object for reference, but import mode is CREATE. "
                        f"Identifier was {uid}, and object was {describe(spec, raw, uid)}.",
                        c, "id", [uid, describe(spec, raw, uid)]))
                elif self.strategy in ("UPDATE", "DELETE") and not c.exists:
                    c.errors.append(_error(
                        "E5001", f"No matching object for reference. Identifier was {uid}, and "
                        f"object was {describe(spec, raw, uid)}.",
                        c, "id", [uid, describe(spec, raw, uid)]))
                if self.strategy != "DELETE":
                    cleaned = _clean(spec, raw)
                    if c.exists and self.params["mergeMode"] == "MERGE":
                        merged = copy.deepcopy(store[uid])
                        merged.update(cleaned)
                        cleaned = merged
                    cleaned["id"] = uid
                    c.obj = cleaned

    def _live(self) -> list[Candidate]:
        return [c for c in self.candidates if not c.errors]

    def _check_required(self) -> None:
        if self.params["skipValidation"]:
            return
        for c in self._live():
            for prop in c.spec.required:
                if _is_missing(c.obj.get(prop)):
                    c.errors.append(_error("E4000", f"Missing required property `{prop}`.",
                                           c, prop, [prop]))
            if c.spec.plural == "users":
                username = c.obj.get("username") or (c.obj.get("userCredentials") or {}).get(
                    "username")
                if not username:
                    c.errors.append(_error("E4000", "Missing required property `username`.",
                                           c, "username", ["username"]))

    def _check_unique(self) -> None:
        touched = {c.uid for c in self.candidates}
        for spec in schema.TYPES:
            mine = [c for c in self._live() if c.spec is spec]
            if not mine:
                continue
            for prop in spec.unique:
                owners: dict[Any, str] = {}
                for uid, obj in self.state.store[spec.plural].items():
                    value = self._unique_value(spec, obj, prop)
                    if value is not None and uid not in touched:
                        owners[value] = uid
                for c in mine:
                    if c.errors:
                        continue
                    value = self._unique_value(spec, c.obj, prop)
                    if value is None:
                        continue
                    other = owners.get(value)
                    if other is not None and other != c.uid:
                        c.errors.append(_error(
                            "E5003", f"Property `{prop}` with value `{value}` on object "
                            f"{describe(spec, c.obj, c.uid)} already exists on object {other}.",
                            c, prop, [prop, value, describe(spec, c.obj, c.uid), other]))
                    else:
                        owners[value] = c.uid

    @staticmethod
    def _unique_value(spec: TypeSpec, obj: dict, prop: str) -> Any:
        value = obj.get(prop)
        if prop == "username" and value is None:
            value = (obj.get("userCredentials") or {}).get("username")
        if value is None or value == "":
            return None
        return value if not isinstance(value, (dict, list)) else json.dumps(value, sort_keys=True)

    def _ref_paths(self, spec: TypeSpec) -> list[tuple[str, str]]:
        paths = list(spec.refs.items())
        paths.append(("attributeValues.attribute", "attributes"))
        if not self.params["skipSharing"]:
            paths += [(p, "users") for p in schema.USER_REFS]
        return paths

    def _check_references(self) -> None:
        atomic_all = self.params["atomicMode"] == "ALL"
        while True:
            available: dict[str, set[str]] = {}
            for c in self._live():
                available.setdefault(c.spec.plural, set()).add(c.uid)
            found_new = False
            for c in self._live():
                errors = self._reference_errors(c, available)
                if errors:
                    c.errors.extend(errors)
                    found_new = True
            if atomic_all or not found_new:
                return

    def _exists(self, plural: str, uid: Any, available: dict[str, set[str]]) -> bool:
        return isinstance(uid, str) and (uid in self.state.store[plural]
                                         or uid in available.get(plural, ()))

    def _reference_errors(self, c: Candidate, available: dict[str, set[str]]) -> list[dict]:
        errors = []

        def bad(uid: Any, target: str, prop: str) -> None:
            tspec = schema.BY_PLURAL[target]
            ref_desc = f"[{uid}] ({tspec.singular})"
            obj_desc = describe(c.spec, c.obj, c.uid)
            errors.append(_error("E5002", f"Invalid reference {ref_desc} on object {obj_desc} "
                                 f"for association `{prop}`.", c, prop, [ref_desc, obj_desc, prop]))

        for path, target in self._ref_paths(c.spec):
            for uid in ref_ids(c.obj, path):
                if not self._exists(target, uid, available):
                    bad(uid, target, path)
        sharing = c.obj.get("sharing")
        if isinstance(sharing, dict) and not self.params["skipSharing"]:
            for key, target in (("users", "users"), ("userGroups", "userGroups")):
                entries = sharing.get(key) or {}
                for uid in (entries.keys() if isinstance(entries, dict) else []):
                    if not self._exists(target, uid, available):
                        bad(uid, target, f"sharing.{key}")
        return errors

    def _check_deletions(self) -> None:
        doomed = {c.uid for c in self._live()}
        if not doomed:
            return
        referenced_by: dict[str, tuple[str, str]] = {}
        for spec in schema.TYPES:
            for uid, obj in self.state.store[spec.plural].items():
                if uid in doomed:
                    continue
                for path in spec.refs:
                    for rid in ref_ids(obj, path):
                        if rid in doomed and rid != uid:
                            referenced_by.setdefault(rid, (spec.singular, uid))
        value_refs = self.state.data.referenced_ids(doomed) if doomed else set()
        for c in self._live():
            if c.uid in DEFAULT_IDS:
                holder = "system default object"
            elif c.uid in referenced_by:
                holder = "{} {}".format(*referenced_by[c.uid])
            elif c.uid in value_refs:
                holder = "DataValue"
            else:
                continue
            c.errors.append(_error(
                "E4030", f"Object could not be deleted because it is associated with another "
                f"object: {holder}", c, None, [holder]))

    # ---------------------------------------------------------------- results
    def _stats(self, rejected_all: bool) -> dict[str, dict[str, int]]:
        per_type: dict[str, dict[str, int]] = {}
        for c in self.candidates:
            s = per_type.setdefault(c.spec.plural, {"created": 0, "updated": 0, "deleted": 0,
                                                    "ignored": 0, "total": 0})
            s["total"] += 1
            if rejected_all or c.errors:
                s["ignored"] += 1
            elif self.strategy == "DELETE":
                s["deleted"] += 1
            elif c.exists:
                s["updated"] += 1
            else:
                s["created"] += 1
        return per_type

    def _commit(self) -> None:
        state = self.state
        now = state.now_str()
        user_ref = {"id": state.user_id(self.user)}
        touched_units = False
        created_uids = []
        for c in self._live():
            store = state.store[c.spec.plural]
            if self.strategy == "DELETE":
                old = store.pop(c.uid)
                state.uid_index.pop(c.uid, None)
                state.record_deletion(c.spec, c.uid, old.get("code"), self.user)
            else:
                obj = c.obj
                if c.exists:
                    obj["created"] = store[c.uid].get("created", now)
                    obj["createdBy"] = store[c.uid].get("createdBy", user_ref)
                else:
                    obj["created"] = now
                    obj["createdBy"] = obj.get("createdBy") or obj.get("user") or user_ref
                    created_uids.append(c.uid)
                obj["lastUpdated"] = now
                obj["lastUpdatedBy"] = dict(user_ref)
                store[c.uid] = obj
                state.uid_index[c.uid] = c.spec.plural
                if c.spec.plural == "optionSets":
                    _link_options(state, c.uid, obj)
            if c.spec.plural == "organisationUnits":
                touched_units = True
        state.forget_deletion(created_uids)
        if touched_units:
            state.recompute_paths()

    def _report(self, status: str, per_type: dict[str, dict[str, int]]) -> dict:
        full = self.params["importReportMode"] in ("FULL", "DEBUG")
        total = {"created": 0, "updated": 0, "deleted": 0, "ignored": 0, "total": 0}
        type_reports = []
        for spec in schema.TYPES:
            if spec.plural not in per_type:
                continue
            stats = per_type[spec.plural]
            for key in total:
                total[key] += stats[key]
            object_reports = []
            for c in self.candidates:
                if c.spec is spec and (c.errors or full):
                    report = {"klass": spec.klass, "index": c.index, "uid": c.uid,
                              "errorReports": c.errors}
                    name = (c.obj or c.raw).get("name")
                    if name:
                        report["displayName"] = name
                    object_reports.append(report)
            type_reports.append({"klass": spec.klass, "stats": stats,
                                 "objectReports": object_reports})
        return {"status": status, "stats": total, "typeReports": type_reports}
