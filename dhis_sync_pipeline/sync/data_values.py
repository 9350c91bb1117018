"""Sync the aggregate data values of one dataSet, page by page.

First run: the configured window (startDate/endDate) under the orgUnit roots (children=true).
Later runs: only values changed since the watermark (`lastUpdated`), deletions included
(`includeDeleted=true`). Memory is bounded by one page: each page is read, checked and
de-duplicated with pandas, posted (upserts, then deletions), and its ImportSummary read to the
end; every conflict becomes one error carrying the value's full key.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dhis_sync_pipeline.config import DataSection, ImportOptions
from dhis_sync_pipeline.dhis2 import DHIS2Client, ImportResult, ObjectError
from dhis_sync_pipeline.dhis2.errors import DHIS2ResponseError
from dhis_sync_pipeline.sync.metadata import format_watermark
from dhis_sync_pipeline.sync.tally import ImportTally

KEY = ["dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo"]
REQUIRED = ["dataElement", "period", "orgUnit"]
# Sent to the destination; created/lastUpdated are the destination's own business.
CARRIED = [*KEY, "value", "storedBy", "comment", "followup"]
DEFAULT_COMBO = "HllvX50cXC0"

ProgressCallback = Callable[[int, int, int], None]  # (processed, errors, total expected so far)


@dataclass(kw_only=True)
class DataSyncOutcome(ImportTally):
    data_set: str
    watermark: dt.datetime
    since: dt.datetime | None
    window: tuple[dt.date, dt.date] | None
    pages: int = 0
    registrations: int = 0


def export_params(data: DataSection, data_set: str, since: dt.datetime | None, window: tuple[dt.date, dt.date] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"dataSet": data_set, "orgUnit": list(data.org_units), "children": "true"}
    if since is not None:
        params.update(lastUpdated=format_watermark(since), includeDeleted="true")
    else:
        assert window is not None
        params.update(startDate=window[0].isoformat(), endDate=window[1].isoformat())
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
    progress: ProgressCallback | None = None,
) -> DataSyncOutcome:
    began = time.monotonic()
    server_now = source.system_info().server_date
    window = None if since is not None else data.window(server_now.date())
    outcome = DataSyncOutcome(data_set=data_set, watermark=server_now, since=since, window=window)
    report = progress or (lambda processed, errors, total: None)
    params = export_params(data, data_set, since, window)

    for count, frame, invalid in _prepared_pages(source, params, page_size):
        outcome.pages += 1
        outcome.read += count
        outcome.errors.extend(invalid)
        upserts = frame[~frame["deleted"]] if "deleted" in frame else frame
        deletions = frame[frame["deleted"]] if "deleted" in frame else frame.iloc[0:0]
        if len(upserts):
            _post(destination, upserts, options, options.import_strategy, outcome)
        if len(deletions) and options.import_strategy != "CREATE":
            _post(destination, deletions, options, "DELETE", outcome)
        expected = outcome.read + (page_size if count == page_size else 0)
        report(outcome.read, len(outcome.errors), expected)

    if data.complete_registrations:
        outcome.registrations = _sync_registrations(source, destination, params, options, outcome)
    outcome.duration_seconds = time.monotonic() - began
    return outcome


PreparedPage = tuple[int, pd.DataFrame, list[ObjectError]]  # (values read, frame, invalid values)


def _prepared_pages(source: DHIS2Client, params: dict[str, Any], page_size: int) -> Iterator[PreparedPage]:
    """The export's pages in order, each read and prepared one page ahead.

    The next page is fetched, decoded and prepared in a background thread while the caller
    posts the current one, so the source's export and the destination's import overlap instead
    of taking turns; at most two pages are in memory. Only that thread uses the source client
    meanwhile.
    """

    def fetch(offset: int) -> PreparedPage | None:
        body = source.get_data_values({**params, "limit": page_size, "offset": offset})
        values = body.get("dataValues") or []
        return (len(values), *_prepare(values)) if values else None

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dhis2-next-page")
    try:
        offset = 0
        previous_first: tuple | None = None
        pending = pool.submit(fetch, offset)
        while True:
            page = pending.result()
            if page is None or page[0] < page_size:
                if page is not None:
                    yield page
                return
            first = tuple(page[1].iloc[0][KEY]) if len(page[1]) else None
            if first is not None and first == previous_first:
                # A server that ignores `offset` would hand out its first page forever.
                raise DHIS2ResponseError(
                    f"{source.name} returned the same page of data values for offset {offset} as for the "
                    "page before: it does not page dataValueSets with limit/offset. Raise "
                    "page_sizes.data_values (up to 30000) or narrow the data window.",
                    instance=source.name,
                    url=source.base_url,
                )
            previous_first = first
            offset += page_size
            pending = pool.submit(fetch, offset)
            yield page
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _prepare(page: list[dict[str, Any]]) -> tuple[pd.DataFrame, list[ObjectError]]:
    """Fill default combos, drop duplicate keys (last wins) and set aside incomplete values."""
    frame = pd.DataFrame.from_records(page)
    for column in ("categoryOptionCombo", "attributeOptionCombo"):
        if column not in frame:
            frame[column] = DEFAULT_COMBO
        frame[column] = frame[column].fillna(DEFAULT_COMBO)
    for column in REQUIRED:
        if column not in frame:
            frame[column] = None
    missing = frame[REQUIRED].isna().any(axis=1)
    errors = [
        ObjectError(None, "DataValue", None, ", ".join(c for c in REQUIRED if pd.isna(row[c])),
                    "the source exported a value without " + ", ".join(c for c in REQUIRED if pd.isna(row[c])),
                    value_key=_key(row))
        for _, row in frame[missing].iterrows()
    ]
    frame = frame[~missing]
    if "deleted" in frame:
        frame["deleted"] = frame["deleted"].fillna(False).astype(bool)
    frame = frame.drop_duplicates(subset=KEY, keep="last").reset_index(drop=True)
    return frame, errors


def _post(destination: DHIS2Client, frame: pd.DataFrame, options: ImportOptions, strategy: str, outcome: DataSyncOutcome) -> None:
    columns = [c for c in CARRIED if c in frame.columns]
    body = b'{"dataValues":' + frame[columns].to_json(orient="records").encode("utf-8") + b"}"
    result = destination.post_data_values(
        _without_nulls(body, frame[columns]),
        importStrategy=strategy,
        dryRun=str(options.dry_run).lower(),
        idScheme="UID",
        skipAudit="false",
        async_=False,
    )
    outcome.add_counts(result)
    outcome.errors.extend(_conflicts_with_keys(result, frame))


def _without_nulls(body: bytes, frame: pd.DataFrame) -> bytes:
    # DHIS2 serialises with nulls left out and some versions reject explicit nulls; only
    # rebuild the payload when a column really has gaps (the common case stays vectorised).
    # Cheap test first: every null in the records JSON is written `"key":null` (a string that
    # merely contains `:null` only costs the slower, still exact, path below).
    if b":null" not in body or not frame.isna().to_numpy().any():
        return body
    records = [{k: v for k, v in record.items() if v is not None} for record in json.loads(body)["dataValues"]]
    return json.dumps({"dataValues": records}, separators=(",", ":")).encode("utf-8")


def _conflicts_with_keys(result: ImportResult, frame: pd.DataFrame) -> list[ObjectError]:
    """One error per rejected value, with the value's key, from the conflicts' row indexes."""
    errors: list[ObjectError] = []
    for conflict in result.rejections("DataValueSet"):
        rows = [i for i in conflict.indexes if 0 <= i < len(frame)]
        if not rows:
            errors.append(conflict)  # 2.36 and a few conflicts name no rows: keep as DHIS2 said it
            continue
        for index in rows:
            errors.append(
                ObjectError(conflict.uid, conflict.object_type, conflict.error_code, conflict.property,
                            conflict.message, (index,), _key(frame.iloc[index]))
            )
    return errors


def _key(row: pd.Series) -> dict[str, str]:
    return {column: str(row[column]) for column in KEY if column in row and not pd.isna(row[column])}


def _sync_registrations(
    source: DHIS2Client, destination: DHIS2Client, params: dict[str, Any], options: ImportOptions, outcome: DataSyncOutcome
) -> int:
    """Complete data set registrations follow their values."""
    query = {k: v for k, v in params.items() if k != "includeDeleted"}
    body = source.get("completeDataSetRegistrations", params=query) or {}
    registrations = body.get("completeDataSetRegistrations") or []
    if not registrations or options.dry_run:
        return 0
    payload = [{k: v for k, v in r.items() if k not in ("lastUpdated", "created", "lastUpdatedBy")} for r in registrations]
    result = destination.post_import(
        "completeDataSetRegistrations",
        {"completeDataSetRegistrations": payload},
        params={"importStrategy": options.import_strategy, "idScheme": "UID"},
    )
    outcome.errors.extend(result.rejections("CompleteDataSetRegistration"))
    return len(payload)
