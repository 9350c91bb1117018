"""Does the destination hold a programme's tracker data in scope? uids per kind and org unit, both sides.

Tracked entities, enrollments and events (live objects only) are listed as `orgUnit/uid` on the
source and on the destination with the scope of the configuration's `tracker:` section; what one
side has and the other lacks is the check's failure. Relationships are not compared: they have no
org unit, and DHIS2 lists them only per tracked entity or event.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from dhis_sync_pipeline.config import TrackerSection
from dhis_sync_pipeline.dhis2 import DHIS2Client
from dhis_sync_pipeline.dhis2.tracker import iter_tracker, org_unit_params

_ID_FIELD = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event"}


@dataclass
class TrackerComparison:
    program: str
    source: dict[str, int] = field(default_factory=dict)  # per kind
    destination: dict[str, int] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)  # per kind: orgUnit/uid the destination lacks
    extra: dict[str, list[str]] = field(default_factory=dict)  # per kind: what only the destination has

    @property
    def passed(self) -> bool:
        return not any(self.missing.values()) and not any(self.extra.values())


def compare_program(source: DHIS2Client, destination: DHIS2Client, tracker: TrackerSection, program: str) -> TrackerComparison:
    program_type = (source.get(f"programs/{program}", {"fields": "id,programType"}) or {}).get(
        "programType", "WITH_REGISTRATION")
    theirs = scope_uids(source, program, tracker, program_type)
    ours = scope_uids(destination, program, tracker, program_type)
    comparison = TrackerComparison(program)
    for kind, wanted in theirs.items():
        have = ours.get(kind, Counter())
        comparison.source[kind], comparison.destination[kind] = sum(wanted.values()), sum(have.values())
        comparison.missing[kind] = sorted(wanted - have)
        comparison.extra[kind] = sorted(have - wanted)
    return comparison


def scope_uids(client: DHIS2Client, program: str, tracker: TrackerSection, program_type: str) -> dict[str, Counter]:
    """`orgUnit/uid` of each kind in the programme's scope (live objects only)."""
    info = client.system_info()
    version = info.version
    kinds = ("trackedEntities", "enrollments", "events") if program_type == "WITH_REGISTRATION" else ("events",)
    roots = list(tracker.org_units)
    counts: dict[str, Counter] = {}
    for kind in kinds:
        id_field = _ID_FIELD[kind]
        # events are read one root at a time (dhis2/tracker.py org_unit_params), as the sync reads them
        selections = ([org_unit_params(version, kind, [root], tracker.org_unit_mode) for root in roots]
                      if kind == "events" else [org_unit_params(version, kind, roots, tracker.org_unit_mode)])
        seen: Counter = Counter()
        for selection in selections:
            params = {"program": program, "fields": f"{id_field},orgUnit", **selection}
            window = tracker.window(info.server_date.date()) if kind == "events" else None
            if window:
                params.update(occurredAfter=window[0].isoformat(), occurredBefore=window[1].isoformat())
            for page in iter_tracker(client, version, kind, params, tracker.page_size):
                seen.update(f"{obj.get('orgUnit')}/{obj[id_field]}" for obj in page)
        counts[kind] = seen
    return counts
