"""Does the destination hold exactly the source's values of a dataSet? If not, make it so.

Both sides' whole scope (the dataSet under the roots, in the window, live values) is read once,
streamed slice by slice like the sync reads it, and folded into a count and an order-free
checksum of key + value per (org unit, period). Groups that differ are read again on both
sides, value by value, and the destination is healed: what it lacks or holds differently is
sent again, what it holds and the source does not is deleted. Then those groups are compared
once more; what still differs is the check's failure. Nothing depends on watermarks, so a
destination restored from a backup or reset is found and repaired by the next run.

Memory: a group's totals are one int (count and checksum packed) under a key whose strings are
shared by all groups of an org unit or period, so the comparison holds ~140 bytes per group,
whatever the number of values; healing goes 100 org units at a time, so even a destination found
empty is never held whole in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dhis_sync_pipeline.config import ImportOptions
from dhis_sync_pipeline.dhis2 import DHIS2Client, ObjectError
from dhis_sync_pipeline.sync.data_slices import ORG_UNITS_PER_SLICE, SliceReader
from dhis_sync_pipeline.sync.data_values import DEFAULT_COMBO, child_org_units, post_values

_MASK = (1 << 64) - 1
Group = tuple[str, str]  # (orgUnit, period)
ValueKey = tuple[str, str, str, str, str]


@dataclass
class DataVerification:
    data_set: str
    source_values: int = 0
    destination_values: int = 0
    groups: int = 0
    differing_groups: list[Group] = field(default_factory=list)
    resent: int = 0
    deleted: int = 0
    still_differing: list[Group] = field(default_factory=list)
    errors: list[ObjectError] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.still_differing and not self.errors


def _value_key(row: dict[str, Any]) -> ValueKey:
    return (
        row.get("dataElement"), row.get("period"), row.get("orgUnit"),
        row.get("categoryOptionCombo") or DEFAULT_COMBO, row.get("attributeOptionCombo") or DEFAULT_COMBO,
    )


def _value(row: dict[str, Any]) -> str | None:
    value = row.get("value")
    return None if value is None else str(value)


def totals(rows: Iterable[dict[str, Any]]) -> dict[Group, int]:
    """Per (org unit, period): count << 64 | checksum (sum of hashes of key + value, mod 2^64)."""
    found: dict[Group, int] = {}
    names: dict[str, str] = {}  # one string object per org unit and per period
    for row in rows:
        key = _value_key(row)
        unit, period = key[2], key[1]
        group = (names.setdefault(unit, unit), names.setdefault(period, period))
        packed = found.get(group, 0)
        found[group] = (((packed >> 64) + 1) << 64) | ((packed + hash((key, _value(row)))) & _MASK)
    return found


def count_of(packed: int) -> int:
    return packed >> 64


def _reader(client: DHIS2Client, data_set: str, window: tuple[dt.date, dt.date], cap: int) -> SliceReader:
    scope = {"dataSet": data_set, "startDate": window[0].isoformat(), "endDate": window[1].isoformat()}
    return SliceReader(client.stream_data_values, lambda uid: child_org_units(client, uid), scope, cap,
                       describe=f"dataSet {data_set}")


def _values_of(client: DHIS2Client, data_set: str, window, cap: int, groups: Iterable[Group]) -> dict[ValueKey, dict]:
    """Every live value of these (org unit, period) groups, by key."""
    wanted = set(groups)
    rows = _reader(client, data_set, window, cap).rows(sorted({unit for unit, _ in wanted}), children=False)
    return {_value_key(r): r for r in rows if (r.get("orgUnit"), r.get("period")) in wanted}


def verify_and_heal(
    source: DHIS2Client,
    destination: DHIS2Client,
    data_set: str,
    roots: Iterable[str],
    window: tuple[dt.date, dt.date],
    *,
    cap: int,
    page_size: int,
    options: ImportOptions,
    send_data_set: bool,
) -> DataVerification:
    roots = list(roots)
    outcome = DataVerification(data_set=data_set)
    on_source = totals(_reader(source, data_set, window, cap).rows(roots))
    on_destination = totals(_reader(destination, data_set, window, cap).rows(roots))
    outcome.source_values = sum(count_of(t) for t in on_source.values())
    outcome.destination_values = sum(count_of(t) for t in on_destination.values())
    outcome.groups = len(on_source.keys() | on_destination.keys())
    outcome.differing_groups = sorted(
        g for g in on_source.keys() | on_destination.keys() if on_source.get(g) != on_destination.get(g)
    )
    if not outcome.differing_groups:
        return outcome

    del on_source, on_destination
    units = sorted({unit for unit, _ in outcome.differing_groups})
    for start in range(0, len(units), ORG_UNITS_PER_SLICE):
        batch = set(units[start : start + ORG_UNITS_PER_SLICE])
        _heal(source, destination, data_set, window, cap, page_size, options, send_data_set,
              [g for g in outcome.differing_groups if g[0] in batch], outcome)
    return outcome


def _heal(
    source: DHIS2Client,
    destination: DHIS2Client,
    data_set: str,
    window: tuple[dt.date, dt.date],
    cap: int,
    page_size: int,
    options: ImportOptions,
    send_data_set: bool,
    groups: list[Group],
    outcome: DataVerification,
) -> None:
    """Make these groups (of at most 100 org units) on the destination what they are on the source."""
    wanted = _values_of(source, data_set, window, cap, groups)
    held = _values_of(destination, data_set, window, cap, groups)
    resend = [row for key, row in wanted.items() if key not in held or _value(held[key]) != _value(row)]
    extra = [row for key, row in held.items() if key not in wanted]
    del held
    for rows, strategy in ((resend, options.import_strategy), (extra, "DELETE")):
        for chunk in _chunks(rows, page_size):
            _, errors = post_values(destination, pd.DataFrame.from_records(chunk), data_set if send_data_set else None,
                                    options, strategy)
            outcome.errors.extend(errors)
    outcome.resent += len(resend)
    outcome.deleted += len(extra)
    del resend, extra

    again = totals(_values_of(destination, data_set, window, cap, groups).values())
    expected = totals(wanted.values())
    outcome.still_differing += [g for g in groups if again.get(g) != expected.get(g)]


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


__all__ = ["DataVerification", "totals", "verify_and_heal"]
