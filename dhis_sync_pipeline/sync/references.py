"""Make source objects importable on the destination without losing what matters.

Two kinds of properties break type-by-type imports although they carry nothing to sync:
- references to users and user groups that exist only on the source (sharing entries, createdBy,
  user) — DHIS2 rejects the whole object for a dangling sharing reference;
- server-managed and inverse properties (href, access, lastUpdatedBy, an option's optionSet…),
  which the destination computes itself.
The destination's users and user groups are listed once per run (`DestinationDirectory`) and
every object is cleaned against that list.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dhis_sync_pipeline.dhis2.metadata_types import INVERSE_PROPERTIES

# Computed or server-maintained on every DHIS2 object; never worth sending.
SERVER_MANAGED = frozenset(
    {
        "href",
        "access",
        "lastUpdatedBy",
        "favorite",
        "favorites",
        "displayName",
        "displayShortName",
        "displayDescription",
        "displayFormName",
        "externalAccess",
    }
)
USER_REFERENCES = ("createdBy", "user")


@dataclass(frozen=True)
class DestinationDirectory:
    """UIDs of the users and user groups that exist on the destination."""

    users: frozenset[str] = frozenset()
    user_groups: frozenset[str] = frozenset()


@dataclass
class CleaningReport:
    """What was removed, counted by kind, so the run can say it once instead of per object."""

    removed: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, count: int = 1) -> None:
        if count > 0:
            self.removed[kind] += count

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.removed.items()))


def clean_object(
    obj: dict[str, Any], collection: str, directory: DestinationDirectory, report: CleaningReport
) -> dict[str, Any]:
    """A copy of `obj` that the destination can import: same UID, same owner properties."""
    inverse = INVERSE_PROPERTIES.get(collection, frozenset())
    cleaned: dict[str, Any] = {}
    for key, value in obj.items():
        if key in SERVER_MANAGED or key in inverse:
            continue
        if key in USER_REFERENCES:
            if isinstance(value, dict) and value.get("id") in directory.users:
                cleaned[key] = value
            else:
                report.add(f"{key} (user not on destination)")
            continue
        if key == "sharing" and isinstance(value, dict):
            cleaned[key] = _clean_sharing(value, directory, report)
            continue
        if key == "userAccesses" and isinstance(value, list):
            cleaned[key] = _known_entries(value, directory.users, "userAccesses", report)
            continue
        if key == "userGroupAccesses" and isinstance(value, list):
            cleaned[key] = _known_entries(value, directory.user_groups, "userGroupAccesses", report)
            continue
        cleaned[key] = value
    return cleaned


def _clean_sharing(sharing: dict[str, Any], directory: DestinationDirectory, report: CleaningReport) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in sharing.items():
        if key in ("owner", "public", "external"):
            # DHIS2 tolerates an unknown owner (its own fixtures carry some), so it is kept.
            result[key] = value
        elif key == "users" and isinstance(value, dict):
            result[key] = {k: v for k, v in value.items() if k in directory.users}
            report.add("sharing user entries (not on destination)", len(value) - len(result[key]))
        elif key == "userGroups" and isinstance(value, dict):
            result[key] = {k: v for k, v in value.items() if k in directory.user_groups}
            report.add("sharing user group entries (not on destination)", len(value) - len(result[key]))
        else:
            # Anything else under sharing is malformed (some old exports put a user group's
            # entry directly here); DHIS2 ignores it on import, so it goes.
            report.add("malformed sharing entries")
    return result


def _known_entries(
    entries: list[dict[str, Any]], known: frozenset[str], kind: str, report: CleaningReport
) -> list[dict[str, Any]]:
    kept = [e for e in entries if _entry_id(e) in known]
    if len(kept) != len(entries):
        report.add(f"{kind} entries (not on destination)", len(entries) - len(kept))
    return kept


def _entry_id(entry: dict[str, Any]) -> str | None:
    if "id" in entry:
        return entry["id"]
    for nested in ("user", "userGroup"):
        if isinstance(entry.get(nested), dict):
            return entry[nested].get("id")
    return None
