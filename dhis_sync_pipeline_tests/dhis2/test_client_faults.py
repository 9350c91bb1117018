"""Transport faults injected by the emulator: retries with backoff, Retry-After, truncation."""

from __future__ import annotations

import logging
import time

import pytest

from dhis_sync_pipeline.dhis2 import DHIS2HTTPError, DHIS2ResponseError


@pytest.fixture
def client(emulator, client_factory):
    return client_factory(emulator.base_url)


def test_retries_503_then_succeeds(emulator, client, caplog):
    caplog.set_level(logging.WARNING)
    emulator.faults.configure(fail=2, fail_status=503, path_prefix="/api/system/info")
    assert client.system_info().version >= "2.40"
    assert "HTTP 200 after 2 retries (503, 503)" in caplog.text


def test_gives_up_on_persistent_503_with_http_error(emulator, client):
    emulator.faults.configure(fail=10, fail_status=503, path_prefix="/api/system/info")
    with pytest.raises(DHIS2HTTPError) as info:
        client.system_info()
    assert info.value.status_code == 503 and info.value.retryable
    assert str(info.value).startswith(f"source ({emulator.base_url}): GET /api/system/info answered 503 "
                                      "Service Unavailable after 4 attempts: Injected server error.")


def test_honours_retry_after_on_429(emulator, client):
    emulator.faults.configure(rate_limit=1, retry_after=1, path_prefix="/api/system/info")
    started = time.monotonic()
    client.system_info()
    assert time.monotonic() - started >= 0.9  # backoff alone would be ~0.01 s


def test_dropped_connection_is_retried(emulator, client):
    emulator.faults.configure(drop=1, path_prefix="/api/system/info")
    assert client.system_info().version >= "2.40"


def test_dropped_connection_on_post_is_retried(emulator, client):
    emulator.faults.configure(drop=1, path_prefix="/api/metadata")
    result = client.post_metadata({"optionSets": []}, async_=False)
    assert result.status in ("OK", "SUCCESS")


def test_truncated_body_is_fetched_again(emulator, client):
    emulator.faults.configure(truncate=1, path_prefix="/api/system/info")
    assert client.system_info().version >= "2.40"


def test_body_truncated_every_time_is_response_error(emulator, client):
    emulator.faults.configure(truncate=10, path_prefix="/api/system/info")
    with pytest.raises(DHIS2ResponseError) as info:
        client.system_info()
    assert "source" in str(info.value) and "/api/system/info" in str(info.value)
