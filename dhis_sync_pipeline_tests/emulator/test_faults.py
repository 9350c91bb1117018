"""Every fault kind, observed the way a client sees it through requests."""

from __future__ import annotations

import time

import pytest
import requests

AUTH = ("admin", "district")


def _get(server, path: str = "system/info") -> requests.Response:
    return requests.get(f"{server.base_url}/api/{path}", auth=AUTH, timeout=10)


def test_counted_failures_then_recovery(server):
    server.faults.configure(fail=2, fail_status=502)
    assert [_get(server).status_code for _ in range(3)] == [502, 502, 200]


def test_rate_limit_sends_retry_after(server):
    server.faults.configure(rate_limit=1, retry_after=7)
    limited = _get(server)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert _get(server).status_code == 200


def test_dropped_connection(server):
    server.faults.configure(drop=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        _get(server)
    assert _get(server).status_code == 200


def test_truncated_body(server):
    server.faults.configure(truncate=1)
    with pytest.raises((requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ConnectionError)):
        _get(server, "dataElements?paging=false&fields=*").json()
    assert _get(server).status_code == 200


def test_latency_and_path_prefix(server):
    server.faults.configure(latency=0.4, fail=1, path_prefix="/api/dataValueSets")
    started = time.monotonic()
    assert _get(server).status_code == 200
    assert time.monotonic() - started < 0.3
    started = time.monotonic()
    response = _get(server, "dataValueSets?dataSet=x&period=2024&orgUnit=y")
    assert response.status_code == 500 and time.monotonic() - started >= 0.4


def test_error_rate_is_seeded_and_deterministic(server):
    def run() -> list[int]:
        server.faults.configure(error_rate=0.5, error_status=503)
        return [_get(server).status_code for _ in range(12)]
    first, second = run(), run()
    assert first == second and set(first) == {200, 503}
    server.faults.clear()
    assert _get(server).status_code == 200


def test_faults_over_http_and_log_includes_faulted_requests(server):
    base = server.base_url
    assert requests.post(f"{base}/__emulator__/faults", json={"fail": 1}).ok
    server.state.reset_request_log()
    assert _get(server).status_code == 500
    assert server.state.request_log == [("GET", "/api/system/info", "")]
    assert requests.post(f"{base}/__emulator__/faults", json={"nonsense": 1}).status_code == 400
    requests.post(f"{base}/__emulator__/faults", json={"fail": 5})
    assert requests.delete(f"{base}/__emulator__/faults").ok
    assert _get(server).status_code == 200
