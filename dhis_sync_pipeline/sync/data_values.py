"""Sync the aggregate data values of one dataSet.

Scope: the dataSet's values under the configured org-unit roots in the data window. The first
run reads the whole scope; later runs only what changed since the watermark (`lastUpdated`,
deletions included with `includeDeleted=true`, so they are replayed as `"deleted": true` rows).
The source is read in slices a server can answer (`data_slices.py`), each answer parsed as a
stream; rows are prepared with pandas in chunks, and each chunk is posted while the next one is
read. Every conflict becomes one error carrying the value's full key.

Time zones: data-value timestamps are exported in UTC, but 2.36–2.42 compare the `lastUpdated`
parameter as UTC text against the server-local column (SpringDataValueSetStore), so on a server
west of UTC the window would start |offset| hours late. The request is moved back by the
server's UTC offset and rows the previous run already saw (lastUpdated before the watermark) are
dropped here, so nothing is missed and nothing is counted twice.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dhis_sync_pipeline.config import DataSection, ImportOptions
from dhis_sync_pipeline.dhis2 import DHIS2Client, DHIS2Version, ImportResult, ObjectError
from dhis_sync_pipeline.sync.data_slices import SliceReader, SliceStats
from dhis_sync_pipeline.sync.metadata import format_watermark
from dhis_sync_pipeline.sync.read_ahead import read_ahead
from dhis_sync_pipeline.sync.registrations import sync_registrations
from dhis_sync_pipeline.sync.tally import ImportTally

KEY = ["dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo"]
REQUIRED = ["dataElement", "period", "orgUnit"]
# Sent to the destination; created/lastUpdated are the destination's own business.
CARRIED = [*KEY, "value", "storedBy", "comment", "followup"]
DEFAULT_COMBO = "HllvX50cXC0"
#: 2.43 compares `lastUpdated` correctly and validates per dataSet (DataExportStore, DataEntryService).
CORRECT_LAST_UPDATED = DHIS2Version.parse("2.43")

ProgressCallback = Callable[[int, int, int], None]  # (processed, errors, total expected so far)


@dataclass(kw_only=True)
class DataSyncOutcome(ImportTally):
    data_set: str
    watermark: dt.datetime
    since: dt.datetime | None
    window: tuple[dt.date, dt.date]
    chunks: int = 0
    already_synced: int = 0  # rows of the overlap the previous run had already sent
    registrations: int = 0
    slices: SliceStats = field(default_factory=SliceStats)


def source_utc_offset(zone: dt.tzinfo | None, *moments: dt.datetime) -> dt.timedelta:
    """The largest |UTC offset| of the source's zone at the given (server-local) moments."""
    if zone is None:
        return dt.timedelta()
    return max((abs(m.replace(tzinfo=zone).utcoffset() or dt.timedelta()) for m in moments), default=dt.timedelta())


def export_scope(
    data_set: str, window: tuple[dt.date, dt.date], since: dt.datetime | None, overlap: dt.timedelta
) -> dict[str, Any]:
    """The export parameters of a dataSet's scope, org units aside (the slices add them)."""
    params: dict[str, Any] = {"dataSet": data_set, "startDate": window[0].isoformat(), "endDate": window[1].isoformat()}
    if since is not None:
        params.update(lastUpdated=format_watermark(since - overlap), includeDeleted="true")
    return params


def sync_data_set(
    source: DHIS2Client,
    destination: DHIS2Client,
    data: DataSection,
    data_set: str,
    *,
    since: dt.datetime | None,
    options: ImportOptions,
    page_size: int,
    slice_cap: int,
    progress: ProgressCallback | None = None,
) -> DataSyncOutcome:
    began = time.monotonic()
    info = source.system_info()
    server_now = info.server_date
    window = data.window(server_now.date())
    outcome = DataSyncOutcome(data_set=data_set, watermark=server_now, since=since, window=window)
    report = progress or (lambda processed, errors, total: None)

    overlap = dt.timedelta()
    if since is not None and info.version < CORRECT_LAST_UPDATED:
        overlap = source_utc_offset(info.tzinfo, since, server_now)
    since_utc = since.replace(tzinfo=info.tzinfo or dt.UTC).astimezone(dt.UTC) if since is not None else None
    send_data_set = destination.system_info().version >= CORRECT_LAST_UPDATED  # 2.43 needs it (E8002)

    reader = SliceReader(
        source.stream_data_values,
        lambda uid: child_org_units(source, uid),
        export_scope(data_set, window, since, overlap),
        slice_cap,
        describe=f"dataSet {data_set}",
    )
    outcome.slices = reader.stats
    changed_periods: set[str] = set()
    chunks = _prepared_chunks(reader.rows(data.org_units), page_size, since_utc)
    # depth 1: one chunk ready while one is posted and the next is read, enough to keep both
    # servers busy; each more in the buffer costs a chunk of memory and gains no speed.
    for count, frame, invalid, overlapped in read_ahead(chunks, depth=1, name="dhis2-next-chunk"):
        outcome.chunks += 1
        outcome.read += count - overlapped
        outcome.already_synced += overlapped
        outcome.errors.extend(invalid)
        if not len(frame):
            continue
        changed_periods.update(frame["period"].unique())
        upserts, deletions = _split_deletions(frame)
        if len(upserts):
            _post(destination, upserts, data_set if send_data_set else None, options, options.import_strategy, outcome)
        if len(deletions) and options.import_strategy != "CREATE":
            _post(destination, deletions, data_set if send_data_set else None, options, "DELETE", outcome)
        del frame, upserts, deletions  # posted: not held while the next chunk is awaited
        report(outcome.read, len(outcome.errors), outcome.read + (page_size if count == page_size else 0))

    if data.complete_registrations:
        outcome.registrations, errors = sync_registrations(
            source, destination, data, data_set, window=window, since=since, changed_periods=changed_periods,
            options=options,
        )
        outcome.errors.extend(errors)
    outcome.duration_seconds = time.monotonic() - began
    return outcome


def child_org_units(source: DHIS2Client, uid: str) -> list[str]:
    """The UIDs of an org unit's children (how a too-big slice is split)."""
    pages = source.iter_pages("organisationUnits", fields="id", filters=[f"parent.id:eq:{uid}"], page_size=1000)
    return [unit["id"] for page in pages for unit in page]


def _split_deletions(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(upserts, deletions); a chunk without deletions (every first run) is not copied."""
    if "deleted" not in frame or not frame["deleted"].any():
        return frame, frame.iloc[:0]
    deleted = frame["deleted"]
    return frame[~deleted], frame[deleted]


PreparedChunk = tuple[int, pd.DataFrame, list[ObjectError], int]  # (rows read, frame, invalid, already synced)


def _prepared_chunks(rows: Iterator[dict[str, Any]], size: int, since_utc: dt.datetime | None) -> Iterator[PreparedChunk]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            # The rows are let go before the yield: while the consumer is busy, this generator
            # waits at the yield, and a list of raw rows is ~2.5 times its prepared frame.
            prepared, chunk = _prepare(chunk, since_utc), []
            yield prepared
    if chunk:
        prepared, chunk = _prepare(chunk, since_utc), []
        yield prepared


def _prepare(rows: list[dict[str, Any]], since_utc: dt.datetime | None) -> PreparedChunk:
    """Fill default combos, drop what the last run already sent, set aside incomplete values and
    drop duplicate keys (last wins)."""
    frame = pd.DataFrame.from_records(rows)
    for column in ("categoryOptionCombo", "attributeOptionCombo"):
        if column not in frame:
            frame[column] = DEFAULT_COMBO
        frame[column] = frame[column].fillna(DEFAULT_COMBO)
    for column in REQUIRED:
        if column not in frame:
            frame[column] = None
    overlapped = 0
    old = pd.Series(False, index=frame.index)
    if since_utc is not None and "lastUpdated" in frame:
        changed = pd.to_datetime(frame["lastUpdated"], utc=True, format="ISO8601", errors="coerce")
        old = changed < pd.Timestamp(since_utc)  # unparseable stays (NaT compares False)
        overlapped = int(old.sum())
    missing = frame[REQUIRED].isna().any(axis=1) & ~old
    errors = [
        ObjectError(None, "DataValue", None, ", ".join(c for c in REQUIRED if pd.isna(row[c])),
                    "the source exported a value without " + ", ".join(c for c in REQUIRED if pd.isna(row[c])),
                    value_key=_key(row))
        for _, row in frame[missing].iterrows()
    ]
    if "deleted" in frame:
        frame["deleted"] = frame["deleted"].fillna(False).astype(bool)
    # One selection (a single copy of the chunk) for both filters, then the duplicates.
    keep = ~(old | missing)
    if not keep.all():
        frame = frame[keep]
    duplicated = frame.duplicated(subset=KEY, keep="last")
    if duplicated.any():
        frame = frame[~duplicated]
    return len(rows), frame.reset_index(drop=True), errors, overlapped


def _post(
    destination: DHIS2Client,
    frame: pd.DataFrame,
    data_set: str | None,
    options: ImportOptions,
    strategy: str,
    outcome: DataSyncOutcome,
) -> None:
    result, errors = post_values(destination, frame, data_set, options, strategy)
    outcome.add_counts(result)
    outcome.errors.extend(errors)


def post_values(
    destination: DHIS2Client, frame: pd.DataFrame, data_set: str | None, options: ImportOptions, strategy: str
) -> tuple[ImportResult, list[ObjectError]]:
    """POST one chunk of values; the result and each rejected value.

    `data_set` is given for 2.43+ destinations only, whose importer wants it; older ones check a
    header dataSet against more rules (locks, assignments) that a sync should not add.
    """
    columns = [c for c in CARRIED if c in frame.columns]
    records = frame[columns]
    head = b"{"
    if data_set:  # a 2.43 destination: its importer needs dataSet and reads followUp (DataEntryInput)
        head = b'{"dataSet":' + json.dumps(data_set).encode() + b","
        records = records.rename(columns={"followup": "followUp"})
    body = head + b'"dataValues":' + _without_nulls(records.to_json(orient="records").encode("utf-8")) + b"}"
    result = destination.post_data_values(
        body,
        importStrategy=strategy,
        dryRun=str(options.dry_run).lower(),
        idScheme="UID",
        skipAudit="false",
        async_=False,
    )
    return result, rejected_values(result, frame)


#: A member `"key":null` after the first of a record (dataElement, never null, comes first).
#: In valid JSON, `,"` with an unescaped quote cannot lie inside a string, so each match is a member.
_NULL_MEMBER = re.compile(rb',"[A-Za-z]+":null(?=[,}])')


def _without_nulls(records_json: bytes) -> bytes:
    # DHIS2 serialises with nulls left out and some versions reject explicit nulls. Removing
    # them from pandas' own JSON keeps the whole chunk in C: decoding and re-encoding it in
    # Python cost ~10 times more time and a second copy of the chunk as Python objects.
    return _NULL_MEMBER.sub(b"", records_json)


def rejected_values(result: ImportResult, frame: pd.DataFrame) -> list[ObjectError]:
    """One error per rejected value, with the value's key.

    Judged by status, conflicts and rejected indexes, never by counts: a conflict names its
    rows by index (2.37+); an ERROR that wrote nothing rejected every row it did not name (2.43
    rejects a whole dataSet group at once, with conflicts that name no row).
    """
    conflicts = result.rejections("DataValueSet")
    errors: list[ObjectError] = []
    named: set[int] = set()
    unplaced: list[ObjectError] = []
    for conflict in conflicts:
        rows = [i for i in conflict.indexes if 0 <= i < len(frame)]
        if not rows:
            unplaced.append(conflict)
            continue
        for index in rows:
            named.add(index)
            errors.append(_value_error(conflict, index, frame))
    whole = result.status == "ERROR" and result.created + result.updated + result.deleted == 0
    if whole and unplaced:
        cause = unplaced[0]
        errors.extend(_value_error(cause, i, frame) for i in range(len(frame)) if i not in named)
    else:
        errors.extend(unplaced)  # 2.36 names no rows: keep the conflict as DHIS2 said it
    return errors


def _value_error(conflict: ObjectError, index: int, frame: pd.DataFrame) -> ObjectError:
    return ObjectError(conflict.uid, conflict.object_type, conflict.error_code, conflict.property,
                       conflict.message, (index,), _key(frame.iloc[index]))


def _key(row: pd.Series) -> dict[str, str]:
    return {column: str(row[column]) for column in KEY if column in row and not pd.isna(row[column])}
