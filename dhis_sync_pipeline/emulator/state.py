"""The emulator's in-memory database: metadata objects, deletions, users, clock and log.

Everything that changes goes through one re-entrant lock, so HTTP handlers, async jobs and
test code can touch the state from any thread.
"""

from __future__ import annotations

import copy
import random
import string
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Iterable

from . import schema
from .schema import DEFAULT_CATEGORY, DEFAULT_CATEGORY_COMBO, DEFAULT_CATEGORY_OPTION, DEFAULT_COC
from .timeutil import format_ts, zone

ADMIN_ID = "M5zQapPyTZI"
ADMIN_GROUP_ID = "OPVIvvXzNTw"
SUPERUSER_ROLE_ID = "yrB6vc5Ip3r"

SUPPORTED_VERSIONS = ("2.36", "2.38", "2.39", "2.40", "2.41", "2.42", "2.43")
PATCH_LEVEL = {"2.36": "2.36.13", "2.38": "2.38.7", "2.39": "2.39.6", "2.40": "2.40.3",
               "2.41": "2.41.2", "2.42": "2.42.1", "2.43": "2.43.0"}

_UID_CHARS = string.ascii_letters + string.digits


def make_uid(rng: random.Random) -> str:
    """A valid DHIS2 uid: a letter, then ten letters or digits."""
    return rng.choice(string.ascii_letters) + "".join(rng.choice(_UID_CHARS) for _ in range(10))


class EmulatorState:
    """One emulated DHIS2 server's data. Thread-safe; see docs/CONTRACTS.md for the interface."""

    def __init__(self, version: str = "2.40", timezone: str = "UTC",
                 users: dict[str, str] | None = None, system_name: str = "DHIS2 Emulator") -> None:
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"Unsupported DHIS2 version {version!r}; use one of {SUPPORTED_VERSIONS}")
        self.version = version
        self.tz = zone(timezone)  # any IANA zone, DST and half-hour offsets included
        self.timezone_name = timezone
        self.system_name = system_name
        self.system_id = "eed3d451-4ff5-4193-b951-ffcc68954299"
        self.lock = threading.RLock()
        self._clock_offset = timedelta()
        self._rng = random.Random(20240101)
        self.store: dict[str, dict[str, dict]] = {t.plural: {} for t in schema.TYPES}
        self.uid_index: dict[str, str] = {}
        self.deleted_objects: list[dict] = []
        self.passwords: dict[str, str] = {}
        self.user_ids: dict[str, str] = {}
        self.tokens: dict[str, dict] = {}
        self.request_log: list[tuple[str, str, str]] = []
        self._log_lock = threading.Lock()
        self._children_cache: dict[str, list[str]] | None = None
        from .data_values import DataValueStore  # local: data_values imports state helpers
        self.data = DataValueStore()
        self.registrations: dict[tuple[str, str, str, str], dict] = {}
        self._seed_defaults(users or {"admin": "district"})

    # ----------------------------------------------------------------- clock
    def now_instant(self) -> datetime:
        """The server's current instant (aware, UTC): real time plus what the tests added."""
        with self.lock:
            offset = self._clock_offset
        return datetime.now(UTC) + offset

    def now(self) -> datetime:
        """Server time: naive wall time in the server's zone, as the JVM's `new Date()` shows it.

        The test offset moves the instant, then the zone applies, so a jump across a DST change
        lands on the right wall time."""
        return self.now_instant().astimezone(self.tz).replace(tzinfo=None)

    def now_str(self) -> str:
        return format_ts(self.now())

    def advance_clock(self, seconds: float) -> None:
        """Make server time jump forward so tests need not sleep."""
        with self.lock:
            self._clock_offset += timedelta(seconds=seconds)

    def set_clock(self, instant: datetime) -> None:
        """Make the server's clock show `instant` now (aware; naive means server-local)."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=self.tz)
        with self.lock:
            self._clock_offset = instant - datetime.now(UTC)

    @property
    def full_version(self) -> str:
        """What system/info reports, e.g. `2.40.3`."""
        return PATCH_LEVEL[self.version]

    def version_tuple(self) -> tuple[int, int]:
        major, minor = self.version.split(".")
        return int(major), int(minor)

    def new_uid(self) -> str:
        with self.lock:
            while True:
                uid = make_uid(self._rng)
                if uid not in self.uid_index:
                    return uid

    # ----------------------------------------------------------------- seeding
    def _seed_defaults(self, users: dict[str, str]) -> None:
        ts = self.now_str()
        admin_ref = {"id": ADMIN_ID}

        def put(plural: str, obj: dict) -> None:
            obj.setdefault("created", ts)
            obj.setdefault("lastUpdated", ts)
            obj.setdefault("lastUpdatedBy", admin_ref)
            obj.setdefault("createdBy", admin_ref)
            self.store[plural][obj["id"]] = obj
            self.uid_index[obj["id"]] = plural

        put("categoryOptions", {"id": DEFAULT_CATEGORY_OPTION, "name": "default", "code": "default",
                                "shortName": "default"})
        put("categories", {"id": DEFAULT_CATEGORY, "name": "default", "code": "default",
                           "shortName": "default", "dataDimensionType": "DISAGGREGATION",
                           "dataDimension": False,
                           "categoryOptions": [{"id": DEFAULT_CATEGORY_OPTION}]})
        put("categoryCombos", {"id": DEFAULT_CATEGORY_COMBO, "name": "default", "code": "default",
                               "dataDimensionType": "DISAGGREGATION", "skipTotal": False,
                               "categories": [{"id": DEFAULT_CATEGORY}]})
        put("categoryOptionCombos", {"id": DEFAULT_COC, "name": "default", "code": "default",
                                     "ignoreApproval": False,
                                     "categoryCombo": {"id": DEFAULT_CATEGORY_COMBO},
                                     "categoryOptions": [{"id": DEFAULT_CATEGORY_OPTION}]})
        put("userRoles", {"id": SUPERUSER_ROLE_ID, "name": "Superuser", "code": "Superuser",
                          "authorities": ["ALL"]})
        for username, password in users.items():
            uid = ADMIN_ID if username == "admin" else make_uid(random.Random(f"user:{username}"))
            put("users", {"id": uid, "username": username, "code": username,
                          "firstName": username, "surname": username, "name": f"{username} {username}",
                          "userRoles": [{"id": SUPERUSER_ROLE_ID}], "organisationUnits": [],
                          "dataViewOrganisationUnits": [], "disabled": False})
            self.passwords[username] = password
            self.user_ids[username] = uid
        put("userGroups", {"id": ADMIN_GROUP_ID, "name": "System administrators",
                           "code": "Administrators",
                           "users": [{"id": uid} for uid in self.user_ids.values()]})

    # ----------------------------------------------------------------- metadata access
    def objects(self, type: str) -> list[dict]:
        """Deep copies of all stored objects of a type (plural collection name)."""
        with self.lock:
            return copy.deepcopy(list(self._collection(type).values()))

    def get_object(self, type: str, uid: str) -> dict | None:
        with self.lock:
            obj = self._collection(type).get(uid)
            return copy.deepcopy(obj) if obj is not None else None

    def update_object(self, type: str, uid: str, changes: dict, user: str = "admin") -> dict:
        """Apply changes to a stored object as a server-side edit would (bumps lastUpdated)."""
        with self.lock:
            obj = self._collection(type)[uid]
            obj.update(copy.deepcopy(changes))
            obj["lastUpdated"] = self.now_str()
            obj["lastUpdatedBy"] = {"id": self.user_ids.get(user, ADMIN_ID)}
            if type == "organisationUnits":
                self.recompute_paths()
            return copy.deepcopy(obj)

    def delete_object(self, type: str, uid: str, user: str = "admin") -> None:
        """Remove an object without reference checks and record it in deletedObjects."""
        with self.lock:
            obj = self._collection(type).pop(uid)
            self.uid_index.pop(uid, None)
            self.record_deletion(schema.BY_PLURAL[type], uid, obj.get("code"), user)
            if type == "organisationUnits":
                self.recompute_paths()

    def record_deletion(self, spec: schema.TypeSpec, uid: str, code: str | None, user: str) -> None:
        entry = {"uid": uid, "klass": spec.singular, "deletedAt": self.now_str(), "deletedBy": user}
        if code:
            entry["code"] = code
        self.deleted_objects.append(entry)

    def forget_deletion(self, uids: Iterable[str]) -> None:
        """DHIS2 drops a deletedObject entry when an object with that uid is created again."""
        gone = set(uids)
        if gone and self.deleted_objects:
            self.deleted_objects = [d for d in self.deleted_objects if d["uid"] not in gone]

    def _collection(self, type: str) -> dict[str, dict]:
        if type not in self.store:
            raise KeyError(f"Unknown metadata type {type!r}")
        return self.store[type]

    def recompute_paths(self) -> None:
        """Organisation unit `path` and `level` follow from the parent chain."""
        units = self.store["organisationUnits"]
        self._children_cache = None
        resolved: dict[str, str] = {}

        def path_of(uid: str, depth: int = 0) -> str:
            if uid in resolved:
                return resolved[uid]
            parent = (units[uid].get("parent") or {}).get("id")
            if parent in units and depth < 100:
                result = path_of(parent, depth + 1) + "/" + uid
            else:
                result = "/" + uid
            resolved[uid] = result
            return result

        for uid, unit in units.items():
            path = path_of(uid)
            unit["path"] = path
            unit["level"] = path.count("/")

    def children_map(self) -> dict[str, list[str]]:
        with self.lock:
            if self._children_cache is None:
                children: dict[str, list[str]] = {}
                for uid, unit in self.store["organisationUnits"].items():
                    parent = (unit.get("parent") or {}).get("id")
                    if parent:
                        children.setdefault(parent, []).append(uid)
                self._children_cache = children
            return self._children_cache

    # ----------------------------------------------------------------- imports
    def import_metadata(self, payload: dict | list | bytes | str, user: str = "admin",
                        **params: Any) -> dict:
        """The same import POST /api/metadata does; returns the raw ImportReport."""
        from .metadata_import import import_metadata
        return import_metadata(self, payload, {k: str(v) for k, v in params.items()}, user)

    def import_data_values(self, payload: dict | bytes | str, user: str = "admin",
                           content_type: str = "application/json", **params: Any) -> dict:
        """The same import POST /api/dataValueSets does; returns the raw ImportSummary."""
        from .data_values import import_data_values
        return import_data_values(self, payload, {k: str(v) for k, v in params.items()}, user,
                                  content_type)

    # ----------------------------------------------------------------- data values
    def data_values(self, include_deleted: bool = False) -> list[dict]:
        with self.lock:
            return [self.data.render(key, rec) for key, rec in self.data.items()
                    if include_deleted or not rec[6]]

    def set_data_value(self, dataElement: str, period: str, orgUnit: str, value: str | None,
                       categoryOptionCombo: str = DEFAULT_COC,
                       attributeOptionCombo: str = DEFAULT_COC, storedBy: str = "admin",
                       comment: str | None = None, followup: bool = False) -> None:
        """Write one value directly (no validation), as a server-side edit would."""
        with self.lock:
            key = (dataElement, period, orgUnit, categoryOptionCombo, attributeOptionCombo)
            now = self.now_str()
            old = self.data.get(key)
            created = old[2] if old is not None and not old[6] else now
            self.data.put(key, (value, storedBy, created, now, comment, followup, False))

    def delete_data_value(self, dataElement: str, period: str, orgUnit: str,
                          categoryOptionCombo: str = DEFAULT_COC,
                          attributeOptionCombo: str = DEFAULT_COC) -> None:
        """Soft-delete one value (kept for includeDeleted exports)."""
        with self.lock:
            key = (dataElement, period, orgUnit, categoryOptionCombo, attributeOptionCombo)
            old = self.data.get(key)
            if old is None:
                raise KeyError(key)
            self.data.put(key, old[:3] + (self.now_str(),) + old[4:6] + (True,))

    # ----------------------------------------------------------------- request log
    def log_request(self, method: str, path: str, query: str) -> None:
        with self._log_lock:
            self.request_log.append((method, path, query))

    def reset_request_log(self) -> None:
        with self._log_lock:
            self.request_log.clear()

    # ----------------------------------------------------------------- auth
    def user_id(self, username: str) -> str:
        return self.user_ids.get(username, ADMIN_ID)
