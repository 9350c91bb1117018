"""Building DHIS2 query parameters: filters, field lists, dates, id chunks.

DHIS2 timestamps carry no zone and are in the *server's* time zone (`2019-08-26T14:24:45.185`),
so datetimes here are naive; convert aware values with `tz=` to the server's zone first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from typing import Any, TypeVar

T = TypeVar("T")

#: Operators that take no value (`filter=code:null`).
UNARY_OPERATORS = frozenset({"null", "!null", "empty", "!empty"})

UID_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9]{10}$")


def is_uid(value: object) -> bool:
    return isinstance(value, str) and UID_PATTERN.match(value) is not None


def format_datetime(value: datetime | date | str, tz: tzinfo | None = None) -> str:
    """Format as DHIS2 expects in filters and parameters: `2024-01-01T00:00:00.000`.

    An aware datetime is converted to `tz` (the server's zone) when given; otherwise its own
    wall-clock time is used. Strings pass through unchanged.
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        if tz is not None:
            value = value.astimezone(tz)
        value = value.replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def parse_datetime(value: str, tz: tzinfo | None = None) -> datetime:
    """Parse a DHIS2 timestamp into a naive datetime.

    Accepts `2019-08-26T14:24:45.185`, `…185+0000`, `…Z`, `2019-08-26` and a space instead of `T`.
    A value with an offset is converted to `tz` when given (else the offset is dropped).
    """
    text = value.strip().replace(" ", "T", 1)
    match = _OFFSET.search(text) if "T" in text else None
    if match:
        offset = match.group(1)
        if offset != "Z" and ":" not in offset:
            offset = offset[:3] + ":" + offset[3:]
        text = text[: match.start()] + ("+00:00" if offset == "Z" else offset)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        if tz is not None:
            parsed = parsed.astimezone(tz)
        parsed = parsed.replace(tzinfo=None)
    return parsed


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return format_datetime(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ",".join(_format_value(item) for item in value) + "]"
    return str(value)


def filter_expr(prop: str, operator: str, value: Any = None) -> str:
    """One `filter=` value: `filter_expr("lastUpdated", "ge", dt)` → `lastUpdated:ge:2024-…`.

    Lists become `[a,b]` (for `in`/`!in`), datetimes DHIS2's format, booleans `true`/`false`.
    """
    if operator in UNARY_OPERATORS:
        return f"{prop}:{operator}"
    if value is None:
        raise ValueError(f"filter operator {operator!r} on {prop!r} needs a value")
    return f"{prop}:{operator}:{_format_value(value)}"


def in_filter(prop: str, values: Iterable[Any]) -> str:
    """`id:in:[a,b]`; keep the list short (see `chunked`) or the URL gets too long (HTTP 414)."""
    return filter_expr(prop, "in", list(values))


def updated_since(since: datetime | date | str, prop: str = "lastUpdated") -> str:
    """Objects changed at or after `since` (server time): `lastUpdated:ge:…`."""
    return filter_expr(prop, "ge", since if isinstance(since, str) else format_datetime(since))


def fields(*names: str, **nested: Sequence[str] | str) -> str:
    """A `fields=` value: `fields("id", "name", categoryCombo=["id"])` → `id,name,categoryCombo[id]`."""
    parts = list(names)
    for name, inner in nested.items():
        inner_text = inner if isinstance(inner, str) else ",".join(inner)
        parts.append(f"{name}[{inner_text}]")
    return ",".join(parts)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Split into lists of at most `size` items (for `id:in` chunks)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
