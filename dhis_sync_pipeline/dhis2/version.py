"""DHIS2 server versions, parsed from `system/info` and comparable.

Real servers report `2.40.3`, `2.41.0-SNAPSHOT`, `2.38`, build names like `master` or nothing at
all (non-superusers). Unknown and development builds compare as newer than every release: a
server we cannot place is most likely running current code, and the newest response shapes are
the ones the parser must expect.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[.-](.*))?$", re.IGNORECASE)

#: The minor number given to master/unknown builds so they sort after every release.
DEVELOPMENT_MINOR = 9999


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class DHIS2Version:
    """A DHIS2 version such as 2.40.3; compare with versions, strings ("2.41") or tuples."""

    major: int
    minor: int
    patch: int = 0
    snapshot: bool = False
    raw: str = field(default="")

    @classmethod
    def parse(cls, value: str | None) -> DHIS2Version:
        text = (value or "").strip()
        match = _VERSION.match(text)
        if not match:
            return cls(2, DEVELOPMENT_MINOR, 0, snapshot=True, raw=text or "unknown")
        major, minor, patch, suffix = match.groups()
        numbers = [int(major), int(minor or 0), int(patch or 0)]
        if numbers[0] >= 30:
            # Newer release names drop the leading "2." ("41.2.1" is 2.41.2).
            numbers = [2, numbers[0], numbers[1]]
        snapshot = bool(suffix) and "snapshot" in suffix.lower()
        return cls(numbers[0], numbers[1], numbers[2], snapshot=snapshot, raw=text)

    @property
    def is_development(self) -> bool:
        """True for master/unknown builds (sorted after every release)."""
        return self.minor == DEVELOPMENT_MINOR

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @staticmethod
    def _coerce(other: Any) -> tuple[int, int, int] | None:
        if isinstance(other, DHIS2Version):
            return other.key
        if isinstance(other, str):
            return DHIS2Version.parse(other).key
        if isinstance(other, tuple) and all(isinstance(part, int) for part in other):
            padded = tuple(other) + (0,) * (3 - len(other))
            return padded[:3]  # type: ignore[return-value]
        return None

    def __eq__(self, other: object) -> bool:
        key = self._coerce(other)
        return NotImplemented if key is None else self.key == key

    def __lt__(self, other: object) -> bool:
        key = self._coerce(other)
        return NotImplemented if key is None else self.key < key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        if self.is_development:
            return self.raw
        text = f"{self.major}.{self.minor}.{self.patch}"
        return text + "-SNAPSHOT" if self.snapshot else text


#: The oldest DHIS2 release dhis-sync supports: the oldest whose API shapes the client parses and
#: the emulator plays (see ../shared/DHIS2_API.md). Older servers are refused at the first
#: `system/info` rather than failing later on a response shape nobody checked.
MIN_SUPPORTED = DHIS2Version(2, 36)


def is_supported(version: DHIS2Version) -> bool:
    """True from MIN_SUPPORTED on; unknown/development builds count as current (see the module doc)."""
    return version >= MIN_SUPPORTED
