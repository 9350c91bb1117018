"""Deterministic, realistic DHIS2 content of any volume for the demo and load tests.

`generate_metadata` builds an orgunit tree (national > districts > chiefdoms > … > facilities),
a category model with a two-category disaggregation combo, data elements of mixed types,
groups, monthly data sets assigned to the facilities and indicator types.
`generate_data_values` yields values that the emulator (and DHIS2) accept for that metadata.
"""

from __future__ import annotations

import itertools
import random
import string
from typing import Iterator

from .schema import DEFAULT_CATEGORY_COMBO, DEFAULT_COC

_CHARS = string.ascii_letters + string.digits
DISTRICTS = ["Bo", "Bombali", "Bonthe", "Kailahun", "Kambia", "Kenema", "Koinadugu", "Kono",
             "Moyamba", "Port Loko", "Pujehun", "Tonkolili", "Western Area", "Falaba", "Karene"]
CHIEFDOMS = ["Badjia", "Bagbo", "Bagbwe", "Baoma", "Bumpe Ngao", "Gbo", "Jaiama Bongor",
             "Kakua", "Komboya", "Lugbu", "Niawa Lenga", "Selenga", "Tikonko", "Valunia",
             "Wonde", "Dasse", "Kori", "Fakunya", "Kagboro", "Ribbi"]
FACILITY_KINDS = ["MCHP", "CHC", "CHP", "Hospital", "Clinic"]
PLACES = ["Ngelehun", "Njandama", "Bumpeh", "Gerehun", "Mano", "Sembehun", "Yamandu", "Koribondo",
          "Tugbebu", "Kpetema", "Gbaama", "Mokpende", "Taiama", "Ngolahun", "Jembe", "Blama"]
SUBJECTS = ["ANC visits", "Deliveries", "BCG doses", "Measles doses", "Malaria cases",
            "RDT tests", "LLIN distributed", "OPD visits", "Fever cases", "Penta doses",
            "TB referrals", "Family planning clients", "HIV tests", "Vitamin A doses",
            "Diarrhoea cases", "Pneumonia cases", "Stock outs", "Staff on duty", "Births attended",
            "Postnatal visits"]
VALUE_TYPES = [("INTEGER_ZERO_OR_POSITIVE", "SUM"), ("INTEGER_ZERO_OR_POSITIVE", "SUM"),
               ("NUMBER", "SUM"), ("INTEGER", "AVERAGE"), ("PERCENTAGE", "AVERAGE"),
               ("BOOLEAN", "COUNT"), ("TEXT", "NONE")]


class _Uids:
    """Unique, valid uids from a seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def __call__(self) -> str:
        while True:
            uid = self.rng.choice(string.ascii_letters) + "".join(
                self.rng.choice(_CHARS) for _ in range(10))
            if uid not in self.used:
                self.used.add(uid)
                return uid


def _level_sizes(total: int, levels: int) -> list[int]:
    """Units per level for a tree of `total` units and `levels` levels (root level has 1)."""
    if levels <= 1 or total <= 1:
        return [max(total, 1)]
    levels = min(levels, total)
    low, high = 1.0, float(total)
    for _ in range(60):
        fan = (low + high) / 2
        if sum(fan ** k for k in range(levels)) > total:
            high = fan
        else:
            low = fan
    sizes = [max(1, round(low ** k)) for k in range(levels)]
    for i in range(1, levels):
        sizes[i] = max(sizes[i], sizes[i - 1])
    sizes[-1] = max(sizes[-1], total - sum(sizes[:-1]))
    while sum(sizes) > total and len(sizes) > 1:
        excess = sum(sizes) - total
        for i in range(len(sizes) - 2, 0, -1):
            take = min(excess, sizes[i] - sizes[i - 1])
            sizes[i] -= take
            excess -= take
        sizes[-1] -= excess
    return sizes


def _unit_name(level: int, levels: int, index: int, rng: random.Random) -> str:
    if level == 1:
        return "Sierra Leone"
    if level == 2:
        base = DISTRICTS[index % len(DISTRICTS)]
        return base if index < len(DISTRICTS) else f"{base} {index // len(DISTRICTS) + 1}"
    if level == levels:
        return f"{rng.choice(PLACES)} {rng.choice(FACILITY_KINDS)} {index + 1}"
    base = CHIEFDOMS[index % len(CHIEFDOMS)]
    return f"{base} {index + 1}" if level == 3 else f"{base} Section {index + 1}"


def generate_metadata(org_units: int = 200, levels: int = 4, data_elements: int = 100,
                      data_sets: int = 3, seed: int = 1, tracker: bool = False) -> dict:
    """A /api/metadata payload; identical for identical arguments."""
    rng = random.Random(seed)
    uid = _Uids(rng)
    level_names = ["National", "District", "Chiefdom", "Section", "Zone", "Cluster"]
    sizes = _level_sizes(org_units, levels)
    depth = len(sizes)

    units: list[dict] = []
    by_level: list[list[str]] = []
    for level, size in enumerate(sizes, start=1):
        parents = by_level[-1] if by_level else []
        ids = []
        for i in range(size):
            unit_id = uid()
            name = _unit_name(level, depth, i, rng)
            unit = {"id": unit_id, "name": name, "shortName": name[:50],
                    "code": f"OU_{level}_{i + 1:05d}",
                    "openingDate": f"{1970 + rng.randrange(40)}-01-01T00:00:00.000"}
            if parents:
                unit["parent"] = {"id": parents[i % len(parents)]}
            units.append(unit)
            ids.append(unit_id)
        by_level.append(ids)
    facilities = by_level[-1]
    levels_payload = [{"id": uid(), "name": level_names[i] if i < len(level_names) else
                       f"Level {i + 1}", "level": i + 1,
                       "code": f"LEVEL_{i + 1}"} for i in range(depth)]

    options = [{"id": uid(), "name": n, "shortName": n, "code": n.upper().replace(" ", "_")}
               for n in ("Female", "Male", "Under 5", "5 and over")]
    sex = {"id": uid(), "name": "Sex", "shortName": "Sex", "code": "SEX",
           "dataDimensionType": "DISAGGREGATION",
           "categoryOptions": [{"id": o["id"]} for o in options[:2]]}
    age = {"id": uid(), "name": "Age group", "shortName": "Age group", "code": "AGE",
           "dataDimensionType": "DISAGGREGATION",
           "categoryOptions": [{"id": o["id"]} for o in options[2:]]}
    combo = {"id": uid(), "name": "Sex and age", "code": "SEX_AGE",
             "dataDimensionType": "DISAGGREGATION", "skipTotal": False,
             "categories": [{"id": sex["id"]}, {"id": age["id"]}]}
    cocs = [{"id": uid(), "name": f"{a['name']}, {b['name']}",
             "categoryCombo": {"id": combo["id"]},
             "categoryOptions": [{"id": a["id"]}, {"id": b["id"]}]}
            for a, b in itertools.product(options[:2], options[2:])]

    elements = []
    for i in range(data_elements):
        value_type, aggregation = VALUE_TYPES[i % len(VALUE_TYPES)]
        disaggregated = value_type in ("INTEGER_ZERO_OR_POSITIVE", "NUMBER") and i % 3 == 0
        name = f"{SUBJECTS[i % len(SUBJECTS)]} {i + 1:04d}"
        elements.append({
            "id": uid(), "name": name, "shortName": f"DE {i + 1:04d}", "code": f"DE_{i + 1:05d}",
            "valueType": value_type, "aggregationType": aggregation, "domainType": "AGGREGATE",
            "zeroIsSignificant": False,
            "categoryCombo": {"id": combo["id"] if disaggregated else DEFAULT_CATEGORY_COMBO}})

    sets = []
    per_set = max(1, -(-len(elements) // max(1, data_sets)))
    for s in range(data_sets):
        members = elements[s * per_set:(s + 1) * per_set]
        if not members:
            break
        ds_id = uid()
        sets.append({"id": ds_id, "name": f"Monthly report {s + 1}", "shortName": f"MR {s + 1}",
                     "code": f"DS_{s + 1:03d}", "periodType": "Monthly",
                     "categoryCombo": {"id": DEFAULT_CATEGORY_COMBO}, "openFuturePeriods": 0,
                     "expiryDays": 0, "timelyDays": 15,
                     "dataSetElements": [{"dataElement": {"id": e["id"]},
                                          "dataSet": {"id": ds_id}} for e in members],
                     "organisationUnits": [{"id": f} for f in facilities]})
    groups = [{"id": uid(), "name": f"{subject} group", "shortName": f"{subject} group"[:50],
               "code": f"DEG_{g + 1:03d}",
               "dataElements": [{"id": e["id"]} for e in elements
                                if e["name"].startswith(subject)]}
              for g, subject in enumerate(SUBJECTS[:min(len(SUBJECTS), data_elements)])]
    indicator_types = [{"id": uid(), "name": "Number", "factor": 1, "number": True},
                       {"id": uid(), "name": "Percentage", "factor": 100, "number": False}]
    extra = {}
    if tracker:  # programmes, stages, attributes, option sets (tracker_generator.py)
        from .tracker_generator import tracker_metadata
        extra = tracker_metadata(uid, facilities)
        elements = elements + [e for e in extra.pop("dataElements", [])]
    return {**extra, "organisationUnits": units, "organisationUnitLevels": levels_payload,
            "categoryOptions": options, "categories": [sex, age], "categoryCombos": [combo],
            "categoryOptionCombos": cocs, "dataElements": elements, "dataElementGroups": groups,
            "dataSets": sets, "indicatorTypes": indicator_types}


def _value(value_type: str, rng: random.Random) -> str:
    if value_type == "INTEGER_ZERO_OR_POSITIVE":
        return str(rng.randint(1, 500))
    if value_type == "NUMBER":
        return f"{rng.uniform(1, 1000):.1f}"
    if value_type == "INTEGER":
        return str(rng.randint(-50, 500) or 1)
    if value_type == "PERCENTAGE":
        return str(rng.randint(1, 100))
    if value_type == "BOOLEAN":
        return rng.choice(("true", "false"))
    return rng.choice(("Stock received", "Supervision visit", "Reported late", "Complete"))


def generate_data_values(metadata: dict, count: int, seed: int = 1,
                         year: int = 2024) -> Iterator[dict]:
    """`count` distinct valid values (fewer if the metadata cannot hold that many)."""
    rng = random.Random(seed)
    elements = {e["id"]: e for e in metadata.get("dataElements", [])}
    combo_cocs: dict[str, list[str]] = {DEFAULT_CATEGORY_COMBO: [DEFAULT_COC]}
    for coc in metadata.get("categoryOptionCombos", []):
        combo_cocs.setdefault(coc["categoryCombo"]["id"], []).append(coc["id"])
    periods = [f"{year}{m:02d}" for m in range(1, 13)]
    produced = 0
    for ds in metadata.get("dataSets", []):
        facilities = [o["id"] for o in ds.get("organisationUnits", [])]
        rng.shuffle(facilities)
        members = [elements[d["dataElement"]["id"]] for d in ds.get("dataSetElements", [])
                   if d["dataElement"]["id"] in elements]
        for ou in facilities:
            for period in periods:
                for element in members:
                    combo = element["categoryCombo"]["id"]
                    for coc in combo_cocs.get(combo, []):
                        if produced >= count:
                            return
                        produced += 1
                        yield {"dataElement": element["id"], "period": period, "orgUnit": ou,
                               "categoryOptionCombo": coc, "attributeOptionCombo": DEFAULT_COC,
                               "value": _value(element["valueType"], rng)}
