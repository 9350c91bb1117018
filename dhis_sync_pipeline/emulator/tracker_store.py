"""The emulator's tracker data: tracked entities, enrollments, events, relationships, owners.

Kept beside the metadata state (one per EmulatorState, created on first use) and guarded by the
state's lock. Objects are stored in the tracker API's own JSON form (the view classes of
org.hisp.dhis.webapi.controller.tracker.view), so export is a projection. Deletes are soft
(`deleted: true`, as DHIS2's `deleted` column), visible with `includeDeleted=true`.

Timestamps (`createdAt`, `updatedAt`) are server time, zone-less and server-local, as the
tracker export writes them. Program ownership follows TrackedEntityProgramOwner: the first
enrollment of a tracked entity in a program makes its org unit the owner.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

KINDS = ("trackedEntities", "enrollments", "events", "relationships")
ID_FIELD = {"trackedEntities": "trackedEntity", "enrollments": "enrollment", "events": "event",
            "relationships": "relationship"}
TRACKER_TYPE = {"trackedEntities": "TRACKED_ENTITY", "enrollments": "ENROLLMENT", "events": "EVENT",
                "relationships": "RELATIONSHIP"}


@dataclass
class TrackerStore:
    objects: dict[str, dict[str, dict]] = field(default_factory=lambda: {k: {} for k in KINDS})
    # (trackedEntity, program) -> owner org unit (TrackedEntityProgramOwner)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    # RelationshipType metadata: the emulated metadata schema has no relationshipTypes, so the
    # types a server knows are kept here (an admin creates them on each server).
    relationship_types: dict[str, dict] = field(default_factory=dict)

    def get(self, kind: str, uid: str) -> dict | None:
        return self.objects[kind].get(uid)

    def put(self, kind: str, obj: dict) -> None:
        self.objects[kind][obj[ID_FIELD[kind]]] = obj

    def count(self, kind: str, include_deleted: bool = False) -> int:
        return sum(1 for o in self.objects[kind].values() if include_deleted or not o.get("deleted"))


def store_of(state) -> TrackerStore:
    """The state's tracker store (created on first use, so EmulatorState needs no change)."""
    with state.lock:
        store = state.__dict__.get("tracker")
        if store is None:
            store = state.__dict__["tracker"] = TrackerStore()
        return store


def add_relationship_type(state, uid: str, name: str, tracked_entity_type: str,
                          bidirectional: bool = False) -> dict:
    """A TE-to-TE RelationshipType, as a server admin would create it."""
    rel_type = {"id": uid, "name": name, "bidirectional": bidirectional,
                "fromConstraint": {"relationshipEntity": "TRACKED_ENTITY_INSTANCE",
                                   "trackedEntityType": {"id": tracked_entity_type}},
                "toConstraint": {"relationshipEntity": "TRACKED_ENTITY_INSTANCE",
                                 "trackedEntityType": {"id": tracked_entity_type}}}
    with state.lock:
        store_of(state).relationship_types[uid] = rel_type
    return copy.deepcopy(rel_type)


def snapshot(state, kind: str, include_deleted: bool = False) -> list[dict[str, Any]]:
    """Deep copies of the stored objects of one kind (tests compare servers with it)."""
    with state.lock:
        return [copy.deepcopy(o) for o in store_of(state).objects[kind].values()
                if include_deleted or not o.get("deleted")]


def touch(state, kind: str, uid: str, changes: dict | None = None) -> dict:
    """A server-side edit (a user in the web app): apply changes, bump updatedAt and the TE."""
    with state.lock:
        store = store_of(state)
        obj = store.objects[kind][uid]
        obj.update(copy.deepcopy(changes or {}))
        now = state.now_str()
        obj["updatedAt"] = now
        te = obj.get("trackedEntity")
        if kind != "trackedEntities" and isinstance(te, str) and te in store.objects["trackedEntities"]:
            store.objects["trackedEntities"][te]["updatedAt"] = now
        return copy.deepcopy(obj)
