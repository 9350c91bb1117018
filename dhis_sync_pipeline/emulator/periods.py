"""DHIS2 ISO period identifiers and the date ranges they cover."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache

_FINANCIAL = {"April": 4, "July": 7, "Oct": 10, "Nov": 11}
_WEEKLY_START = {"W": 0, "WedW": 2, "ThuW": 3, "SatW": 5, "SunW": 6}


def _month_end(year: int, month: int) -> date:
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def _week_start(year: int, week: int, weekday: int) -> date:
    """Start of week `week` for weeks starting on `weekday`, ISO rule (week 1 holds Jan 4th)."""
    jan4 = date(year, 1, 4)
    first = jan4 - timedelta(days=(jan4.weekday() - weekday) % 7)
    return first + timedelta(weeks=week - 1)


@lru_cache(maxsize=65536)
def period_range(period: str) -> tuple[date, date] | None:
    """(start, end) inclusive for a period id, or None if DHIS2 would not accept it."""
    try:
        return _parse(period)
    except ValueError:
        return None


def _parse(p: str) -> tuple[date, date] | None:
    if re.fullmatch(r"\d{4}", p):
        y = int(p)
        return date(y, 1, 1), date(y, 12, 31)
    if m := re.fullmatch(r"(\d{4})(\d{2})(\d{2})", p):
        d = date(int(m[1]), int(m[2]), int(m[3]))
        return d, d
    if m := re.fullmatch(r"(\d{4})-?(\d{2})", p):
        y, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 12:
            return None
        return date(y, mo, 1), _month_end(y, mo)
    if m := re.fullmatch(r"(\d{4})(\d{2})B", p):
        y, mo = int(m[1]), int(m[2])
        if not 1 <= mo <= 6:
            return None
        start = 2 * mo - 1
        return date(y, start, 1), _month_end(y, start + 1)
    if m := re.fullmatch(r"(\d{4})Q([1-4])", p):
        y, q = int(m[1]), int(m[2])
        return date(y, 3 * q - 2, 1), _month_end(y, 3 * q)
    if m := re.fullmatch(r"(\d{4})(April|Nov)?S([12])", p):
        y, half = int(m[1]), int(m[3])
        first = {None: 1, "April": 4, "Nov": 11}[m[2]]
        sy, sm = _add_months(y, first, 6 * (half - 1))
        ey, em = _add_months(sy, sm, 5)
        return date(sy, sm, 1), _month_end(ey, em)
    if m := re.fullmatch(r"(\d{4})(April|July|Oct|Nov)", p):
        y, first = int(m[1]), _FINANCIAL[m[2]]
        ey, em = _add_months(y, first, 11)
        return date(y, first, 1), _month_end(ey, em)
    if m := re.fullmatch(r"(\d{4})BiW(\d{1,2})", p):
        y, n = int(m[1]), int(m[2])
        if not 1 <= n <= 27:
            return None
        start = _week_start(y, 2 * n - 1, 0)
        return start, start + timedelta(days=13)
    if m := re.fullmatch(r"(\d{4})(W|WedW|ThuW|SatW|SunW)(\d{1,2})", p):
        y, n = int(m[1]), int(m[3])
        weekday = _WEEKLY_START[m[2]]
        last = _week_start(y + 1, 1, weekday) - _week_start(y, 1, weekday)
        if not 1 <= n <= last.days // 7:
            return None
        start = _week_start(y, n, weekday)
        return start, start + timedelta(days=6)
    return None
