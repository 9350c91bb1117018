"""Generated tracker content: a tracker programme with stages and a single-event programme.

`tracker_metadata` adds to `generate_metadata`'s payload (with `tracker=True`): option sets and
options, tracked entity attributes, a `Person` tracked entity type, programme data elements
(domainType TRACKER), the tracker programme "Child programme" (stages "Birth", once, and
"Follow-up", repeatable) and the single-event programme "Malaria case", both assigned to every
facility. `tracker_data` builds a `/api/tracker` payload of tracked entities with one enrollment
each, their events, single events and relationships (a TE-to-TE "Sibling" relationship type,
which `seed_tracker` creates: the emulated metadata has no relationshipTypes).
"""

from __future__ import annotations

import random
from typing import Any, Callable

from .schema import DEFAULT_CATEGORY_COMBO

FIRST = ["Aminata", "Fatmata", "Mohamed", "Ibrahim", "Isatu", "Abdul", "Mariama", "Alhaji", "Hawa", "Sallu"]
LAST = ["Kamara", "Sesay", "Conteh", "Koroma", "Bangura", "Turay", "Kargbo", "Mansaray", "Jalloh", "Fofanah"]
SEX_CODES = ("FEMALE", "MALE")
OUTCOME_CODES = ("HEALTHY", "REFERRED", "ADMITTED")
RELATIONSHIP_TYPE = "XdP5nUPnxg2"


def tracker_metadata(uid: Callable[[], str], facilities: list[str]) -> dict[str, list[dict]]:
    def option_set(name: str, codes: tuple[str, ...]) -> tuple[dict, list[dict]]:
        set_id = uid()
        options = [{"id": uid(), "name": c.title(), "code": c, "sortOrder": i + 1, "optionSet": {"id": set_id}}
                   for i, c in enumerate(codes)]
        return ({"id": set_id, "name": name, "code": name.upper().replace(" ", "_"), "valueType": "TEXT",
                 "options": [{"id": o["id"]} for o in options]}, options)

    sex_set, sex_options = option_set("Sex tracker", SEX_CODES)
    outcome_set, outcome_options = option_set("Visit outcome", OUTCOME_CODES)

    def attribute(name: str, code: str, option: dict | None = None) -> dict:
        obj = {"id": uid(), "name": name, "shortName": name, "code": code, "valueType": "TEXT",
               "aggregationType": "NONE"}
        if option:
            obj["optionSet"] = {"id": option["id"]}
        return obj

    attributes = [attribute("First name", "FIRST_NAME"), attribute("Last name", "LAST_NAME"),
                  attribute("Sex", "SEX", sex_set), attribute("Unique ID", "UNIQUE_ID")]
    person = {"id": uid(), "name": "Person", "code": "PERSON", "featureType": "NONE",
              "trackedEntityTypeAttributes": [{"trackedEntityAttribute": {"id": a["id"]}} for a in attributes]}

    def element(name: str, code: str, value_type: str, option: dict | None = None) -> dict:
        obj = {"id": uid(), "name": name, "shortName": name, "code": code, "valueType": value_type,
               "aggregationType": "NONE", "domainType": "TRACKER",
               "categoryCombo": {"id": DEFAULT_CATEGORY_COMBO}, "zeroIsSignificant": False}
        if option:
            obj["optionSet"] = {"id": option["id"]}
        return obj

    weight = element("Weight (kg)", "TR_WEIGHT", "NUMBER")
    outcome = element("Visit outcome", "TR_OUTCOME", "TEXT", outcome_set)
    rdt = element("Malaria RDT positive", "TR_RDT", "BOOLEAN")
    age = element("Age in years", "TR_AGE", "INTEGER_ZERO_OR_POSITIVE")
    units = [{"id": f} for f in facilities]
    child, malaria = uid(), uid()

    def stage(name: str, program: str, elements: list[dict], repeatable: bool) -> dict:
        return {"id": uid(), "name": name, "program": {"id": program}, "repeatable": repeatable,
                "sortOrder": 1, "programStageDataElements": [
                    {"dataElement": {"id": e["id"]}, "compulsory": False} for e in elements]}

    stages = [stage("Birth", child, [weight], False), stage("Follow-up", child, [weight, outcome], True),
              stage("Malaria case", malaria, [rdt, age, outcome], True)]
    programs = [
        {"id": child, "name": "Child programme", "shortName": "Child programme", "code": "CHILD",
         "programType": "WITH_REGISTRATION", "trackedEntityType": {"id": person["id"]},
         "categoryCombo": {"id": DEFAULT_CATEGORY_COMBO}, "organisationUnits": units,
         "programTrackedEntityAttributes": [{"trackedEntityAttribute": {"id": a["id"]}, "mandatory": False}
                                            for a in attributes]},
        {"id": malaria, "name": "Malaria case", "shortName": "Malaria case", "code": "MALARIA",
         "programType": "WITHOUT_REGISTRATION", "categoryCombo": {"id": DEFAULT_CATEGORY_COMBO},
         "organisationUnits": units},
    ]
    return {"options": sex_options + outcome_options, "optionSets": [sex_set, outcome_set],
            "trackedEntityAttributes": attributes, "trackedEntityTypes": [person],
            "dataElements": [weight, outcome, rdt, age],
            "programStages": stages, "programs": programs}


def tracker_programs(metadata: dict) -> tuple[dict, dict]:
    """(tracker programme, single-event programme) of a generated payload."""
    by_type = {p["programType"]: p for p in metadata["programs"]}
    return by_type["WITH_REGISTRATION"], by_type["WITHOUT_REGISTRATION"]


def tracker_data(metadata: dict, tracked_entities: int = 100, events_per_enrollment: int = 3,
                 single_events: int = 100, relationships: int = 10, seed: int = 1,
                 year: int = 2024) -> dict[str, list[dict]]:
    """A valid `/api/tracker` payload (flat) for generated tracker metadata."""
    rng = random.Random(f"tracker:{seed}")
    used: set[str] = set()

    def uid() -> str:
        chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        while True:
            value = rng.choice(chars[:52]) + "".join(rng.choice(chars) for _ in range(10))
            if value not in used:
                used.add(value)
                return value

    child, malaria = tracker_programs(metadata)
    units = [u["id"] for u in child["organisationUnits"]]
    stages = {s["name"]: s for s in metadata["programStages"]}
    attrs = {a["code"]: a["id"] for a in metadata["trackedEntityAttributes"]}
    elements = {e["code"]: e["id"] for e in metadata["dataElements"] if e.get("domainType") == "TRACKER"}
    te_type = child["trackedEntityType"]["id"]

    def day(i: int) -> str:
        return f"{year}-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00.000"

    tes, enrollments, events, rels = [], [], [], []
    for i in range(tracked_entities):
        te, unit = uid(), units[i % len(units)]
        tes.append({"trackedEntity": te, "trackedEntityType": te_type, "orgUnit": unit, "attributes": [
            {"attribute": attrs["FIRST_NAME"], "value": rng.choice(FIRST)},
            {"attribute": attrs["LAST_NAME"], "value": rng.choice(LAST)},
            {"attribute": attrs["SEX"], "value": rng.choice(SEX_CODES)},
            {"attribute": attrs["UNIQUE_ID"], "value": f"ID-{seed}-{i:07d}"}]})
        enrollment = uid()
        enrollments.append({"enrollment": enrollment, "trackedEntity": te, "program": child["id"],
                            "orgUnit": unit, "status": "ACTIVE", "enrolledAt": day(i), "occurredAt": day(i)})
        for k in range(events_per_enrollment):
            stage = stages["Birth"] if k == 0 else stages["Follow-up"]
            values = [{"dataElement": elements["TR_WEIGHT"], "value": f"{rng.uniform(2, 30):.1f}"}]
            if k:
                values.append({"dataElement": elements["TR_OUTCOME"], "value": rng.choice(OUTCOME_CODES)})
            events.append({"event": uid(), "program": child["id"], "programStage": stage["id"],
                           "enrollment": enrollment, "orgUnit": unit, "status": "COMPLETED",
                           "occurredAt": day(i + k), "dataValues": values})
    for i in range(single_events):
        events.append({"event": uid(), "program": malaria["id"], "programStage": stages["Malaria case"]["id"],
                       "orgUnit": units[i % len(units)], "status": "COMPLETED", "occurredAt": day(i),
                       "dataValues": [
                           {"dataElement": elements["TR_RDT"], "value": rng.choice(("true", "false"))},
                           {"dataElement": elements["TR_AGE"], "value": str(rng.randint(0, 90))},
                           {"dataElement": elements["TR_OUTCOME"], "value": rng.choice(OUTCOME_CODES)}]})
    for i in range(min(relationships, tracked_entities // 2)):
        rels.append(sibling(uid(), tes[2 * i]["trackedEntity"], tes[2 * i + 1]["trackedEntity"]))
    return {"trackedEntities": tes, "enrollments": enrollments, "events": events, "relationships": rels}


def sibling(uid: str, a: str, b: str) -> dict[str, Any]:
    return {"relationship": uid, "relationshipType": RELATIONSHIP_TYPE,
            "from": {"trackedEntity": {"trackedEntity": a}}, "to": {"trackedEntity": {"trackedEntity": b}}}


def add_relationship_types(state, metadata: dict) -> None:
    from .tracker_store import add_relationship_type
    te_type = tracker_programs(metadata)[0]["trackedEntityType"]["id"]
    add_relationship_type(state, RELATIONSHIP_TYPE, "Sibling", te_type, bidirectional=True)


def seed_tracker(state, metadata: dict, **sizes: Any) -> dict[str, list[dict]]:
    """Import generated tracker data into `state` (as an import would); returns the payload."""
    from .tracker_import import import_tracker
    add_relationship_types(state, metadata)
    payload = tracker_data(metadata, **sizes)
    report = import_tracker(state, payload, {"atomicMode": "ALL"})
    if report["status"] != "OK":
        raise ValueError(f"Seeding tracker data failed: {report['validationReport']['errorReports'][:5]}")
    return payload
