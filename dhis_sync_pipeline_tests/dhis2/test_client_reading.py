"""Reading over real HTTP from the emulator: paging, count, id chunks, system info, errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dhis_sync_pipeline.dhis2 import DHIS2HTTPError, DHIS2Version, in_filter
from dhis_sync_pipeline_tests.dhis2.conftest import api_requests, data_elements, start_emulator

SEEDED = data_elements(720)


@pytest.fixture(scope="module")
def server():
    """One emulator with 720 data elements, only read from in this module."""
    server = start_emulator("2.40")
    server.state.import_metadata({"dataElements": SEEDED})
    yield server
    server.__exit__(None, None, None)


@pytest.fixture
def client(server, client_factory):
    server.faults.clear()
    server.state.reset_request_log()
    return client_factory(server.base_url)


def test_iter_pages_follows_the_pager(server, client):
    pages = list(client.iter_pages("dataElements", fields="id,name", page_size=250))
    assert [len(page) for page in pages] == [250, 250, 220]
    assert {obj["id"] for page in pages for obj in page} == {de["id"] for de in SEEDED}
    assert len(api_requests(server, "dataElements")) == 3


def test_iter_pages_with_filter_and_empty_result(client):
    pages = list(client.iter_pages("dataElements", fields="id", filters=[in_filter("id", ["de000000001", "de000000002"])]))
    assert sorted(obj["id"] for page in pages for obj in page) == ["de000000001", "de000000002"]
    assert list(client.iter_pages("dataElements", filters=[in_filter("id", ["nothingHere"])])) == []


def test_count(server, client):
    assert client.count("dataElements") == 720
    assert client.count("dataElements", filters=[in_filter("id", ["de000000001", "de000000700", "nothingHere"])]) == 2
    assert len(api_requests(server, "dataElements")) == 2


def test_get_by_ids_chunks_id_in_filters(server, client):
    wanted = [de["id"] for de in SEEDED[:700]]
    pages = list(client.get_by_ids("dataElements", wanted + wanted[:10], fields="id,name"))
    assert sorted(obj["id"] for page in pages for obj in page) == sorted(wanted)
    assert len(api_requests(server, "dataElements")) == 3  # 300 + 300 + 100 ids


def test_system_info(server, client):
    info = client.system_info()
    assert info.version >= "2.40" and info.version < "2.41" and isinstance(info.version, DHIS2Version)
    assert info.server_date.tzinfo is None
    assert abs(info.server_date - server.state.now()) < timedelta(seconds=30)
    assert info.raw["version"].startswith("2.40")


def test_get_missing_object_is_http_error_with_dhis2_code(client):
    with pytest.raises(DHIS2HTTPError) as info:
        client.get("dataElements/deMissing01")
    error = info.value
    assert error.status_code == 404 and error.error_code == "E1005" and error.instance == "source"
    assert "deMissing01" in str(error) and "E1005" in str(error)
