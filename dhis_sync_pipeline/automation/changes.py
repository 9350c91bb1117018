"""Ask a DHIS2 source, cheaply, which monitored resources changed since a moment.

One small request per monitored resource: `pageSize=1&fields=id` with a `lastUpdated` filter for
metadata, `limit=1` with `lastUpdated=` for the data values of each configured dataSet.
"""

from __future__ import annotations

import datetime as dt

from dhis_sync_pipeline.config import DATA_VALUES_RESOURCE, SyncConfig
from dhis_sync_pipeline.dhis2 import DHIS2Client
from dhis_sync_pipeline.sync.metadata import format_watermark


def monitored_resources(config: SyncConfig) -> tuple[str, ...]:
    """What the sensor watches: the configured list, or everything the configuration syncs."""
    if config.auto.monitored_resources:
        return config.auto.monitored_resources
    resources = tuple(config.metadata_resources)
    return resources + ((DATA_VALUES_RESOURCE,) if config.data else ())


def has_changed(source: DHIS2Client, config: SyncConfig, resource: str, since: dt.datetime) -> bool:
    """True when the source holds anything of `resource` updated at or after `since`."""
    stamp = format_watermark(since)
    if resource != DATA_VALUES_RESOURCE:
        return source.count(resource, filters=[f"lastUpdated:ge:{stamp}"]) > 0
    if config.data is None:
        return False
    for data_set in config.data.data_sets:
        answer = source.get(
            "dataValueSets",
            params={
                "dataSet": data_set,
                "orgUnit": list(config.data.org_units),
                "children": "true",
                "lastUpdated": stamp,
                "includeDeleted": "true",
                "limit": 1,
            },
        )
        if (answer or {}).get("dataValues"):
            return True
    return False
