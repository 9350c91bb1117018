"""Complete data set registrations follow their dataSet's values.

`GET /api/completeDataSetRegistrations` has no `lastUpdated` filter (DHIS2 answers E2002): its
time selections are periods, start/end dates and `created`, which filters the completion date
(`cdsr.date >= created`, JdbcCompleteDataSetRegistrationExchangeStore) and is exported as a date
only. So the first run reads the window's periods; later runs read what was completed since the
watermark's day (a day of overlap, the date has no time) plus the periods whose values changed.
An un-completion is stored as `completed: false` (CompleteDataSetRegistrationBatchHandler) and is
carried like any registration when one of those exports shows it; a registration deleted on the
source (importStrategy=DELETE) leaves no trace in any export and is not propagated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from dhis_sync_pipeline.config import DataSection, ImportOptions
from dhis_sync_pipeline.dhis2 import DHIS2Client, ObjectError
from dhis_sync_pipeline.dhis2.query import chunked

#: Periods per request: 150 ISO periods keep the URL near 3 KB (DHIS2 refuses URLs over ~8 KB).
PERIODS_PER_REQUEST = 150
ROOTS_PER_REQUEST = 100  # 100 org unit UIDs: about 2 KB more
IMPORTED = ("dataSet", "period", "organisationUnit", "attributeOptionCombo", "date", "storedBy", "completed")


def registration_queries(
    data: DataSection,
    data_set: str,
    window: tuple[dt.date, dt.date],
    since: dt.datetime | None,
    changed_periods: Iterable[str],
) -> list[dict[str, Any]]:
    """The export requests that together hold every registration the run must send."""
    dates = {"startDate": window[0].isoformat(), "endDate": window[1].isoformat()}
    if since is None:
        selections = [dates]
    else:
        selections = [{**dates, "created": (since.date() - dt.timedelta(days=1)).isoformat()}]
        selections += [{"period": list(p)} for p in chunked(sorted(changed_periods), PERIODS_PER_REQUEST)]
    return [
        {"dataSet": data_set, "orgUnit": roots, "children": "true", **selection}
        for roots in chunked(list(data.org_units), ROOTS_PER_REQUEST)
        for selection in selections
    ]


def sync_registrations(
    source: DHIS2Client,
    destination: DHIS2Client,
    data: DataSection,
    data_set: str,
    *,
    window: tuple[dt.date, dt.date],
    since: dt.datetime | None,
    changed_periods: Iterable[str],
    options: ImportOptions,
) -> tuple[int, list[ObjectError]]:
    """Send the registrations in scope; returns how many were sent and what was rejected."""
    found: dict[tuple, dict[str, Any]] = {}
    for query in registration_queries(data, data_set, window, since, changed_periods):
        body = source.get("completeDataSetRegistrations", params=query) or {}
        for row in body.get("completeDataSetRegistrations") or []:
            unit = row.get("organisationUnit") or row.get("orgUnit")
            key = (row.get("dataSet"), row.get("period"), unit, row.get("attributeOptionCombo"))
            found[key] = {"organisationUnit": unit, **{k: row[k] for k in IMPORTED if k in row and k != "organisationUnit"}}
    if not found:
        return 0, []
    result = destination.post_import(
        "completeDataSetRegistrations",
        {"completeDataSetRegistrations": list(found.values())},
        params={"importStrategy": options.import_strategy, "idScheme": "UID", "dryRun": str(options.dry_run).lower()},
    )
    return len(found), result.rejections("CompleteDataSetRegistration")
