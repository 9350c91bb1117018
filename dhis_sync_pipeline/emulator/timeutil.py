"""Timestamps the way DHIS2 writes and reads them, in the server's time zone.

DHIS2 keeps `timestamp without time zone` columns holding the JVM zone's wall time, so the
emulator keeps naive datetimes in server-local time, millisecond precision.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)

# DateUtils.parseDate (2.36–2.43): the Joda parsers of SUPPORTED_DATE_FORMAT_PARSERS. Date only:
# yyyyMMdd, yyyy-MM-dd, yyyy-MM, yyyy. With a time: 'T' then HH[:mm[:ss[.S…]]], each with an
# optional offset; a space instead of 'T' only in `yyyy-MM-dd HH:mm:ssZ` (seconds and zone).
_DATE_ONLY = re.compile(r"^(\d{4})(?:(\d{2})(\d{2})|-(\d{2})(?:-(\d{2}))?)?$")
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DATE_SPACE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})()(Z|[+-]\d{2}(?::?\d{2})?)$"
)


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a ValueError that says what to pass instead."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {name!r}: use an IANA name such as 'UTC', "
                         "'America/Bogota' or 'Asia/Kolkata'") from exc


def format_ts(value: datetime) -> str:
    """`2019-08-26T14:24:45.185`: what DHIS2 puts in created/lastUpdated/serverDate."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def _offset(text: str) -> timezone:
    if text == "Z":
        return timezone.utc
    sign = 1 if text[0] == "+" else -1
    digits = text[1:].replace(":", "")
    minutes = int(digits[2:4]) if len(digits) > 2 else 0
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=minutes))


def parse_ts(text: str, tz: tzinfo | None = None) -> datetime | None:
    """Parse the date forms DHIS2 accepts; a zone suffix is converted to `tz` (naive result)."""
    if not isinstance(text, str):
        return None
    m = _TS.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, suffix = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                         int(second or 0), micro)
    except ValueError:
        return None
    if suffix:
        value = value.replace(tzinfo=_offset(suffix)).astimezone(tz or timezone.utc)
        value = value.replace(tzinfo=None)
    return value


def parse_dhis2_date(text: object, tz: tzinfo) -> datetime | None:
    """DateUtils.parseDate: a zone-less value is server-local wall time (Joda's default zone);
    a value with an offset is that instant, converted to server-local. None if DHIS2 would
    refuse it ("Invalid format")."""
    if not isinstance(text, str):
        return None
    m = _DATE_TIME.match(text) or _DATE_SPACE_TIME.match(text)
    try:
        if m is None:
            d = _DATE_ONLY.match(text)
            if d is None:
                return None
            return datetime(int(d[1]), int(d[2] or d[4] or 1), int(d[3] or d[5] or 1))
        year, month, day, hour, minute, second, frac, suffix = m.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
        value = datetime(int(year), int(month), int(day), int(hour), int(minute or 0),
                         int(second or 0), micro)
    except ValueError:
        return None
    if suffix:
        value = value.replace(tzinfo=_offset(suffix)).astimezone(tz).replace(tzinfo=None)
    return value


def local_to_utc_wall(value: datetime, tz: tzinfo) -> datetime:
    """The UTC wall time of a server-local instant (DST overlaps: the earlier one, as Joda)."""
    return value.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)


def display_name(tz_name: str) -> str:
    """java.util.TimeZone#getDisplayName(): the long standard name (CLDR, English locale)."""
    from babel.dates import get_timezone_name
    try:
        return get_timezone_name(ZoneInfo(tz_name), width="long", zone_variant="standard",
                                 locale="en_US")
    except (LookupError, ValueError):
        return tz_name
