"""Validation of a tracker import payload, object by object, with DHIS2's E1xxx/E4xxx codes.

Follows the validators of org.hisp.dhis.tracker(.imports).validation (TrackedEntity-, Enrollment-,
Event-, RelationshipValidator: the Existence, MetaValidation, Attribute/DataValue and OrgUnit
checks) and ValidationCode's messages (2.42's wording in every version; the codes are the same). Checked: the importStrategy against existence (E1002/E1063,
E1080/E1081, E1030/E1032, E4015/E4016), soft-deleted objects (E1114/E1113/E1082/E4017),
mandatory properties (E1121–E1124), references to tracked entity type (E1005), org unit
(E1049/E1070/E1011), program (E1069/E1010), program stage (E1013, E1089), attributes (E1006),
options (E1125), data elements (E1304, E1305), org unit in program (E1041 enrollments, E1029 events),
tracked entity type of program (E1022), enrollment of a tracker event (E1033, E1079), linked
objects of relationships (E4006, E4012, E4000). A child of a rejected parent gets E5000, as
DHIS2's PersistablesFilter does. Stricter than DHIS2: attributes must belong to the tracked
entity type (TE) or the program (enrollment); option values are compared on code exactly.
Not emulated: geometry, unique attributes (E1064), user assignment, category option combos of
events (the default one is assumed), non-superuser access checks (E1000/E1102: every emulated
user is a superuser).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .tracker_store import ID_FIELD, TRACKER_TYPE, TrackerStore

MESSAGES = {
    "E1002": "TrackedEntity: `{0}`, already exists.",
    "E1005": "Could not find TrackedEntityType: `{0}`.",
    "E1006": "Attribute: `{0}` does not exist.",
    "E1010": "Could not find Program: `{0}`, linked to Event.",
    "E1011": "Could not find OrganisationUnit: `{0}`, linked to Event.",
    "E1013": "Could not find ProgramStage: `{0}`, linked to Event.",
    "E1019": "Only ProgramAttributes are allowed for Enrollment, invalid Attribute: `{0}`.",
    "E1022": "TrackedEntity: `{0}` must have same TrackedEntityType as Program `{1}`.",
    "E1029": "Event OrganisationUnit: `{0}` and Program: `{1}`, do not match.",
    "E1030": "Event: `{0}` already exists.",
    "E1032": "Event: `{0}` do not exist.",
    "E1033": "Event: `{0}` Enrollment value is null.",
    "E1041": "Enrollment OrganisationUnit: `{0}` and Program: `{1}` do not match.",
    "E1049": "Could not find OrganisationUnit: `{0}` linked to TrackedEntity.",
    "E1063": "TrackedEntity: `{0}`, does not exist.",
    "E1068": "Could not find TrackedEntity: `{0}` linked to Enrollment.",
    "E1069": "Could not find Program: `{0}` linked to Enrollment.",
    "E1070": "Could not find OrganisationUnit: `{0}` linked to Enrollment.",
    "E1079": "Event: `{0}`, program: `{1}` is different from program defined in enrollment `{2}`.",
    "E1080": "Enrollment: `{0}`, already exists.",
    "E1081": "Enrollment: `{0}`, do not exist.",
    "E1082": "Event: `{0}`, is already deleted and cannot be modified.",
    "E1089": "Event: `{0}`, references a Program Stage `{1}` that does not belong to Program `{2}`.",
    "E1113": "Enrollment: `{0}` is already deleted and cannot be modified.",
    "E1114": "TrackedEntity: `{0}` is already deleted and cannot be modified.",
    "E1121": "Missing required trackedEntity property: `{0}`.",
    "E1122": "Missing required enrollment property: `{0}`.",
    "E1123": "Missing required event property: `{0}`.",
    "E1124": "Missing required relationship property: `{0}`.",
    "E1125": "Value `{0}` is not a valid option code in OptionSet `{1}`.",
    "E1304": "DataElement `{0}` is not a valid DataElement.",
    "E1305": "DataElement `{0}` is not part of ProgramStage `{1}`.",
    "E4000": "Relationship: `{0}` cannot link to itself.",
    "E4006": "Could not find RelationshipType: `{0}`.",
    "E4012": "Could not find `{0}`: `{1}`, linked to relationship.",
    "E4015": "Relationship: `{0}` already exists.",
    "E4016": "Relationship: `{0}` do not exist.",
    "E4017": "Relationship: `{0}` is already deleted and cannot be modified.",
    "E5000": "{0} `{1}` cannot be created because {2} `{3}` referenced by it could not be created.",
}


@dataclass(frozen=True)
class Rejection:
    kind: str
    uid: str
    code: str
    args: tuple[Any, ...]

    def report(self) -> dict[str, Any]:
        """An ErrorReport of the ValidationReport (message, errorCode, trackerType, uid, args)."""
        return {"message": MESSAGES[self.code].format(*self.args), "errorCode": self.code,
                "trackerType": TRACKER_TYPE[self.kind], "uid": self.uid,
                "args": [str(a) for a in self.args]}


class Metadata:
    """Lookups into the state's metadata the validators need (read under the state's lock)."""

    def __init__(self, state) -> None:
        store = state.store
        self.org_units = store["organisationUnits"]
        self.programs = store["programs"]
        self.stages = store["programStages"]
        self.te_types = store["trackedEntityTypes"]
        self.attributes = store["trackedEntityAttributes"]
        self.data_elements = store["dataElements"]
        self.option_sets = store["optionSets"]
        self.options = store["options"]
        self._codes: dict[str, set[str]] = {}
        self._program_units: dict[str, set[str]] = {}

    def option_codes(self, option_set: str) -> set[str]:
        if option_set not in self._codes:
            refs = (self.option_sets.get(option_set) or {}).get("options") or []
            self._codes[option_set] = {self.options[r["id"]].get("code") for r in refs
                                       if r.get("id") in self.options}
        return self._codes[option_set]

    def program_units(self, program: str) -> set[str]:
        if program not in self._program_units:
            refs = (self.programs.get(program) or {}).get("organisationUnits") or []
            self._program_units[program] = {r.get("id") for r in refs}
        return self._program_units[program]

    def program_attributes(self, program: str) -> set[str]:
        return {(p.get("trackedEntityAttribute") or {}).get("id")
                for p in (self.programs.get(program) or {}).get("programTrackedEntityAttributes") or []}

    def type_attributes(self, te_type: str) -> set[str]:
        return {(p.get("trackedEntityAttribute") or {}).get("id")
                for p in (self.te_types.get(te_type) or {}).get("trackedEntityTypeAttributes") or []}


def _ref(value: Any) -> str | None:
    """An id given as `"uid"` or `{"id"|"trackedEntity"|…: "uid"}` (both are accepted)."""
    if isinstance(value, dict):
        for key in ("id", "trackedEntity", "enrollment", "event"):
            if isinstance(value.get(key), str):
                return value[key]
        return None
    return value if isinstance(value, str) and value else None


class Validator:
    """One payload's validation against store + payload (objects validated in import order)."""

    def __init__(self, meta: Metadata, store: TrackerStore, strategy: str) -> None:
        self.meta, self.store, self.strategy = meta, store, strategy
        self.valid: dict[str, dict[str, dict]] = {k: {} for k in ID_FIELD}
        self.rejected: dict[str, set[str]] = {k: set() for k in ID_FIELD}

    def run(self, kind: str, objects: Iterable[dict]) -> list[Rejection]:
        out: list[Rejection] = []
        check = getattr(self, "_" + kind)
        for obj in objects:
            uid = obj.get(ID_FIELD[kind]) or ""
            errors = self._existence(kind, uid) if uid else [(ID_FIELD[kind], "E" + {
                "trackedEntities": "1121", "enrollments": "1122", "events": "1123",
                "relationships": "1124"}[kind], (ID_FIELD[kind],))]
            if not errors and self.strategy != "DELETE":
                errors = check(obj, uid)
            if errors:
                self.rejected[kind].add(uid)
                out.extend(Rejection(kind, uid, code, args) for _, code, args in errors[:1])
            else:
                self.valid[kind][uid] = obj
        return out

    # -- existence (ExistenceValidator per type)
    def _existence(self, kind: str, uid: str) -> list[tuple]:
        stored = self.store.get(kind, uid)
        exists = stored is not None and not stored.get("deleted")
        codes = {"trackedEntities": ("E1002", "E1063", "E1114"), "enrollments": ("E1080", "E1081", "E1113"),
                 "events": ("E1030", "E1032", "E1082"), "relationships": ("E4015", "E4016", "E4017")}[kind]
        if stored is not None and stored.get("deleted"):
            return [("", codes[2], (uid,))]  # a soft-deleted uid can never be used again
        if self.strategy == "CREATE" and exists:
            return [("", codes[0], (uid,))]
        if self.strategy in ("UPDATE", "DELETE") and not exists:
            return [("", codes[1], (uid,))]
        return []

    def _missing(self, obj: dict, code: str, names: tuple[str, ...]) -> list[tuple]:
        return [("", code, (n,)) for n in names
                if not (obj.get(n) if n in ("from", "to") else _ref(obj.get(n)))]

    def _parent(self, kind: str, uid: str | None) -> str:
        """'ok', 'rejected' (in this payload) or 'missing'."""
        if uid in self.valid[kind]:
            return "ok"
        if uid in self.rejected[kind]:
            return "rejected"
        stored = self.store.get(kind, uid) if uid else None
        return "ok" if stored is not None and not stored.get("deleted") else "missing"

    def _te_type_of(self, te: str) -> str | None:
        obj = self.valid["trackedEntities"].get(te) or self.store.get("trackedEntities", te) or {}
        return _ref(obj.get("trackedEntityType"))

    def _attribute_errors(self, attributes: list, allowed: set[str] | None, not_allowed: str) -> list[tuple]:
        errors = []
        for item in attributes or []:
            attr = _ref(item.get("attribute"))
            spec = self.meta.attributes.get(attr or "")
            if spec is None:
                errors.append(("", "E1006", (attr,)))
            elif allowed is not None and attr not in allowed:
                errors.append(("", not_allowed, (attr,)))
            elif spec.get("optionSet") and item.get("value") not in (None, ""):
                option_set = spec["optionSet"]["id"]
                if str(item["value"]) not in self.meta.option_codes(option_set):
                    errors.append(("", "E1125", (item["value"], option_set)))
        return errors

    # -- per type (TrackedEntity-/Enrollment-/Event-/RelationshipValidator)
    def _trackedEntities(self, obj: dict, uid: str) -> list[tuple]:
        errors = self._missing(obj, "E1121", ("trackedEntityType", "orgUnit"))
        if errors:
            return errors
        te_type, unit = _ref(obj["trackedEntityType"]), _ref(obj["orgUnit"])
        if te_type not in self.meta.te_types:
            return [("", "E1005", (te_type,))]
        if unit not in self.meta.org_units:
            return [("", "E1049", (unit,))]
        return self._attribute_errors(obj.get("attributes"), self.meta.type_attributes(te_type), "E1006")

    def _enrollments(self, obj: dict, uid: str) -> list[tuple]:
        errors = self._missing(obj, "E1122", ("trackedEntity", "program", "orgUnit", "enrolledAt"))
        if errors:
            return errors
        te, program, unit = _ref(obj["trackedEntity"]), _ref(obj["program"]), _ref(obj["orgUnit"])
        if program not in self.meta.programs:
            return [("", "E1069", (program,))]
        if unit not in self.meta.org_units:
            return [("", "E1070", (unit,))]
        parent = self._parent("trackedEntities", te)
        if parent == "rejected":
            return [("", "E5000", ("enrollment", uid, "trackedEntity", te))]
        if parent == "missing":
            return [("", "E1068", (te,))]
        if unit not in self.meta.program_units(program):
            return [("", "E1041", (unit, program))]
        wanted = _ref(self.meta.programs[program].get("trackedEntityType"))
        if wanted and self._te_type_of(te) != wanted:
            return [("", "E1022", (te, program))]
        return self._attribute_errors(obj.get("attributes"), self.meta.program_attributes(program), "E1019")

    def _events(self, obj: dict, uid: str) -> list[tuple]:
        errors = self._missing(obj, "E1123", ("program", "programStage", "orgUnit"))
        if errors:
            return errors
        program, stage, unit = _ref(obj["program"]), _ref(obj["programStage"]), _ref(obj["orgUnit"])
        if program not in self.meta.programs:
            return [("", "E1010", (program,))]
        if stage not in self.meta.stages:
            return [("", "E1013", (stage,))]
        if unit not in self.meta.org_units:
            return [("", "E1011", (unit,))]
        if _ref(self.meta.stages[stage].get("program")) != program:
            return [("", "E1089", (uid, stage, program))]
        if unit not in self.meta.program_units(program):
            return [("", "E1029", (unit, program))]
        if self.meta.programs[program].get("programType") == "WITH_REGISTRATION":
            enrollment = _ref(obj.get("enrollment"))
            if not enrollment:
                return [("", "E1033", (uid,))]
            parent = self._parent("enrollments", enrollment)
            if parent == "rejected":
                return [("", "E5000", ("event", uid, "enrollment", enrollment))]
            if parent == "missing":
                return [("", "E1081", (enrollment,))]
            owner = self.valid["enrollments"].get(enrollment) or self.store.get("enrollments", enrollment)
            if _ref(owner.get("program")) != program:
                return [("", "E1079", (uid, program, enrollment))]
        allowed = {(p.get("dataElement") or {}).get("id")
                   for p in self.meta.stages[stage].get("programStageDataElements") or []}
        for item in obj.get("dataValues") or []:
            element = _ref(item.get("dataElement"))
            spec = self.meta.data_elements.get(element or "")
            if spec is None:
                return [("", "E1304", (element,))]
            if element not in allowed:
                return [("", "E1305", (element, stage))]
            if spec.get("optionSet") and item.get("value") not in (None, ""):
                option_set = spec["optionSet"]["id"]
                if str(item["value"]) not in self.meta.option_codes(option_set):
                    return [("", "E1125", (item["value"], option_set))]
        return []

    def _relationships(self, obj: dict, uid: str) -> list[tuple]:
        errors = self._missing(obj, "E1124", ("relationshipType", "from", "to"))
        if errors:
            return errors
        rel_type = _ref(obj["relationshipType"])
        if rel_type not in self.store.relationship_types:
            return [("", "E4006", (rel_type,))]
        ends = []
        for side in ("from", "to"):
            item = obj[side] or {}
            for kind, name in (("trackedEntities", "trackedEntity"), ("enrollments", "enrollment"),
                               ("events", "event")):
                if item.get(name) is not None:
                    target = _ref(item[name])
                    state = self._parent(kind, target)
                    if state == "rejected":
                        return [("", "E5000", ("relationship", uid, name, target))]
                    if state == "missing":
                        return [("", "E4012", (name, target))]
                    ends.append(target)
                    break
            else:
                return [("", "E1124", (side,))]
        if ends[0] == ends[1]:
            return [("", "E4000", (uid,))]
        return []
