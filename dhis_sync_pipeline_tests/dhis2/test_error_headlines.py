"""What a user reads first when a request fails: the instance, what happened, how to fix it.

Each test is one bad situation, produced over real HTTP: by the emulator where it can (faults,
wrong paths, auth), else by a tiny loopback server (proxy pages, TLS, non-DHIS2 servers, an old
DHIS2). Every test asserts the message text itself, starting with its headline.
"""

from __future__ import annotations

import logging
import textwrap

import pytest
import requests

from dhis_sync_pipeline.dhis2 import (
    ApiTokenAuth,
    BasicAuth,
    DHIS2AuthenticationError,
    DHIS2ConnectionError,
    DHIS2HTTPError,
    DHIS2ResponseError,
)
from dhis_sync_pipeline.dhis2.diagnosis import body_excerpt, html_excerpt
from dhis_sync_pipeline.dhis2.errors import DHIS2TLSError, DHIS2UnsupportedVersionError
from dhis_sync_pipeline_tests.dhis2.loopback import LoopbackServer, html_answer, json_answer, self_signed_certificate

NGINX_404 = """<html>
<head><title>404 Not Found</title></head>
<body>
<center><h1>404 Not Found</h1></center>
<hr><center>nginx/1.24.0</center>
</body>
</html>"""

TOMCAT_500 = (
    "<!doctype html><html lang=\"en\"><head><title>HTTP Status 500 – Internal Server Error</title>"
    "<style type=\"text/css\">body {font-family:Tahoma,Arial,sans-serif;}</style></head><body>"
    "<h1>HTTP Status 500 – Internal Server Error</h1><hr class=\"line\" /><p><b>Type</b> Exception Report</p>"
    "<p><b>Message</b> Request processing failed: java.lang.NullPointerException</p>"
    + "<pre>" + "\tat org.hisp.dhis.Something.method(Something.java:42)\n" * 200 + "</pre></body></html>"
)

SYSTEM_INFO = '{"version":"%s","serverDate":"2024-05-01T10:00:00.000","serverTimeZoneId":"UTC"}'


def raised(call, kind=Exception) -> BaseException:
    with pytest.raises(kind) as info:
        call()
    return info.value


# ---------------------------------------------------------------------------------------------
# authentication


def test_401_wrong_password(emulator, client_factory):
    client = client_factory(emulator.base_url, auth=BasicAuth("admin", "not-it"))
    error = raised(client.system_info, DHIS2AuthenticationError)
    assert str(error) == (
        f"source ({emulator.base_url}): authentication failed: GET /api/system/info answered 401 "
        "Unauthorized. Check the password of user 'admin' (Basic auth) configured for this instance "
        "(its environment variable), and that the account is enabled and not locked."
    )
    assert not error.retryable


def test_login_redirect(emulator, client_factory):
    client = client_factory(emulator.base_url, auth=None)
    del client._session.headers["X-Requested-With"]  # so DHIS2 redirects to its login page
    message = str(raised(client.me, DHIS2AuthenticationError))
    assert message.startswith(
        f"source ({emulator.base_url}): authentication failed: the server redirected GET /api/me to "
        f"its login page ({emulator.base_url}/dhis-web-commons/security/login.action)."
    )
    assert message.endswith("No credentials are configured: set a username and password or an API token.")


def test_malformed_token_400_from_2_41(emulator_factory, client_factory):
    server = emulator_factory("2.41")
    client = client_factory(server.base_url, auth=ApiTokenAuth("d2p_tooShort"))
    message = str(raised(client.me, DHIS2AuthenticationError))
    assert message.startswith(
        f"source ({server.base_url}): authentication failed: GET /api/me answered 400 Bad Request: "
        "Invalid API token format (the token is malformed: copy the whole d2p_… token again)."
    )
    assert "Check the personal access token" in message


def test_403_forbidden(emulator, client_factory):
    emulator.faults.configure(fail=1, fail_status=403, path_prefix="/api/users")
    client = client_factory(emulator.base_url)
    error = raised(lambda: list(client.iter_pages("users")), DHIS2HTTPError)
    assert str(error) == (
        f"source ({emulator.base_url}): GET /api/users answered 403 Forbidden: Injected server error. "
        "The user lacks the authority or sharing access for this: give it a role with that authority "
        "(a superuser role is simplest)."
    )
    assert error.status_code == 403 and not error.retryable


# ---------------------------------------------------------------------------------------------
# wrong address


def test_404_wrong_context_path(emulator, client_factory):
    client = client_factory(emulator.base_url + "/dhis")
    error = raised(client.system_info, DHIS2HTTPError)
    assert str(error) == (
        f"source ({emulator.base_url}/dhis): GET /dhis/api/system/info answered 404 Not Found. Is base_url "
        f"right? DHIS2 may be served under a context path such as {emulator.base_url}/dhis (base_url is "
        "the address DHIS2 opens at in a browser, without /api)."
    )


def test_404_html_page_from_a_proxy(client_factory):
    with LoopbackServer(lambda request: html_answer(404, NGINX_404)) as server:
        error = raised(client_factory(server.base_url).system_info, DHIS2HTTPError)
    assert str(error).startswith(
        f"source ({server.base_url}): GET /api/system/info answered 404 Not Found: 404 Not Found. "
        f"Is base_url right? DHIS2 may be served under a context path such as {server.base_url}/dhis"
    )


def test_404_of_a_missing_object_does_not_blame_the_base_url(emulator, client_factory):
    error = raised(lambda: client_factory(emulator.base_url).get("dataElements/deMissing01"), DHIS2HTTPError)
    assert str(error).startswith(f"source ({emulator.base_url}): GET /api/dataElements/deMissing01 answered 404 Not Found: ")
    assert "deMissing01" in error.dhis2_message and "[E1005]" in str(error)
    assert "base_url" not in str(error)


def test_redirect_elsewhere_says_which_base_url_to_use(client_factory):
    answer = (301, {"Location": "https://dhis2.example.org/api/system/info"}, b"")
    with LoopbackServer(lambda request: answer) as server:
        error = raised(client_factory(server.base_url).system_info, DHIS2HTTPError)
    assert str(error) == (
        f"source ({server.base_url}): GET /api/system/info was redirected (HTTP 301) to "
        "https://dhis2.example.org/api/system/info. Set the instance's base_url to the address the "
        "server redirects to."
    )


def test_non_json_200_is_not_a_dhis2_server(client_factory):
    page = "<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome to nginx!</h1></body></html>"
    with LoopbackServer(lambda request: html_answer(200, page)) as server:
        error = raised(client_factory(server.base_url).system_info, DHIS2ResponseError)
    assert str(error) == (
        f"source ({server.base_url}): GET /api/system/info answered 200 with text/html; charset=utf-8, "
        "not DHIS2's JSON: Welcome to nginx!. Is base_url the DHIS2 server (with its context path, "
        "e.g. https://host/dhis)?"
    )


def test_414_uri_too_long(emulator, client_factory):
    ids = [f"de{i:09d}" for i in range(1000)]
    error = raised(lambda: list(client_factory(emulator.base_url).get_by_ids("dataElements", ids, chunk_size=1000)),
                   DHIS2HTTPError)
    message = str(error)
    # uvicorn's reason phrase, then the server's own words (which depend on the servlet container)
    assert message.startswith(f"source ({emulator.base_url}): GET /api/dataElements answered 414 Request-URI Too Long")
    assert "URI Too Long. The request URL (" in message
    assert "The request URL (" in message and "characters) is longer than the server or a proxy" in message


# ---------------------------------------------------------------------------------------------
# server trouble


def test_429_exhausted(emulator, client_factory):
    emulator.faults.configure(rate_limit=10, retry_after=0, path_prefix="/api/system/info")
    error = raised(client_factory(emulator.base_url).system_info, DHIS2HTTPError)
    assert str(error) == (
        f"source ({emulator.base_url}): GET /api/system/info answered 429 Too Many Requests after 4 "
        "attempts: Too many requests, slow down. The server is rate limiting this client; try again "
        "later or lower the sync's frequency."
    )
    assert error.retryable


def test_500_html_page_keeps_its_title_only(client_factory):
    with LoopbackServer(lambda request: html_answer(500, TOMCAT_500)) as server:
        error = raised(client_factory(server.base_url).system_info, DHIS2HTTPError)
    assert str(error) == (
        f"source ({server.base_url}): GET /api/system/info answered 500 Internal Server Error: HTTP "
        "Status 500 – Internal Server Error. DHIS2 failed on this request; the server's log has the details."
    )
    assert len(server.requests) == 1  # 500 is not retried


def test_500_json_from_dhis2(emulator, client_factory):
    emulator.faults.configure(fail=1, fail_status=500, path_prefix="/api/metadata")
    error = raised(lambda: client_factory(emulator.base_url).post_metadata({"optionSets": []}, async_=False),
                   DHIS2HTTPError)
    assert str(error) == (
        f"source ({emulator.base_url}): POST /api/metadata answered 500 Internal Server Error: Injected "
        "server error. DHIS2 failed on this request; the server's log has the details."
    )


def test_502_exhausted(emulator, client_factory):
    emulator.faults.configure(fail=10, fail_status=502, path_prefix="/api/system/info")
    error = raised(client_factory(emulator.base_url).system_info, DHIS2HTTPError)
    assert str(error) == (
        f"source ({emulator.base_url}): GET /api/system/info answered 502 Bad Gateway after 4 attempts: "
        "Injected server error. The server (or the proxy in front of it) is overloaded or restarting; "
        "try again later."
    )


def test_504_html_from_a_proxy_exhausted(client_factory):
    page = "<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center></body></html>"
    with LoopbackServer(lambda request: html_answer(504, page)) as server:
        error = raised(client_factory(server.base_url).system_info, DHIS2HTTPError)
    assert str(error).startswith(
        f"source ({server.base_url}): GET /api/system/info answered 504 Gateway Timeout after 4 attempts: "
        "504 Gateway Time-out. The server (or the proxy in front of it) is overloaded or restarting"
    )
    assert len(server.requests) == 4


def test_503_json_body_excerpt_is_cut_at_200_characters(client_factory):
    long_message = "Maintenance in progress: " + "the database is being upgraded, " * 20
    body = '{"httpStatus":"Service Unavailable","httpStatusCode":503,"status":"ERROR","message":"%s"}' % long_message
    with LoopbackServer(lambda request: json_answer(503, body)) as server:
        error = raised(client_factory(server.base_url, max_retries=0).system_info, DHIS2HTTPError)
    assert str(error).startswith(
        f"source ({server.base_url}): GET /api/system/info answered 503 Service Unavailable: "
        "Maintenance in progress: the database is being upgraded, "
    )
    assert len(error.dhis2_message) == 200 and error.dhis2_message.endswith("…")


def test_truncated_json_every_time(emulator, client_factory):
    emulator.faults.configure(truncate=10, path_prefix="/api/system/info")
    error = raised(client_factory(emulator.base_url).system_info, DHIS2ResponseError)
    assert str(error) == (
        f"source ({emulator.base_url}): GET /api/system/info sent a malformed answer 3 times (the body "
        "was cut short (ChunkedEncodingError)). A proxy or the server may be cutting responses short; "
        "check its logs or use a smaller page size."
    )


def test_invalid_json_200(client_factory):
    with LoopbackServer(lambda request: json_answer(200, '{"version": "2.40.3", "serverDate": ')) as server:
        error = raised(client_factory(server.base_url, body_retries=0).system_info, DHIS2ResponseError)
    assert str(error).startswith(
        f"source ({server.base_url}): GET /api/system/info sent a malformed answer once (invalid JSON "
        "(JSONDecodeError: Expecting value: line 1 column 37 (char 36)))."
    )


def test_server_closing_the_connection_every_time(emulator, client_factory):
    emulator.faults.configure(drop=10, path_prefix="/api/system/info")
    error = raised(client_factory(emulator.base_url).system_info, DHIS2ConnectionError)
    assert str(error) == (
        f"source ({emulator.base_url}): the server closed the connection without answering (GET "
        "/api/system/info, 4 attempts). The server or a proxy in front of it may be restarting or "
        "overloaded; check its logs."
    )


# ---------------------------------------------------------------------------------------------
# transport: no HTTP answer at all


def test_connection_refused(client_factory, unused_port):
    base_url = f"http://127.0.0.1:{unused_port}"
    error = raised(client_factory(base_url).system_info, DHIS2ConnectionError)
    assert str(error) == (
        f"source ({base_url}): connection refused by 127.0.0.1:{unused_port} (GET /api/system/info, 4 "
        "attempts). Check that the server is running and that the base URL's host and port are right."
    )
    assert error.retryable and "Max retries exceeded" not in str(error)


def test_dns_failure(client_factory):
    error = raised(client_factory("http://nonexistent.invalid").system_info, DHIS2ConnectionError)
    assert str(error) == (
        "source (http://nonexistent.invalid): the host name nonexistent.invalid could not be resolved "
        "(DNS) (GET /api/system/info, 4 attempts). Check the host name in the base URL, and this "
        "machine's DNS and network."
    )


def test_read_timeout(emulator, client_factory):
    emulator.faults.configure(latency=1.0, path_prefix="/api/system/info")
    client = client_factory(emulator.base_url, read_timeout=0.2, max_retries=1)
    error = raised(client.system_info, DHIS2ConnectionError)
    assert str(error) == (
        f"source ({emulator.base_url}): timed out after 0.2 s waiting for an answer (GET "
        "/api/system/info, 2 attempts). The server is slow or overloaded: try again later, raise "
        "timeouts.read for this instance, or use smaller page sizes."
    )


def test_tls_self_signed_certificate(tmp_path, client_factory, caplog, monkeypatch):
    """Used to crash with AttributeError ('str' object has no attribute 'args') hiding the SSLError."""
    caplog.set_level(logging.DEBUG)
    # requests lets this variable override a session's verify=False; verify_tls: false must still work.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())
    with LoopbackServer(lambda request: json_answer(200, SYSTEM_INFO % "2.40.3"),
                        tls=self_signed_certificate(tmp_path)) as server:
        error = raised(client_factory(server.base_url, verify_tls=True).system_info, DHIS2TLSError)
        assert client_factory(server.base_url, verify_tls=False).system_info().version == "2.40.3"
    assert str(error) == (
        f"source ({server.base_url}): TLS certificate verification failed (self-signed certificate) "
        "(GET /api/system/info). Install the certificate of the CA that signed the server's "
        "certificate on this machine (or point REQUESTS_CA_BUNDLE at it), or, for testing only, set "
        "verify_tls: false for this instance."
    )
    assert isinstance(error, DHIS2ConnectionError) and not error.retryable
    assert len(server.requests) == 1  # the verified attempt never got a request through


def test_https_to_a_plain_http_port(emulator, client_factory):
    base_url = emulator.base_url.replace("http://", "https://")
    error = raised(client_factory(base_url).system_info, DHIS2TLSError)
    assert str(error).startswith(f"source ({base_url}): the TLS handshake failed (")
    assert str(error).endswith(
        "(GET /api/system/info). Check the base URL's scheme: https:// for a server that speaks TLS on "
        "that port, http:// for one that does not."
    )


# ---------------------------------------------------------------------------------------------
# versions


def test_server_older_than_2_36_is_refused(client_factory):
    with LoopbackServer(lambda request: json_answer(200, SYSTEM_INFO % "2.34.2")) as server:
        error = raised(client_factory(server.base_url).system_info, DHIS2UnsupportedVersionError)
    assert str(error) == (
        f"source ({server.base_url}) runs DHIS2 2.34.2; dhis-sync supports 2.36 and later. Upgrade the "
        "server, or leave it out of the sync configuration."
    )
    assert not error.retryable


def test_oldest_supported_version_is_accepted(emulator_factory, client_factory):
    server = emulator_factory("2.36")
    assert client_factory(server.base_url).system_info().version >= "2.36"


# ---------------------------------------------------------------------------------------------
# excerpts


def test_html_excerpt_prefers_the_title_and_collapses_whitespace():
    assert html_excerpt("<html><head><title>\n  Bad \t Gateway \n</title></head><body>x</body></html>") == "Bad Gateway"
    page = "<html><head><script>var a = 1;</script><style>p{}</style></head><body><p>Down  for\n maintenance</p></body></html>"
    assert html_excerpt(page) == "Down for maintenance"
    assert len(html_excerpt("<p>" + "word " * 100 + "</p>")) == 200


def test_body_excerpt_of_json_without_a_message():
    assert body_excerpt({"timestamp": "2024", "status": 404, "error": "Not Found"}, "") == "Not Found"
    assert body_excerpt(["a", "b"], "") == '["a","b"]'
    assert body_excerpt(None, "  plain\n text  ") == "plain text"
    assert body_excerpt(None, "") == ""



# ---------------------------------------------------------------------------------------------
# through a real Dagster step: the failure's headline is the cause, not "Exceeded max_retries"


def write_sync_file(tmp_path, monkeypatch, source_url: str, destination_url: str, step_retries: str):
    from dhis_sync_pipeline.config import load_config

    monkeypatch.setenv("HEADLINE_TEST_PASSWORD", "district")
    path = tmp_path / "dhis_sync.yaml"
    path.write_text(textwrap.dedent(f"""\
        instances:
          - name: source
            base_url: {source_url}
            auth: {{type: basic, username: admin, password_env: HEADLINE_TEST_PASSWORD}}
            http_retries: {{max_retries: 1, backoff_factor: 0}}
          - name: destination
            base_url: {destination_url}
            auth: {{type: basic, username: admin, password_env: HEADLINE_TEST_PASSWORD}}
        sync_configurations:
          - id: headline
            name: Headline
            source: source
            destination: destination
            metadata: {{resources: [dataElements]}}
            step_retries: {step_retries}
        """), encoding="utf-8")
    return load_config(path)


def step_failures(instance, run_id: str) -> dict[str, str]:
    from dhis_sync_pipeline.orchestration.run_summary import summarize_run

    return {r.asset: r.failure for r in summarize_run(instance, run_id).resources if r.failure}


def test_step_retries_exhausted_headline_names_the_cause(emulator_factory, tmp_path, monkeypatch, dagster_instance):
    from dhis_sync_pipeline.launch import execute_in_process

    source, destination = emulator_factory("2.40"), emulator_factory("2.40")
    source.faults.configure(fail=100, fail_status=503, path_prefix="/api/metadata")
    sync_file = write_sync_file(tmp_path, monkeypatch, source.base_url, destination.base_url,
                                "{max_retries: 1, delay_seconds: 0}")
    failures = step_failures(dagster_instance, execute_in_process(sync_file, "headline", dagster_instance))
    failure = failures["metadata/dataElements"]  # the metadata step's failure, told on each type it holds
    assert failure.startswith(
        f"source ({source.base_url}): GET /api/metadata answered 503 Service Unavailable after 2 "
        "attempts: Injected server error. The server (or the proxy in front of it) is overloaded or restarting"
    )
    assert failure.endswith("(the step ran 2 times, without pauses)")
    assert "Exceeded max_retries" not in failure
    assert sum(1 for entry in source.state.request_log if entry[1] == "/api/metadata") == 4  # 2 steps × 2 tries


def test_preflight_refuses_an_old_source(emulator_factory, tmp_path, monkeypatch, dagster_instance):
    from dhis_sync_pipeline.launch import execute_in_process

    destination = emulator_factory("2.40")
    with LoopbackServer(lambda request: json_answer(200, SYSTEM_INFO % "2.34.2")) as old:
        sync_file = write_sync_file(tmp_path, monkeypatch, old.base_url, destination.base_url, "{max_retries: 2}")
        failures = step_failures(dagster_instance, execute_in_process(sync_file, "headline", dagster_instance))
    assert failures["preflight"] == (
        f"source ({old.base_url}) runs DHIS2 2.34.2; dhis-sync supports 2.36 and later. Upgrade the "
        "server, or leave it out of the sync configuration."
    )
    assert [request.path for request in old.requests] == ["/api/system/info"]
