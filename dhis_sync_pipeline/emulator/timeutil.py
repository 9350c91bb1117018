"""Timestamps the way DHIS2 writes them: naive, server time zone, millisecond precision."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def format_ts(value: datetime) -> str:
    """`2019-08-26T14:24:45.185`: what DHIS2 puts in created/lastUpdated/serverDate."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def parse_ts(text: str, tz: ZoneInfo | None = None) -> datetime | None:
    """Parse the date forms DHIS2 accepts; a zone suffix is converted to `tz` (naive result)."""
    if not isinstance(text, str):
        return None
    m = _TS.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                         int(second or 0), micro)
    except ValueError:
        return None
    if zone:
        if zone == "Z":
            offset = timezone.utc
        else:
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            from datetime import timedelta
            offset = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        value = value.replace(tzinfo=offset).astimezone(tz or timezone.utc).replace(tzinfo=None)
    return value
