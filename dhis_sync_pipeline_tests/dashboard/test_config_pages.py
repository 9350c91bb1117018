"""The configuration pages over real HTTP: instances with Test connection against a live emulator,
configurations created and edited from the pickers, auto-sync settings, start and stop — each save
an edit of the real YAML file (comments kept; byte for byte untouched when invalid), never a
secret in the file or the page, and the Dagster webserver told to reload (or the page saying none
answered)."""

from __future__ import annotations

import http.server
from html import unescape
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from dhis_sync_pipeline_tests.dashboard.conftest import INSTANCE_YAML, free_port, serving

emulator = pytest.importorskip("dhis_sync_pipeline.emulator")

SRC_ENV = "CFG_PAGES_SOURCE_PASSWORD"
DST_ENV = "CFG_PAGES_DESTINATION_PASSWORD"
PASSWORD = "district"
WRONG = "Wr0ng-Passw0rd-xyz"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens there


def file_text(source_url: str, destination_url: str) -> str:
    return f"""# Operator's comment: keep me
instances:
  - name: src   # the source
    base_url: {source_url}
    auth: {{type: basic, username: admin, password_env: {SRC_ENV}}}
  - name: dst
    base_url: {destination_url}
    auth: {{type: basic, username: admin, password_env: {DST_ENV}}}

sync_configurations:
  - id: existing
    name: Existing one
    source: src
    destination: dst
    metadata: {{resources: [organisationUnits, dataElements]}}   # small on purpose
    auto_sync:
      check_interval: 300   # five minutes
# end of file
"""


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple]:
    from dhis_sync_pipeline.emulator import EmulatorServer

    with EmulatorServer(seed="generated") as source, EmulatorServer(seed="empty") as destination:
        yield source, destination


@dataclass
class Site:
    url: str
    config: Path
    source: object

    def session(self) -> requests.Session:
        return requests.Session()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def errors_of(html: str) -> dict[str, str]:
    return {name: unescape(text) for name, text in re.findall(r'data-error-for="([^"]+)">([^<]*)<', html)}


def flashes_of(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in re.findall(r'data-role="flash"[^>]*>(.*?)</div>', html, re.S)]


@pytest.fixture
def site(servers, tmp_path, monkeypatch) -> Iterator[Site]:
    from dhis_sync_pipeline.dashboard.app import AppSettings

    source, destination = servers
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML, encoding="utf-8")
    config = tmp_path / "dhis_sync.yaml"
    config.write_text(file_text(source.base_url, destination.base_url), encoding="utf-8")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DHIS_SYNC_CONFIG", str(config))
    monkeypatch.setenv(SRC_ENV, PASSWORD)
    monkeypatch.setenv(DST_ENV, PASSWORD)
    with serving(AppSettings(dagster_url=CLOSED_PORT_URL)) as url:
        yield Site(url, config, source)


def get(session: requests.Session, url: str) -> tuple[str, str]:
    response = session.get(url)
    assert response.status_code == 200, response.text[:2000]
    return response.text, csrf_of(response.text)


# --- instances ------------------------------------------------------------------------------------


def test_instance_test_connection_messages_and_save_without_the_secret(site):
    s = site.session()
    page, csrf = get(s, f"{site.url}/instances/add/")
    form = {"csrf_token": csrf, "name": "third", "base_url": site.source.base_url, "auth.type": "basic",
            "auth.username": "admin", "auth.secret_env": "CFG_PAGES_THIRD_PASSWORD", "verify_tls": "on"}

    # The variable is not set here and nothing typed: the page says which variable to set.
    page = s.post(f"{site.url}/instances/add/", data={**form, "action": "test"}).text
    assert 'data-kind="secret_missing"' in page and "CFG_PAGES_THIRD_PASSWORD is not set" in page

    # The right password typed for this test only: version and time zone from /api/system/info.
    page = s.post(f"{site.url}/instances/add/", data={**form, "action": "test", "test_password": PASSWORD}).text
    assert 'data-kind="ok"' in page, page
    assert re.search(r'data-role="version">2\.\d+', page)
    assert 'data-role="time-zone">UTC<' in page

    # A wrong password: the credentials are named as the problem, and the password is nowhere in the page.
    page = s.post(f"{site.url}/instances/add/", data={**form, "action": "test", "test_password": WRONG}).text
    assert 'data-kind="wrong_password"' in page and "refused the credentials" in page
    assert WRONG not in page

    # No answer, and TLS spoken to a plain-HTTP port.
    page = s.post(f"{site.url}/instances/add/", data={**form, "action": "test", "test_password": PASSWORD,
                                                      "base_url": CLOSED_PORT_URL}).text
    assert 'data-kind="no_answer"' in page and "connection refused" in page
    https = site.source.base_url.replace("http://", "https://")
    page = s.post(f"{site.url}/instances/add/", data={**form, "action": "test", "test_password": PASSWORD,
                                                      "base_url": https}).text
    assert 'data-kind="tls"' in page

    # Save: only the variable's NAME reaches the file (the typed password is not kept).
    before = site.config.read_text()
    response = s.post(f"{site.url}/instances/add/", data={**form, "action": "save", "test_password": WRONG},
                      allow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/instances/"
    after = site.config.read_text()
    assert after.startswith(before.split("\nsync_configurations:")[0])  # the lines before are untouched
    assert "password_env: CFG_PAGES_THIRD_PASSWORD" in after and WRONG not in after and PASSWORD not in after
    assert "# the source" in after and "# end of file" in after
    listing = s.get(f"{site.url}/instances/").text
    row = re.search(r'<tr data-instance="third">.*?</tr>', listing, re.S).group(0)
    assert "not set here" in row
    assert any("No Dagster webserver answered" in f for f in flashes_of(listing))


def test_login_redirect_is_named(site):
    """A login portal in front of the server answers with a redirect to its login page."""
    class Portal(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(302)
            self.send_header("Location", "/dhis-web-commons/security/login.action")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    portal = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=portal.serve_forever, daemon=True).start()
    try:
        s = site.session()
        _, csrf = get(s, f"{site.url}/instances/src/edit/")
        page = s.post(f"{site.url}/instances/src/edit/", data={
            "csrf_token": csrf, "base_url": f"http://127.0.0.1:{portal.server_port}", "auth.type": "basic",
            "auth.username": "admin", "auth.secret_env": SRC_ENV, "verify_tls": "on", "action": "test"}).text
    finally:
        portal.shutdown()
    assert 'data-kind="login_redirect"' in page and "login page" in page


def test_a_secret_typed_as_the_variable_name_is_neither_saved_nor_shown(site):
    s = site.session()
    _, csrf = get(s, f"{site.url}/instances/src/edit/")
    before = site.config.read_bytes()
    secret = "myS3cret-password"
    response = s.post(f"{site.url}/instances/src/edit/", data={
        "csrf_token": csrf, "base_url": site.source.base_url, "auth.type": "basic", "auth.username": "admin",
        "auth.secret_env": secret, "action": "save"})
    assert response.status_code == 400
    assert site.config.read_bytes() == before
    assert secret not in response.text
    assert "NAME of an environment variable" in errors_of(response.text)["auth.secret_env"]


def test_instance_edit_switches_to_a_token_and_keeps_comments(site):
    s = site.session()
    _, csrf = get(s, f"{site.url}/instances/dst/edit/")
    response = s.post(f"{site.url}/instances/dst/edit/", data={
        "csrf_token": csrf, "base_url": site.source.base_url.replace("127.0.0.1", "localhost"), "auth.type": "token",
        "auth.secret_env": "CFG_PAGES_DST_TOKEN", "action": "save"}, allow_redirects=False)
    assert response.status_code == 303
    text = site.config.read_text()
    assert "auth: {type: token, token_env: CFG_PAGES_DST_TOKEN}" in text
    assert "verify_tls: false" in text  # the box was not ticked
    assert "# Operator's comment: keep me" in text and "# five minutes" in text


def test_posts_need_the_session_csrf_token(site):
    s = site.session()
    get(s, f"{site.url}/configurations/create/")
    before = site.config.read_bytes()
    for path in ("/instances/add/", "/configurations/create/", "/configurations/existing/auto-sync/settings/",
                 "/configurations/existing/auto-sync/start/"):
        response = s.post(f"{site.url}{path}", data={"csrf_token": "forged", "name": "x", "id": "x"})
        assert response.status_code == 403, path
    assert site.config.read_bytes() == before


# --- configurations -------------------------------------------------------------------------------


def test_create_from_the_source_pickers_manual_then_automatic(site):
    s = site.session()
    page, csrf = get(s, f"{site.url}/configurations/create/")
    # The pickers list the source's dataSets and org unit roots, asked over its Web API.
    source_sets = requests.get(f"{site.source.base_url}/api/dataSets", params={"fields": "id,name", "paging": "false"},
                               auth=("admin", PASSWORD)).json()["dataSets"]
    roots = requests.get(f"{site.source.base_url}/api/organisationUnits",
                         params={"fields": "id", "filter": "level:eq:1", "paging": "false"},
                         auth=("admin", PASSWORD)).json()["organisationUnits"]
    for data_set in source_sets:
        assert f'name="data.data_sets" value="{data_set["id"]}"' in page and data_set["name"] in page
    assert f'name="data.org_units" value="{roots[0]["id"]}"' in page

    manual = {"csrf_token": csrf, "id": "picked", "name": "Picked from the source", "source": "src",
              "destination": "dst", "execution_mode": "manual",
              "metadata.resources": ["organisationUnits", "dataElements", "dataSets"],
              "data.data_sets": [source_sets[0]["id"]], "data.org_units": [roots[0]["id"]],
              "data.window": "dates", "data.start_date": "2024-01-01", "data.end_date": "2024-12-31",
              "data.complete_registrations": "on", "import_options.import_strategy": "CREATE_AND_UPDATE",
              "import_options.atomic_mode": "NONE", "import_options.merge_mode": "REPLACE", "action": "save"}
    response = s.post(f"{site.url}/configurations/create/", data=manual, allow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/configurations/picked/"
    from dhis_sync_pipeline.config import load_config

    config = load_config(site.config).sync_config("picked")
    assert config.data.data_sets == (source_sets[0]["id"],) and config.data.org_units == (roots[0]["id"],)
    assert str(config.data.start_date) == "2024-01-01" and config.execution_mode == "manual"
    assert "import_options" not in site.config.read_text()  # defaults are not written out
    detail = s.get(f"{site.url}{response.headers['location']}").text
    assert "Configuration picked created." in flashes_of(detail)
    assert "/locations/dhis_sync/jobs/sync_picked" in detail

    automatic = {**manual, "id": "watched", "name": "Watched", "execution_mode": "automatic", "data.window": "relative",
                 "data.relative_window": "90d"}
    response = s.post(f"{site.url}/configurations/create/", data=automatic, allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/configurations/watched/auto-sync/settings/"
    settings = s.get(f"{site.url}{response.headers['location']}").text
    assert any("created in automatic mode" in f and "Start" in f for f in flashes_of(settings))
    config = load_config(site.config).sync_config("watched")
    assert config.is_automatic and config.auto.enabled and config.data.relative_window == "90d"


def test_invalid_values_leave_the_file_byte_for_byte_with_the_message_beside_the_field(site):
    s = site.session()
    page, csrf = get(s, f"{site.url}/configurations/existing/auto-sync/settings/")
    before = site.config.read_bytes()
    response = s.post(f"{site.url}/configurations/existing/auto-sync/settings/", data={
        "csrf_token": csrf, "enabled": "on", "check_interval": "5", "max_runs_per_hour": "6",
        "cooldown_after_error": "900", "allowed_time_windows": "25:00-06:00", "full_sync_cron": "every sunday"})
    assert response.status_code == 400
    assert site.config.read_bytes() == before
    errors = errors_of(response.text)
    assert "at least 60" in errors["check_interval"]
    assert "HH:MM-HH:MM" in errors["allowed_time_windows"]
    assert "cron" in errors["full_sync_cron"]

    # The configuration form: a typed UID that is none, a window that is no window (in French).
    _, csrf = get(s, f"{site.url}/configurations/existing/edit/?lang=fr")
    form = {"csrf_token": csrf, "name": "Existing one", "source": "src", "destination": "dst",
            "execution_mode": "manual", "metadata.resources": ["dataElements"], "data.data_sets": ["GiD2cCEUK6u"],
            "data.org_units_typed": "not-a-uid", "data.window": "relative", "data.relative_window": "soon",
            "action": "save"}
    response = s.post(f"{site.url}/configurations/existing/edit/?lang=fr", data=form)
    assert response.status_code == 400
    assert site.config.read_bytes() == before
    errors = errors_of(response.text)
    assert "not a DHIS2 UID" in errors["data.org_units"]
    assert "relative window" in errors["data.relative_window"]
    assert "Non enregistré\u202f:" in response.text  # French, with its narrow space before the colon
    # A source that is also the destination: said beside the destination.
    response = s.post(f"{site.url}/configurations/existing/edit/", data={
        **form, "destination": "src", "data.org_units_typed": "", "data.data_sets": [], "data.relative_window": "12m"})
    assert response.status_code == 400
    assert site.config.read_bytes() == before
    assert "both 'src'" in errors_of(response.text)["_"]


def test_auto_sync_settings_saved_in_place_and_start_refused_while_disabled(site):
    from dagster import DagsterInstance

    from dhis_sync_pipeline.automation.control import is_sensor_running
    from dhis_sync_pipeline.config import load_config

    s = site.session()
    _, csrf = get(s, f"{site.url}/configurations/existing/auto-sync/settings/")
    response = s.post(f"{site.url}/configurations/existing/auto-sync/settings/", data={
        "csrf_token": csrf, "make_automatic": "on", "enabled": "on", "check_interval": "120",
        "monitored_resources": ["dataElements"], "max_runs_per_hour": "4", "cooldown_after_error": "60",
        "allowed_time_windows": "20:00-06:00, 12:00-13:00", "full_sync_cron": ""}, allow_redirects=False)
    assert response.status_code == 303
    text = site.config.read_text()
    assert "check_interval: 120   # five minutes" in text  # the value changed, its comment stayed
    config = load_config(site.config).sync_config("existing")
    assert config.is_automatic and config.auto.monitored_resources == ("dataElements",)
    assert config.auto.allowed_time_windows == ("20:00-06:00", "12:00-13:00") and config.auto.max_runs_per_hour == 4

    # Disabled: Start is refused with the reason, and nothing is started (the browser test starts one).
    _, csrf = get(s, f"{site.url}/configurations/existing/auto-sync/settings/")
    s.post(f"{site.url}/configurations/existing/auto-sync/settings/", data={
        "csrf_token": csrf, "check_interval": "120", "max_runs_per_hour": "4", "cooldown_after_error": "60"})
    assert "enabled: false" in site.config.read_text()
    response = s.post(f"{site.url}/configurations/existing/auto-sync/start/", data={"csrf_token": csrf})
    assert response.url.endswith("/configurations/existing/auto-sync/settings/")
    assert any("auto_sync.enabled: false, so it may not be started" in f for f in flashes_of(response.text))
    with DagsterInstance.get() as instance:
        assert not is_sensor_running(instance, load_config(site.config).sync_config("existing"))


def test_sync_now_without_the_secret_says_which_variable_and_launches_nothing(site, monkeypatch):
    from dagster import DagsterInstance

    monkeypatch.delenv(SRC_ENV)
    s = site.session()
    page, csrf = get(s, f"{site.url}/configurations/existing/")
    response = s.post(f"{site.url}/configurations/existing/auto-sync/trigger/", data={"csrf_token": csrf})
    assert response.url.endswith("/configurations/existing/")
    assert any(f"{SRC_ENV} is not set" in f for f in flashes_of(response.text))
    with DagsterInstance.get() as instance:
        assert instance.get_runs() == []


# --- the Dagster webserver reloads what was saved --------------------------------------------------


@pytest.fixture
def webserver(site, tmp_path) -> Iterator[str]:
    """A real dagster-webserver on the same instance and file, as `dagster dev` runs it."""
    from dhis_sync_pipeline.orchestration.workspace import workspace_file

    port = free_port()
    log = open(tmp_path / "webserver.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-w", str(workspace_file(tmp_path)), "-h", "127.0.0.1",
         "-p", str(port)], stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the webserver and its code server; nothing to keep
        process.wait(timeout=30)
        log.close()


def sensor_names(url: str) -> set[str]:
    query = ('{ sensorsOrError(repositorySelector: {repositoryName: "__repository__", '
             'repositoryLocationName: "dhis_sync"}) { ... on Sensors { results { name } } } }')
    answer = requests.post(f"{url}/graphql", json={"query": query}, timeout=30).json()
    return {sensor["name"] for sensor in answer["data"]["sensorsOrError"]["results"]}


@pytest.mark.slow
def test_saved_automatic_configurations_appear_in_the_dagster_ui_without_a_restart(site, webserver):
    from dhis_sync_pipeline.dashboard.app import AppSettings

    assert "auto_sync_nightly" not in sensor_names(webserver)
    with serving(AppSettings(dagster_url=webserver)) as url:
        s = requests.Session()
        _, csrf = get(s, f"{url}/configurations/create/")
        response = s.post(f"{url}/configurations/create/", data={
            "csrf_token": csrf, "id": "nightly", "name": "Nightly", "source": "src", "destination": "dst",
            "execution_mode": "automatic", "metadata.resources": ["dataElements"], "action": "save"})
        assert response.status_code == 200 and "/auto-sync/settings/" in response.url
        assert any("reloaded the configuration" in f for f in flashes_of(response.text)), flashes_of(response.text)
        assert "auto_sync_nightly" in sensor_names(webserver)

        # Editing a manual configuration into an automatic one adds its sensor too.
        assert "auto_sync_existing" not in sensor_names(webserver)
        s.post(f"{url}/configurations/existing/auto-sync/settings/", data={
            "csrf_token": csrf, "make_automatic": "on", "enabled": "on", "check_interval": "300",
            "max_runs_per_hour": "6", "cooldown_after_error": "900"})
    assert "auto_sync_existing" in sensor_names(webserver)
