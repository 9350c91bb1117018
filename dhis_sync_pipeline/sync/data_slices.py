"""Reading one dataSet's values in slices a DHIS2 server can answer.

`GET /api/dataValueSets` cannot be paged: 2.36–2.42 have no `offset` and no ORDER BY, so `limit`
cuts an arbitrary subset, and 2.43's `offset` orders by (period, created, dataElement), which is
not a total order (SpringDataValueSetStore). So the scope is read as slices, each asked with
`limit=cap` only to detect "too big": an answer that reaches the cap is split into smaller slices
that are read again. Rows already handed out from a too-big or cut-short answer are remembered
by fingerprint, so the smaller slices skip them and nothing is posted twice. A fingerprint is an
8-byte hash kept in a sorted numpy array (not a Python set of ints, ~8 times the size), and an
answer is checked in batches of rows, so memory stays near 8 bytes a value already handed out.
A too-big slice is split into up to eight parts at once, not halved: each level of splitting
re-reads up to `cap` rows, so fewer, wider levels read less and remember less.

Slices are split by org-unit subtree, never by period: `startDate`/`endDate` select the periods
*contained* in the window (SpringDataValueSetStore: `pe.startdate >= start and pe.enddate <=
end`), so cutting a window in two would silently drop the values of longer periods straddling
the cut (a quarterly value of a data element the dataSet shares with a quarterly dataSet).
Subtrees partition the values exactly. A single org unit whose own values reach the cap cannot
be split further: that is an error telling the user to raise the cap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dhis_sync_pipeline.dhis2.errors import DHIS2Error, DHIS2TruncatedBodyError

#: Org units per request: 100 UIDs keep the URL near 2 KB, far below DHIS2's ~8 KB limit.
ORG_UNITS_PER_SLICE = 100
#: Parts a too-big slice is split into at once. Halving instead re-reads most rows several times
#: over (each level reads `cap` rows again) and holds ever larger fingerprint arrays on the way.
SPLIT_WAYS = 8
#: How many times one slice is read again after its answer was cut short.
TRUNCATION_ATTEMPTS = 3
#: Rows checked against the fingerprints at once (one numpy lookup instead of one per row).
BATCH_ROWS = 2048
_FINGERPRINT_FIELDS = (
    "dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo",
    "value", "comment", "followup", "deleted", "lastUpdated",
)


class SliceTooBigError(DHIS2Error):
    """One org unit alone holds at least `cap` values of the dataSet in scope."""


@dataclass(frozen=True)
class Slice:
    """Some org units, each with its descendants (`children`) or alone."""

    org_units: tuple[str, ...]
    children: bool

    def params(self) -> dict[str, Any]:
        return {"orgUnit": list(self.org_units), "children": "true" if self.children else "false"}

    def __str__(self) -> str:
        names = ",".join(self.org_units[:3]) + (f",… ({len(self.org_units)} org units)" if len(self.org_units) > 3 else "")
        return f"{names}{' and descendants' if self.children else ''}"


def batches(org_units: Iterable[str], children: bool, size: int = ORG_UNITS_PER_SLICE) -> list[Slice]:
    units = list(dict.fromkeys(org_units))
    return [Slice(tuple(units[i : i + size]), children) for i in range(0, len(units), size)]


def fingerprint(row: Mapping[str, Any]) -> int:
    return hash(tuple(row.get(name) for name in _FINGERPRINT_FIELDS))


_NONE = np.empty(0, dtype=np.int64)


def _merged(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Two sorted fingerprint arrays as one (timsort merges the two runs in linear time)."""
    if not len(first):
        return second
    if not len(second):
        return first
    return np.sort(np.concatenate((first, second)), kind="stable")


def _contains(sorted_marks: np.ndarray, marks: np.ndarray) -> np.ndarray:
    if not len(sorted_marks):
        return np.zeros(len(marks), dtype=bool)
    at = np.searchsorted(sorted_marks, marks).clip(max=len(sorted_marks) - 1)
    return sorted_marks[at] == marks


@dataclass
class _Work:
    slice: Slice
    seen: np.ndarray  # sorted fingerprints of rows handed out by an earlier, too-big or cut-short, answer
    attempt: int = 1


@dataclass
class SliceStats:
    requests: int = 0
    splits: int = 0
    rows_answered: int = 0  # as the server sent them, skipped repeats included
    rows_skipped: int = 0
    truncations: int = 0


class SliceReader:
    """Hands out every row of a scope once, reading it slice by slice.

    `fetch(params)` streams the rows of one export request; `children_of(uid)` lists an org
    unit's children; `scope` holds the other export parameters (dataSet, time selection, …).
    """

    def __init__(
        self,
        fetch: Callable[[dict[str, Any]], Iterator[dict[str, Any]]],
        children_of: Callable[[str], list[str]],
        scope: Mapping[str, Any],
        cap: int,
        *,
        describe: str = "the dataSet",
    ) -> None:
        self.fetch = fetch
        self.children_of = children_of
        self.scope = dict(scope)
        self.cap = cap
        self.describe = describe
        self.stats = SliceStats()

    def rows(self, roots: Iterable[str], children: bool = True) -> Iterator[dict[str, Any]]:
        """Every row under the roots (with their descendants, or of the org units alone)."""
        stack = [_Work(s, _NONE) for s in reversed(batches(roots, children=children))]
        while stack:
            work = stack.pop()
            own = _NONE  # sorted fingerprints of the rows of this answer handed out so far
            answered = 0
            self.stats.requests += 1
            batch: list[dict[str, Any]] = []
            try:
                for row in self.fetch({**self.scope, **work.slice.params(), "limit": self.cap}):
                    batch.append(row)
                    if len(batch) == BATCH_ROWS:
                        answered += len(batch)
                        own = yield from self._fresh(batch, work.seen, own)
                        batch = []
                answered += len(batch)
                own = yield from self._fresh(batch, work.seen, own)
            except DHIS2TruncatedBodyError:
                # The rows of the unfinished batch were neither handed out nor marked: read again.
                self.stats.rows_answered += answered
                self.stats.truncations += 1
                if work.attempt >= TRUNCATION_ATTEMPTS:
                    raise
                stack.append(_Work(work.slice, _merged(work.seen, own), work.attempt + 1))
                continue
            self.stats.rows_answered += answered
            if answered >= self.cap:
                self.stats.splits += 1
                seen = _merged(work.seen, own)
                stack.extend(_Work(s, seen) for s in reversed(self._split(work.slice)))

    def _fresh(
        self, batch: list[dict[str, Any]], seen: np.ndarray, own: np.ndarray
    ) -> Iterator[dict[str, Any]]:
        """Yield the rows of a batch not handed out before; return `own` with their fingerprints."""
        if not batch:
            return own
        marks = np.fromiter((fingerprint(row) for row in batch), dtype=np.int64, count=len(batch))
        _, first = np.unique(marks, return_index=True)  # a repeat within the batch counts once
        keep = np.zeros(len(marks), dtype=bool)
        keep[first] = True
        keep &= ~_contains(seen, marks) & ~_contains(own, marks)
        fresh = marks[keep]
        self.stats.rows_skipped += len(marks) - len(fresh)
        for row, kept in zip(batch, keep.tolist()):
            if kept:
                yield row
        return _merged(own, np.sort(fresh))

    def _split(self, whole: Slice) -> list[Slice]:
        units = whole.org_units
        if len(units) > 1:
            return _parts(units, whole.children)
        if whole.children:
            return [Slice(units, False), *_parts(self.children_of(units[0]), children=True)]
        raise SliceTooBigError(
            f"org unit {units[0]} alone holds at least {self.cap} values of {self.describe} in scope, "
            "more than one export answer may hold (page_sizes.data_values_slice_cap); raise "
            "page_sizes.data_values_slice_cap, or narrow the data window"
        )


def _parts(org_units: Iterable[str], children: bool) -> list[Slice]:
    """Up to SPLIT_WAYS slices of about equal size (more if that would exceed ORG_UNITS_PER_SLICE)."""
    units = list(dict.fromkeys(org_units))
    ways = max(SPLIT_WAYS, math.ceil(len(units) / ORG_UNITS_PER_SLICE))
    return batches(units, children, size=max(1, math.ceil(len(units) / ways)))
