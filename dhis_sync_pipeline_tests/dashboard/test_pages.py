"""What a person gets from the dashboard server over HTTP: pages, languages, assets, guarded actions."""

from __future__ import annotations

import re

import pytest
import requests
from click.testing import CliRunner
from dagster import DagsterInstance, RunsFilter

from dhis_sync_pipeline.config import load_config
from dhis_sync_pipeline.launch import execute_in_process
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG
from dhis_sync_pipeline_tests.dashboard.conftest import PASSWORD


@pytest.fixture(scope="module")
def finished_run(live_env) -> str:
    """A finished sync run of local_97_94 (the live API test's, or one made here)."""
    instance = DagsterInstance.get()
    runs = instance.get_runs(filters=RunsFilter(tags={CONFIG_TAG: "local_97_94"}), limit=1)
    if runs and runs[0].is_finished:
        return runs[0].run_id
    live_env.source.faults.clear()
    try:
        return execute_in_process(load_config(live_env.config_file), "local_97_94", instance)
    finally:
        live_env.source.faults.configure(latency=0.25)


def visible_text(html: str) -> str:
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_dashboard_in_english_and_french(dashboard_url, finished_run):
    english = requests.get(f"{dashboard_url}/auto-sync/dashboard/", timeout=30)
    assert english.status_code == 200
    text = visible_text(english.text)
    for words in ("Automatic sync dashboard", "Automatic configurations", "Active sensors", "Syncs running",
                  "Objects synced in total", "Local 97-94", "Nightly national to training", "Sync now", "Logs"):
        assert words in text
    assert 'href="/static/vendor/bootstrap/css/bootstrap.min.css"' in english.text
    assert "cdn" not in english.text.lower()

    french = requests.get(f"{dashboard_url}/auto-sync/dashboard/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"},
                          timeout=30)
    text = visible_text(french.text)
    assert "Tableau de bord de la synchronisation automatique" in text and "Synchroniser maintenant" in text
    assert '<html lang="fr">' in french.text
    forced = requests.get(f"{dashboard_url}/auto-sync/dashboard/?lang=en", headers={"Accept-Language": "fr"}, timeout=30)
    assert "Automatic sync dashboard" in forced.text


def test_assets_are_served_locally(dashboard_url):
    css = requests.get(f"{dashboard_url}/static/vendor/bootstrap/css/bootstrap.min.css", timeout=30)
    assert css.status_code == 200 and "Bootstrap  v5" in css.text[:200]
    assert requests.get(f"{dashboard_url}/static/vendor/bootstrap/js/bootstrap.bundle.min.js", timeout=30).ok
    fa = requests.get(f"{dashboard_url}/static/vendor/fontawesome/css/all.min.css", timeout=30)
    assert fa.ok and "Font Awesome" in fa.text[:300]
    assert requests.get(f"{dashboard_url}/static/vendor/fontawesome/webfonts/fa-solid-900.woff2", timeout=30).ok
    assert requests.get(f"{dashboard_url}/static/app/dashboard.js", timeout=30).ok


def test_logs_page_filters_by_configuration_and_level(dashboard_url, finished_run):
    page = requests.get(f"{dashboard_url}/logs/auto-sync/", params={"config": "local_97_94"}, timeout=30)
    assert page.status_code == 200
    rows = re.findall(r'<tr class="log-line" data-config="([^"]+)" data-level="([^"]+)"', page.text)
    assert rows and {config for config, _ in rows} == {"local_97_94"}
    assert f"http://127.0.0.1:3000/runs/{finished_run}" in page.text
    assert "progress organisationUnits (metadata)" in page.text
    times = re.findall(r'<time datetime="([^"]+)"', page.text)
    assert times == sorted(times, reverse=True)

    errors_only = requests.get(f"{dashboard_url}/logs/auto-sync/",
                               params={"config": "local_97_94", "level": "ERROR"}, timeout=30)
    levels = {level for _, level in re.findall(r'data-config="([^"]+)" data-level="([^"]+)"', errors_only.text)}
    assert levels <= {"ERROR", "CRITICAL"}

    future = requests.get(f"{dashboard_url}/logs/auto-sync/", params={"from": "2999-01-01", "lang": "fr"}, timeout=30)
    assert "Aucune ligne de journal ne correspond à ces filtres." in future.text
    assert PASSWORD not in page.text


def test_actions_refuse_cross_site_requests(dashboard_url):
    url = f"{dashboard_url}/api/auto-sync/nightly/stop/"
    no_token = requests.post(url, timeout=30)
    assert no_token.status_code == 403 and no_token.json()["success"] is False
    browser = requests.Session()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"',
                     browser.get(f"{dashboard_url}/auto-sync/dashboard/", timeout=30).text).group(1)
    other_site = browser.post(url, headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"}, timeout=30)
    assert other_site.status_code == 403 and other_site.json()["error"] == "cross-origin request refused"
    unknown = browser.post(f"{dashboard_url}/api/auto-sync/nope/stop/", headers={"X-CSRF-Token": csrf}, timeout=30)
    assert unknown.status_code == 404
    assert unknown.json() == {"success": False, "error": "Unknown sync configuration: nope"}
    manual = browser.post(f"{dashboard_url}/api/auto-sync/local_97_94/start/", headers={"X-CSRF-Token": csrf},
                          timeout=30)
    assert manual.status_code == 400 and "manual configuration" in manual.json()["error"]


def test_serve_refuses_unsafe_settings(monkeypatch):
    from dhis_sync_pipeline.cli import main

    monkeypatch.delenv("DHIS_SYNC_DASHBOARD_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0 and "DHIS_SYNC_DASHBOARD_TOKEN" in result.output

    monkeypatch.setenv("DHIS_SYNC_DASHBOARD_SECRET", "short")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code != 0 and "DHIS_SYNC_DASHBOARD_SECRET is 5 characters long" in result.output

    monkeypatch.delenv("DHIS_SYNC_DASHBOARD_SECRET")
    result = CliRunner().invoke(main, ["serve", "--allowed-host", "https://dash.example.org/"])
    assert result.exit_code != 0 and "is not a host name" in result.output
