"""system/info, ping, me, and the authentication rules (Basic, tokens, login redirect)."""

from __future__ import annotations

import binascii
import socket
from datetime import datetime, timedelta

import pytest
import requests

from dhis_sync_pipeline.emulator import EmulatorServer
from dhis_sync_pipeline.emulator.auth import make_token

UNAUTHORIZED = {"httpStatus": "Unauthorized", "httpStatusCode": 401, "status": "ERROR",
                "message": "Unauthorized"}


@pytest.mark.parametrize("version", ["2.36", "2.38", "2.39", "2.40", "2.41", "2.42", "2.43"])
def test_system_info_per_version_and_time_zone(make_server, version):
    server = make_server(version=version, timezone="Africa/Addis_Ababa")
    info = requests.get(f"{server.base_url}/api/system/info", auth=("admin", "district")).json()
    assert info["version"].startswith(version + ".")
    assert info["serverTimeZoneId"] == "Africa/Addis_Ababa"
    server_date = datetime.fromisoformat(info["serverDate"])
    utc_now = datetime.utcnow()
    assert abs(server_date - (utc_now + timedelta(hours=3))) < timedelta(minutes=1)
    assert len(info["serverDate"]) == 23 and "+" not in info["serverDate"]
    assert info["systemId"] and info["systemName"] and info["contextPath"] == server.base_url


def test_advance_clock_moves_server_date(server):
    before = datetime.fromisoformat(server.state.now_str())
    server.state.advance_clock(86400)
    info = requests.get(f"{server.base_url}/api/system/info", auth=("admin", "district")).json()
    assert datetime.fromisoformat(info["serverDate"]) - before >= timedelta(days=1)


def test_basic_auth_me_and_public_ping(server):
    base = server.base_url
    me = requests.get(f"{base}/api/me", auth=("admin", "district"))
    assert me.status_code == 200 and me.json()["id"] == "M5zQapPyTZI"
    assert me.json()["username"] == "admin"
    assert requests.get(f"{base}/api/system/ping").status_code == 200


def test_wrong_password_and_missing_credentials(server):
    base = server.base_url
    wrong = requests.get(f"{base}/api/me", auth=("admin", "wrong"))
    assert wrong.status_code == 401 and wrong.json() == UNAUTHORIZED
    anonymous = requests.get(f"{base}/api/me", allow_redirects=False)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].endswith("/dhis-web-commons/security/login.action")
    xhr = requests.get(f"{base}/api/me", headers={"X-Requested-With": "XMLHttpRequest"})
    assert xhr.status_code == 401


def test_extra_users_get_their_own_ids(make_server):
    server = make_server(users={"admin": "district", "sync": "S3cret!"})
    me = requests.get(f"{server.base_url}/api/me", auth=("sync", "S3cret!")).json()
    assert me["username"] == "sync" and me["id"] != "M5zQapPyTZI"
    assert requests.get(f"{server.base_url}/api/me", auth=("sync", "district")).status_code == 401


def test_personal_access_tokens(server):
    base = server.base_url
    token = server.create_token("admin")
    assert token.startswith("d2p_") and len(token) == 54
    for prefix in ("ApiToken", "apitoken", "APITOKEN"):
        ok = requests.get(f"{base}/api/me", headers={"Authorization": f"{prefix} {token}"})
        assert ok.status_code == 200 and ok.json()["username"] == "admin"
    v1 = server.create_token("admin", version=1)
    assert v1.startswith("d2pat_") and len(v1) == 48
    assert requests.get(f"{base}/api/me", headers={"Authorization": f"ApiToken {v1}"}).ok
    bad_checksum = token[:-1] + ("A" if token[-1] != "A" else "B")
    for header in ("ApiToken", "ApiToken not-a-token", f"ApiToken {bad_checksum}"):
        assert requests.get(f"{base}/api/me", headers={"Authorization": header}).status_code == 400
    import random
    unknown = make_token(random.Random(99))
    assert requests.get(f"{base}/api/me",
                        headers={"Authorization": f"ApiToken {unknown}"}).status_code == 401
    expired = server.create_token("admin", expires=server.state.now() + timedelta(hours=1))
    assert requests.get(f"{base}/api/me", headers={"Authorization": f"ApiToken {expired}"}).ok
    server.state.advance_clock(7200)
    assert requests.get(f"{base}/api/me",
                        headers={"Authorization": f"ApiToken {expired}"}).status_code == 401


def test_token_checksums_are_crc32():
    import random
    token = make_token(random.Random(1), version=1)
    assert int(token[-10:]) == binascii.crc32(token[:-10].encode())


def test_request_log_records_method_path_and_query(server):
    server.state.reset_request_log()
    requests.get(f"{server.base_url}/api/dataElements?fields=id&pageSize=5",
                 auth=("admin", "district"))
    assert server.state.request_log == [("GET", "/api/dataElements", "fields=id&pageSize=5")]
    over_http = requests.get(f"{server.base_url}/__emulator__/requests").json()
    assert over_http["requests"] == [{"method": "GET", "path": "/api/dataElements",
                                      "query": "fields=id&pageSize=5"}]


def test_stop_frees_port_and_thread():
    server = EmulatorServer(version="2.40").start()
    port, thread = server.port, server._thread
    assert requests.get(f"{server.base_url}/api/system/ping").ok
    server.stop()
    assert thread is not None and not thread.is_alive()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # fails if the port were still held
