"""The emulator plays any IANA zone as DHIS2 does: serverDate and metadata timestamps are
zone-less server-local, and the metadata `lastUpdated` filter reads a zone-less value as
server-local and converts a value with an offset (DateUtils.parseDate, Hibernate binding)."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from dhis_sync_pipeline.emulator import EmulatorServer
from dhis_sync_pipeline.emulator.__main__ import main as emulator_main

AUTH = ("admin", "district")


def _info(server: EmulatorServer) -> dict:
    response = requests.get(f"{server.base_url}/api/system/info", auth=AUTH, timeout=30)
    assert response.status_code == 200
    return response.json()


def _at(server: EmulatorServer, utc: str) -> dict:
    """Put the server's clock at a UTC instant through the control endpoint; system/info."""
    response = requests.post(f"{server.base_url}/__emulator__/clock", json={"at": utc},
                             auth=AUTH, timeout=30)
    assert response.status_code == 200
    return _info(server)


@pytest.mark.parametrize(("zone", "utc", "local", "display"), [
    ("America/Bogota", "2024-03-10T12:00:00+00:00", "2024-03-10T07:00:00", "Colombia Standard Time"),
    ("Asia/Kolkata", "2024-03-10T12:00:00+00:00", "2024-03-10T17:30:00", "India Standard Time"),
    ("Asia/Kathmandu", "2024-03-10T12:00:00+00:00", "2024-03-10T17:45:00", "Nepal Time"),
    ("UTC", "2024-03-10T12:00:00+00:00", "2024-03-10T12:00:00", "Coordinated Universal Time"),
])
def test_system_info_is_server_local(make_server, zone, utc, local, display):
    info = _at(make_server(timezone=zone), utc)
    assert info["serverTimeZoneId"] == zone
    assert info["serverTimeZoneDisplayName"] == display  # java.util.TimeZone#getDisplayName
    assert info["serverDate"][:19] == local
    assert len(info["serverDate"]) == 23 and info["serverDate"][19] == "."  # no zone suffix


def test_daylight_saving_time_moves_the_wall_clock(make_server):
    server = make_server(timezone="Europe/Oslo")
    assert _at(server, "2024-01-15T12:00:00+00:00")["serverDate"].startswith("2024-01-15T13:00")
    assert _at(server, "2024-07-15T12:00:00+00:00")["serverDate"].startswith("2024-07-15T14:00")
    # Jumping across the spring change with advance_clock lands on summer time (02:00 → 03:00).
    _at(server, "2024-03-31T00:30:00+00:00")
    server.state.advance_clock(3600)
    assert _info(server)["serverDate"].startswith("2024-03-31T03:30")


def test_unknown_time_zone_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="IANA name such as"):
        EmulatorServer(timezone="Mars/Olympus")


def test_timezone_cli_option_is_passed_on(monkeypatch):
    started = {}

    class Stub:
        def __init__(self, **options):
            started.update(options)
            raise SystemExit(0)

    monkeypatch.setattr("dhis_sync_pipeline.emulator.__main__.EmulatorServer", Stub)
    with pytest.raises(SystemExit):
        emulator_main(["--timezone", "Asia/Kolkata"])
    assert started["timezone"] == "Asia/Kolkata"


def _element(uid: str, name: str) -> dict:
    return {"id": uid, "name": name, "shortName": name, "valueType": "NUMBER",
            "domainType": "AGGREGATE", "aggregationType": "SUM",
            "categoryCombo": {"id": "bjDvmb4bfuf"}}


def _changed_since(server: EmulatorServer, since: str) -> list[str]:
    response = requests.get(f"{server.base_url}/api/dataElements", auth=AUTH, timeout=30,
                            params={"filter": f"lastUpdated:ge:{since}", "fields": "id",
                                    "paging": "false"})
    assert response.status_code == 200, response.text
    return sorted(o["id"] for o in response.json()["dataElements"])


def test_lastupdated_filter_zone_less_is_server_local_and_offsets_are_converted(make_server):
    server = make_server(timezone="America/Bogota")
    _at(server, "2024-05-01T15:00:00+00:00")  # 10:00 in Bogota
    server.state.import_metadata({"dataElements": [_element("deEarly0001", "Early")]})
    _at(server, "2024-05-01T17:00:00+00:00")  # 12:00 in Bogota
    server.state.import_metadata({"dataElements": [_element("deLater0001", "Later")]})
    stored = server.state.get_object("dataElements", "deLater0001")["lastUpdated"]
    assert stored.startswith("2024-05-01T12:00")  # metadata timestamps: zone-less, local

    assert _changed_since(server, "2024-05-01T11:00:00") == ["deLater0001"]  # local 11:00
    assert _changed_since(server, "2024-05-01T11:00:00.000") == ["deLater0001"]
    # 16:00Z is 11:00 in Bogota: the same window, written with an offset.
    assert _changed_since(server, "2024-05-01T16:00:00Z") == ["deLater0001"]
    assert _changed_since(server, "2024-05-01T16:00:00.000+0000") == ["deLater0001"]
    # Read as UTC (the mistake this guards against), 11:00Z would be 06:00 local: both.
    assert _changed_since(server, "2024-05-01T11:00:00Z") == ["deEarly0001", "deLater0001"]
    assert _changed_since(server, "2024-05-01") == ["deEarly0001", "deLater0001"]


def test_lastupdated_filter_on_a_half_hour_zone(make_server):
    server = make_server(timezone="Asia/Kolkata")
    _at(server, "2024-05-01T06:00:00+00:00")  # 11:30 in Kolkata
    server.state.import_metadata({"dataElements": [_element("deKolkata01", "Kolkata")]})
    assert _changed_since(server, "2024-05-01T11:29:00") == ["deKolkata01"]
    assert _changed_since(server, "2024-05-01T11:31:00") == []
    assert _changed_since(server, "2024-05-01T05:59:00Z") == ["deKolkata01"]
    assert _changed_since(server, "2024-05-01T06:01:00+00:00") == []
    assert _changed_since(server, "2024-05-01T11:59:00+05:30") == []


def test_unparsable_lastupdated_filter_is_refused(make_server):
    server = make_server()
    response = requests.get(f"{server.base_url}/api/dataElements", auth=AUTH, timeout=30,
                            params={"filter": "lastUpdated:ge:yesterday"})
    assert response.status_code == 400
    assert "Unable to parse `yesterday` as `Date`." in response.json()["message"]


def test_server_now_matches_real_time_in_zone(make_server):
    from zoneinfo import ZoneInfo
    server = make_server(timezone="Asia/Kolkata")
    served = datetime.fromisoformat(_info(server)["serverDate"])
    expected = datetime.now(ZoneInfo("Asia/Kolkata")).replace(tzinfo=None)
    assert abs((served - expected).total_seconds()) < 60
