"""Fault injection: what unreliable networks and overloaded servers do to a client.

Counted faults (`drop`, `truncate`, `rate_limit`, `fail`, `fail_after_commit`) are consumed one
per matching request in that order of precedence, so tests are deterministic; `error_rate` uses a
seeded RNG. `latency` delays every matching request (and async import jobs on matching paths).
`drop`, `rate_limit`, `fail` and `error` answer before the API runs (nothing is applied);
`truncate` and `fail_after_commit` run the request first (a POST is committed), then break the
answer, as a proxy timing out on a slow import does. `injected()` counts what was done, per kind.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass


@dataclass
class FaultConfig:
    latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit: int = 0
    retry_after: int = 1
    drop: int = 0
    truncate: int = 0
    fail: int = 0
    fail_status: int = 500
    path_prefix: str | None = None
    fail_after_commit: int = 0


@dataclass
class Decision:
    """What to do with one request: `kind` is None, drop, truncate, rate_limit, fail,
    fail_after_commit or error."""

    latency: float = 0.0
    kind: str | None = None
    status: int = 0
    retry_after: int = 0


class FaultInjector:
    def __init__(self, seed: int = 1234) -> None:
        self._lock = threading.Lock()
        self._config = FaultConfig()
        self._seed = seed
        self._rng = random.Random(seed)
        self._injected: Counter[str] = Counter()

    def configure(self, latency: float = 0.0, error_rate: float = 0.0, error_status: int = 503,
                  rate_limit: int = 0, retry_after: int = 1, drop: int = 0, truncate: int = 0,
                  fail: int = 0, fail_status: int = 500, path_prefix: str | None = None,
                  fail_after_commit: int = 0) -> None:
        """Replace the whole fault configuration (unnamed faults are switched off)."""
        with self._lock:
            self._config = FaultConfig(float(latency), float(error_rate), int(error_status),
                                       int(rate_limit), int(retry_after), int(drop),
                                       int(truncate), int(fail), int(fail_status), path_prefix,
                                       int(fail_after_commit))
            self._rng = random.Random(self._seed)

    def injected(self) -> dict[str, int]:
        """How many requests got each fault kind ("latency": how many were delayed), ever."""
        with self._lock:
            return dict(self._injected)

    def clear(self) -> None:
        self.configure()

    def snapshot(self) -> dict:
        with self._lock:
            return asdict(self._config)

    def applies(self, path: str) -> bool:
        prefix = self._config.path_prefix
        return not prefix or path.startswith(prefix)

    def latency_for(self, path: str) -> float:
        with self._lock:
            return self._config.latency if self.applies(path) else 0.0

    def decide(self, path: str) -> Decision:
        with self._lock:
            c = self._config
            if not self.applies(path):
                return Decision()
            decision = Decision(latency=c.latency)
            if c.drop > 0:
                c.drop -= 1
                decision.kind = "drop"
            elif c.truncate > 0:
                c.truncate -= 1
                decision.kind = "truncate"
            elif c.rate_limit > 0:
                c.rate_limit -= 1
                decision.kind, decision.status, decision.retry_after = "rate_limit", 429, c.retry_after
            elif c.fail > 0:
                c.fail -= 1
                decision.kind, decision.status = "fail", c.fail_status
            elif c.fail_after_commit > 0:
                c.fail_after_commit -= 1
                decision.kind, decision.status = "fail_after_commit", c.fail_status
            elif c.error_rate > 0 and self._rng.random() < c.error_rate:
                decision.kind, decision.status = "error", c.error_status
            if decision.kind:
                self._injected[decision.kind] += 1
            if decision.latency > 0:
                self._injected["latency"] += 1
            return decision
