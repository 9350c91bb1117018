"""What an attacker and a user get from the dashboard server: Host check, per-session CSRF, access token.

Everything goes over real HTTP to the app served by uvicorn on loopback (and, for the listen-on-
every-address case, to `dhis-sync serve` itself in a child process).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests

from dhis_sync_pipeline.dashboard.app import AppSettings
from dhis_sync_pipeline_tests.dashboard.conftest import free_port, serving, wait_until

TOKEN = "correct-horse-battery-staple-0123456789"
ACTIONS_NOT_FOR_THIS_SESSION = "not the one of this browser session"


def page_csrf(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def port_of(url: str) -> int:
    return urlsplit(url).port


def nightly_active(session: requests.Session, base: str, **kwargs) -> bool:
    stats = session.get(f"{base}/api/auto-sync/dashboard-stats/", timeout=30, **kwargs).json()
    return next(c for c in stats["configs"] if c["config_id"] == "nightly")["is_active"]


def toggle_action(active: bool) -> str:
    return "stop" if active else "start"


# --- DNS rebinding --------------------------------------------------------------------------------


def test_a_rebinding_host_is_refused_for_pages_apis_and_actions(dashboard_url):
    port = port_of(dashboard_url)
    evil = {"Host": f"evil.example:{port}"}
    user = requests.Session()
    csrf = page_csrf(user.get(f"{dashboard_url}/auto-sync/dashboard/", timeout=30).text)
    active = nightly_active(user, dashboard_url)

    page = user.get(f"{dashboard_url}/auto-sync/dashboard/", headers=evil, timeout=30)
    assert page.status_code == 421
    assert page.headers["content-type"].startswith("text/plain")
    assert f"does not serve the host name 'evil.example:{port}'" in page.text and "--allowed-host" in page.text
    assert "csrf" not in page.text.lower() and csrf not in page.text
    assert requests.get(f"{dashboard_url}/logs/auto-sync/", headers=evil, timeout=30).status_code == 421

    api = requests.get(f"{dashboard_url}/api/auto-sync/dashboard-stats/", headers=evil, timeout=30)
    assert api.status_code == 421 and "nightly" not in api.text

    # Even holding a real session's cookie and CSRF token, an action under the foreign name does nothing.
    action = user.post(f"{dashboard_url}/api/auto-sync/nightly/{toggle_action(active)}/",
                       headers={**evil, "X-CSRF-Token": csrf}, timeout=30)
    assert action.status_code == 421 and "DNS rebinding" in action.text
    assert nightly_active(user, dashboard_url) == active

    # The names of the address actually served pass; the right name on another port does not.
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert requests.get(f"{dashboard_url}/api/auto-sync/summary/", headers={"Host": host}, timeout=30).ok, host
    other_port = requests.get(f"{dashboard_url}/healthz", headers={"Host": f"127.0.0.1:{port + 1}"}, timeout=30)
    assert other_port.status_code == 421


def test_listening_on_every_address_answers_only_the_allowed_names(live_env, tmp_path):
    """`dhis-sync serve --host 0.0.0.0`: loopback names, --allowed-host and DHIS_SYNC_ALLOWED_HOSTS."""
    port = free_port()
    env = {**os.environ, "DHIS_SYNC_DASHBOARD_TOKEN": TOKEN,
           "DHIS_SYNC_ALLOWED_HOSTS": "dash.example.org, 10.1.2.3:8443"}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dhis_sync_pipeline.cli", "serve", "--host", "0.0.0.0", "--port", str(port),
         "--allowed-host", "sync.example.net"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            try:
                return requests.get(f"{base}/healthz", timeout=2).ok
            except requests.ConnectionError:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                return False

        wait_until(up, timeout=90, interval=0.3, message="dhis-sync serve to answer")
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        for host in (f"dash.example.org:{port}", "dash.example.org", f"sync.example.net:{port}", "10.1.2.3:8443",
                     f"localhost:{port}"):
            answer = requests.get(f"{base}/api/auto-sync/summary/", headers={**bearer, "Host": host}, timeout=30)
            assert answer.status_code == 200, (host, answer.text)
        for host in (f"evil.example:{port}", f"0.0.0.0:{port}", f"10.1.2.3:{port}",
                     f"dash.example.org.evil.example:{port}"):
            refused = requests.get(f"{base}/api/auto-sync/summary/", headers={**bearer, "Host": host}, timeout=30)
            assert refused.status_code == 421, host
        # Listening on every address needs the token for everything, not only for actions.
        assert requests.get(f"{base}/api/auto-sync/summary/", timeout=30).status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    assert TOKEN not in (tmp_path / "serve.log").read_text()


# --- CSRF per browser session ---------------------------------------------------------------------


def test_a_csrf_token_from_one_session_is_refused_in_another(dashboard_url):
    alice, mallory = requests.Session(), requests.Session()
    first = alice.get(f"{dashboard_url}/auto-sync/dashboard/", timeout=30)
    alice_csrf = page_csrf(first.text)
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("dhis_sync_session=")
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert page_csrf(alice.get(f"{dashboard_url}/logs/auto-sync/", timeout=30).text) == alice_csrf  # one per session
    mallory_csrf = page_csrf(mallory.get(f"{dashboard_url}/auto-sync/dashboard/", timeout=30).text)
    assert mallory_csrf != alice_csrf
    active = nightly_active(alice, dashboard_url)
    url = f"{dashboard_url}/api/auto-sync/nightly/{toggle_action(active)}/"

    stolen = mallory.post(url, headers={"X-CSRF-Token": alice_csrf}, timeout=30)
    assert stolen.status_code == 403
    assert stolen.json()["success"] is False and ACTIONS_NOT_FOR_THIS_SESSION in stolen.json()["error"]
    no_cookie = requests.post(url, headers={"X-CSRF-Token": alice_csrf}, timeout=30)
    assert no_cookie.status_code == 403 and ACTIONS_NOT_FOR_THIS_SESSION in no_cookie.json()["error"]
    assert nightly_active(alice, dashboard_url) == active

    # In its own session the token works: the sensor switches, and back.
    assert alice.post(url, headers={"X-CSRF-Token": alice_csrf}, timeout=30).json()["success"] is True
    assert nightly_active(alice, dashboard_url) == (not active)
    back = alice.post(f"{dashboard_url}/api/auto-sync/nightly/{toggle_action(not active)}/",
                      headers={"X-CSRF-Token": alice_csrf}, timeout=30)
    assert back.json()["success"] is True and nightly_active(alice, dashboard_url) == active


def test_a_session_cookie_signed_by_another_server_is_worthless(live_env, dashboard_url):
    """Sessions are signed with a per-process secret: another server's cookie and token do not carry over."""
    other = requests.Session()
    with serving(AppSettings()) as other_url:
        csrf = page_csrf(other.get(f"{other_url}/auto-sync/dashboard/", timeout=30).text)
    forged = requests.post(f"{dashboard_url}/api/auto-sync/nope/stop/", headers={"X-CSRF-Token": csrf},
                           cookies={"dhis_sync_session": other.cookies["dhis_sync_session"]}, timeout=30)
    assert forged.status_code == 403 and ACTIONS_NOT_FOR_THIS_SESSION in forged.json()["error"]


# --- access token ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded_url(live_env):
    with serving(AppSettings(access_token=TOKEN)) as url:
        yield url


def test_with_a_token_pages_redirect_to_login_and_apis_answer_401(guarded_url):
    for path in ("/auto-sync/dashboard/", "/logs/auto-sync/?config=nightly&level=ERROR", "/"):
        answer = requests.get(guarded_url + path, allow_redirects=False, timeout=30)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=%2F"), path
    login = requests.get(f"{guarded_url}/auto-sync/dashboard/", timeout=30)
    assert login.url.startswith(f"{guarded_url}/login?next=")
    assert login.status_code == 200 and "Sign in" in login.text and 'type="password"' in login.text
    assert "Nightly national to training" not in login.text
    french = requests.get(f"{guarded_url}/login", headers={"Accept-Language": "fr"}, timeout=30)
    assert "Se connecter" in french.text

    for path in ("/api/auto-sync/dashboard-stats/", "/api/auto-sync/summary/", "/api/auto-sync/nightly/progress/"):
        answer = requests.get(guarded_url + path, timeout=30)
        assert answer.status_code == 401, path
        body = answer.json()
        assert body["success"] is False and "Authorization: Bearer" in body["error"], path
    wrong = requests.get(f"{guarded_url}/api/auto-sync/summary/", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    action = requests.post(f"{guarded_url}/api/auto-sync/nightly/stop/", timeout=30)
    assert action.status_code == 401 and action.json()["success"] is False

    # What the login form needs, and the health check, stay open.
    assert requests.get(f"{guarded_url}/static/vendor/bootstrap/css/bootstrap.min.css", timeout=30).ok
    assert requests.get(f"{guarded_url}/static/app/dashboard.js", timeout=30).ok
    assert requests.get(f"{guarded_url}/healthz", timeout=30).json() == {"success": True}


def test_with_a_token_bearer_clients_read_and_act(guarded_url):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    stats = requests.get(f"{guarded_url}/api/auto-sync/dashboard-stats/", headers=bearer, timeout=30)
    assert stats.status_code == 200 and stats.json()["success"] is True
    progress = requests.get(f"{guarded_url}/api/auto-sync/local_97_94/progress/", headers=bearer, timeout=30)
    assert progress.status_code == 200 and progress.json()["success"] is True
    page = requests.get(f"{guarded_url}/auto-sync/dashboard/", headers=bearer, timeout=30, allow_redirects=False)
    assert page.status_code == 200 and "Nightly national to training" in page.text and TOKEN not in page.text

    session = requests.Session()
    active = nightly_active(session, guarded_url, headers=bearer)
    switched = session.post(f"{guarded_url}/api/auto-sync/nightly/{toggle_action(active)}/", headers=bearer,
                            timeout=30)
    assert switched.status_code == 200 and switched.json()["is_active"] is (not active)
    back = session.post(f"{guarded_url}/api/auto-sync/nightly/{toggle_action(not active)}/", headers=bearer,
                        timeout=30)
    assert back.json()["is_active"] is active


def test_with_a_token_the_login_form_lets_a_browser_session_in(guarded_url):
    browser = requests.Session()
    form = browser.get(f"{guarded_url}/auto-sync/dashboard/?lang=en", timeout=30)
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    next_path = re.search(r'name="next" value="([^"]+)"', form.text).group(1)
    assert next_path == "/auto-sync/dashboard/?lang=en"

    wrong = browser.post(f"{guarded_url}/login", data={"token": "guess", "csrf_token": login_csrf, "next": next_path},
                         allow_redirects=False, timeout=30)
    assert wrong.status_code == 401 and "Wrong access token" in wrong.text and "guess" not in wrong.text
    still_out = browser.get(f"{guarded_url}/auto-sync/dashboard/", allow_redirects=False, timeout=30)
    assert still_out.status_code == 303

    # A login form posted without its session (a cross-site form) is refused, even with the right token.
    forged = requests.post(f"{guarded_url}/login", data={"token": TOKEN, "csrf_token": login_csrf},
                           allow_redirects=False, timeout=30)
    assert forged.status_code == 403 and "session cookie" in forged.text

    right = browser.post(f"{guarded_url}/login", data={"token": TOKEN, "csrf_token": login_csrf, "next": next_path},
                         allow_redirects=False, timeout=30)
    assert right.status_code == 303 and right.headers["location"] == next_path
    assert TOKEN not in right.headers.get("set-cookie", "") and TOKEN not in right.headers["location"]
    dashboard = browser.get(guarded_url + next_path, timeout=30)
    assert dashboard.status_code == 200 and "Nightly national to training" in dashboard.text
    assert TOKEN not in dashboard.text and "Sign out" in dashboard.text
    csrf = page_csrf(dashboard.text)
    assert csrf != login_csrf  # a new session on login
    assert browser.get(f"{guarded_url}/logs/auto-sync/", timeout=30).status_code == 200
    assert browser.get(f"{guarded_url}/api/auto-sync/summary/", timeout=30).json()["success"] is True

    active = nightly_active(browser, guarded_url)
    acted = browser.post(f"{guarded_url}/api/auto-sync/nightly/{toggle_action(active)}/",
                         headers={"X-CSRF-Token": csrf}, timeout=30)
    assert acted.status_code == 200 and acted.json()["is_active"] is (not active)
    browser.post(f"{guarded_url}/api/auto-sync/nightly/{toggle_action(not active)}/", headers={"X-CSRF-Token": csrf},
                 timeout=30)
    assert nightly_active(browser, guarded_url) == active

    # After logging in, only its own CSRF token works; and nowhere does a redirect leave the server.
    assert browser.post(f"{guarded_url}/api/auto-sync/nightly/stop/", headers={"X-CSRF-Token": login_csrf},
                        timeout=30).status_code == 403
    offsite = browser.get(f"{guarded_url}/login?next=//evil.example/", allow_redirects=False, timeout=30)
    assert offsite.headers["location"] == "/auto-sync/dashboard/"

    out = browser.post(f"{guarded_url}/logout", data={"csrf_token": csrf}, allow_redirects=False, timeout=30)
    assert out.status_code == 303
    assert browser.get(f"{guarded_url}/auto-sync/dashboard/", allow_redirects=False, timeout=30).status_code == 303
