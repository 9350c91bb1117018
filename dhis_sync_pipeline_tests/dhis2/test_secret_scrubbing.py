"""A server that echoes our credentials back must not get them into an error, a log or Dagster.

The fake server (loopback) puts the Authorization header it received, the password and the
username:password pair into its error bodies: a JSON WebMessage, a 500 HTML page, a 401, a
redirect's Location. The secret forms are computed here independently of the client's code.
"""

from __future__ import annotations

import base64
import html
import logging
import textwrap
from urllib.parse import quote

import pytest
from dagster import DagsterEventType

from dhis_sync_pipeline.config import load_config
from dhis_sync_pipeline.dhis2 import ApiTokenAuth, BasicAuth, DHIS2Error
from dhis_sync_pipeline.dhis2.auth import scrub
from dhis_sync_pipeline.launch import execute_in_process
from dhis_sync_pipeline.orchestration.run_summary import summarize_run
from dhis_sync_pipeline_tests.dhis2.loopback import LoopbackServer, Request, html_answer, json_answer

USER = "sync_user"
PASSWORD = "S3cr3t-Pa55/w0rd&more?>~"  # its base64 has "+": the URL-safe form differs
TOKEN = "d2p_" + "sEcReTtOkEn" * 4 + "ABCDEF"


def basic_forms(user: str, password: str) -> list[str]:
    """Every form, and the long start of each (a percent-encoded echo must not leave most of it)."""
    pair = f"{user}:{password}".encode()
    forms = [
        password,
        quote(password, safe=""),
        f"{user}:{password}",
        base64.b64encode(pair).decode(),
        base64.urlsafe_b64encode(pair).decode(),
    ]
    return forms + [form[: len(form) * 3 // 4] for form in forms]


def echo(request: Request):
    """Answer with an error that repeats everything the client sent."""
    header = request.headers.get("Authorization", "")
    decoded = ""
    if header.startswith("Basic "):
        decoded = base64.b64decode(header[6:]).decode()
    urlsafe = base64.urlsafe_b64encode(decoded.encode()).decode() if decoded else ""
    said = f"Rejected header {header} (urlsafe {urlsafe}) for {decoded} password={decoded.partition(':')[2]}"
    path = request.path.split("?")[0]
    if path == "/api/system/info":
        page = (f"<html><head><title>Error {html.escape(said)}</title></head>"
                f"<body><h1>500</h1><p>{html.escape(said)}</p></body></html>")
        return html_answer(500, page)
    if path == "/api/me":
        return json_answer(401, '{"httpStatusCode":401,"status":"ERROR","message":"%s"}' % said)
    if path == "/api/users":
        return 302, {"Location": f"https://elsewhere.example.org/api/users?echo={quote(said)}"}, b""
    if path == "/api/dataElements":
        return json_answer(503, '{"httpStatusCode":503,"status":"ERROR","message":"%s"}' % said)
    return json_answer(409, '{"httpStatusCode":409,"status":"ERROR","message":"%s"}' % said)


CALLS = {
    "500 HTML page": lambda client: client.system_info(),
    "401 JSON": lambda client: client.me(),
    "redirect Location": lambda client: client.get("users"),
    "503 JSON after retries": lambda client: client.get("dataElements"),
    "409 JSON": lambda client: client.get("options"),
}


@pytest.fixture
def echo_server():
    with LoopbackServer(echo) as server:
        yield server


def assert_hidden(secrets: list[str], error: BaseException, caplog) -> None:
    texts = {"str": str(error), "repr": repr(error), "dhis2_message": str(getattr(error, "dhis2_message", "")),
             "logs": caplog.text + " ".join(str(record.args) for record in caplog.records)}
    for secret in secrets:
        for where, text in texts.items():
            assert secret not in text, f"{secret!r} leaked into {where}: {text}"


@pytest.mark.parametrize("case", CALLS)
def test_basic_credentials_echoed_by_the_server_are_scrubbed(case, echo_server, client_factory, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_factory(echo_server.base_url, auth=BasicAuth(USER, PASSWORD))
    with pytest.raises(DHIS2Error) as info:
        CALLS[case](client)
    assert str(info.value).startswith(f"source ({echo_server.base_url}): ")
    assert "***" in str(info.value)  # the echo is there, masked
    assert_hidden(basic_forms(USER, PASSWORD), info.value, caplog)


@pytest.mark.parametrize("case", CALLS)
def test_token_echoed_by_the_server_is_scrubbed(case, echo_server, client_factory, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_factory(echo_server.base_url, auth=ApiTokenAuth(TOKEN))
    with pytest.raises(DHIS2Error) as info:
        CALLS[case](client)
    assert "***" in str(info.value)
    assert_hidden([TOKEN, TOKEN[4:]], info.value, caplog)


def test_scrub_covers_every_form_and_leaves_other_text():
    auth = BasicAuth(USER, PASSWORD)
    text = " | ".join(basic_forms(USER, PASSWORD)[:5]) + " | user sync_user, status 500"  # whole forms
    assert scrub(text, auth) == "*** | *** | *** | *** | *** | user sync_user, status 500"
    assert scrub("nothing secret", None) == "nothing secret"
    assert scrub(f"t={TOKEN}", ApiTokenAuth(TOKEN)) == "t=***"


def test_echoed_password_stays_out_of_a_dagster_failure(echo_server, emulator_factory, tmp_path, monkeypatch,
                                                        dagster_instance):
    """Through a real job: the preflight step fails on the echoing source's 500 page."""
    destination = emulator_factory("2.40")
    monkeypatch.setenv("ECHO_TEST_PASSWORD", PASSWORD)
    monkeypatch.setenv("ECHO_TEST_DESTINATION_PASSWORD", "district")
    path = tmp_path / "dhis_sync.yaml"
    path.write_text(textwrap.dedent(f"""\
        instances:
          - name: source
            base_url: {echo_server.base_url}
            auth: {{type: basic, username: {USER}, password_env: ECHO_TEST_PASSWORD}}
            http_retries: {{max_retries: 0, backoff_factor: 0}}
          - name: destination
            base_url: {destination.base_url}
            auth: {{type: basic, username: admin, password_env: ECHO_TEST_DESTINATION_PASSWORD}}
        sync_configurations:
          - id: echo
            name: Echo
            source: source
            destination: destination
            metadata: {{resources: [dataElements]}}
            step_retries: {{max_retries: 0}}
        """), encoding="utf-8")
    run_id = execute_in_process(load_config(path), "echo", dagster_instance)
    summary = summarize_run(dagster_instance, run_id)
    logs = dagster_instance.all_logs(run_id)
    failure = next(r for r in summary.resources if r.asset == "preflight").failure
    assert failure.startswith(f"source ({echo_server.base_url}): GET /api/system/info answered 500 ")
    assert "Rejected header Basic ***" in failure
    everything = failure + "\n".join(repr(entry) for entry in logs)
    assert any(e.dagster_event and e.dagster_event.event_type == DagsterEventType.STEP_FAILURE for e in logs)
    for secret in basic_forms(USER, PASSWORD):
        assert secret not in everything
