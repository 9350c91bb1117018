"""Authentication over real HTTP, and credentials never leaking into errors, reprs or logs."""

from __future__ import annotations

import logging
import time

import pytest

from dhis_sync_pipeline.dhis2 import ApiTokenAuth, BasicAuth, DHIS2AuthenticationError, DHIS2ConnectionError

WRONG_PASSWORD = "Wr0ng-Passw0rd-XYZ"


def test_basic_auth(emulator, client_factory):
    assert client_factory(emulator.base_url).me()["username"] == "admin"


def test_token_auth(emulator, client_factory):
    token = emulator.create_token("admin")
    client = client_factory(emulator.base_url, auth=ApiTokenAuth(token))
    assert client.me()["username"] == "admin"
    assert token not in repr(client)


def assert_secret_hidden(secret: str, error: BaseException, client, caplog) -> None:
    assert secret not in str(error)
    assert secret not in repr(error)
    assert secret not in repr(client)
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in str(record.args)


def test_wrong_password_names_instance_and_hides_password(emulator, client_factory, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_factory(emulator.base_url, auth=BasicAuth("admin", WRONG_PASSWORD), name="national")
    with pytest.raises(DHIS2AuthenticationError) as info:
        client.system_info()
    message = str(info.value)
    assert message.startswith(f"national ({emulator.base_url}): authentication failed: "
                              "GET /api/system/info answered 401 Unauthorized")
    assert "Check the password of user 'admin'" in message  # says how to fix it
    assert info.value.instance == "national"
    assert_secret_hidden(WRONG_PASSWORD, info.value, client, caplog)


def test_bad_token_is_authentication_error(emulator, client_factory, caplog):
    caplog.set_level(logging.DEBUG)
    token = "d2p_" + "A" * 44 + "0000000000"
    client = client_factory(emulator.base_url, auth=ApiTokenAuth(token))
    with pytest.raises(DHIS2AuthenticationError) as info:
        client.me()
    assert "token" in str(info.value)
    assert_secret_hidden(token, info.value, client, caplog)


def test_no_credentials_is_authentication_error(emulator, client_factory):
    client = client_factory(emulator.base_url, auth=None)
    with pytest.raises(DHIS2AuthenticationError) as info:
        client.me()
    assert "No credentials are configured" in str(info.value)


def test_login_redirect_is_not_followed(emulator, client_factory):
    client = client_factory(emulator.base_url, auth=None)
    del client._session.headers["X-Requested-With"]  # now DHIS2 redirects to its login page
    emulator.state.reset_request_log()
    with pytest.raises(DHIS2AuthenticationError) as info:
        client.me()
    assert "login page" in str(info.value)
    assert [entry[1] for entry in emulator.state.request_log] == ["/api/me"]


def test_unreachable_server_fails_fast_and_hides_password(client_factory, caplog, unused_port):
    caplog.set_level(logging.DEBUG)
    base_url = f"http://127.0.0.1:{unused_port}"
    client = client_factory(base_url, auth=BasicAuth("admin", WRONG_PASSWORD), name="destination")
    started = time.monotonic()
    with pytest.raises(DHIS2ConnectionError) as info:
        client.system_info()
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert message.startswith(f"destination ({base_url}): connection refused by 127.0.0.1:{unused_port}")
    assert "Check that the server is running" in message
    assert_secret_hidden(WRONG_PASSWORD, info.value, client, caplog)


def test_credentials_in_base_url_are_refused():
    from dhis_sync_pipeline.dhis2 import DHIS2Client

    with pytest.raises(ValueError) as info:
        DHIS2Client(f"http://admin:{WRONG_PASSWORD}@127.0.0.1:1", name="x")
    assert WRONG_PASSWORD not in str(info.value)
