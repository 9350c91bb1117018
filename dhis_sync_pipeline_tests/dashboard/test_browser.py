"""The dashboard in a real browser (Playwright driving Debian's Chromium) during a real sync run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dhis_sync_pipeline_tests.dashboard.conftest import results_dir

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("DHIS_SYNC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def test_dashboard_shows_a_run_moving_then_logs_and_stop(browser, dashboard_url, live_env, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    console_errors, failed = [], []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto(f"{dashboard_url}/auto-sync/dashboard/")
    card = page.locator('.sync-card[data-config-id="nightly"]')
    card.wait_for()
    assert card.locator("h2").inner_text() == "Nightly national to training"
    sensor_badge = card.locator('[data-role="sensor-badge"]')
    if sensor_badge.inner_text() == "Stopped":  # sensors are declared stopped in code: Start turns it on
        assert "text-bg-danger" in sensor_badge.get_attribute("class")
        card.locator('[data-action="start"]').click()
        page.wait_for_function(
            """() => document.querySelector('.sync-card[data-config-id="nightly"] [data-role="sensor-badge"]')
                     .textContent === 'Active'""",
            timeout=60_000,
        )
    assert sensor_badge.inner_text() == "Active"
    assert "text-bg-success" in sensor_badge.get_attribute("class")
    assert card.locator('[data-action="stop"]').is_visible() and card.locator('[data-action="start"]').is_hidden()
    assert card.locator('[data-role="settings-badge"]').inner_text().startswith("Enabled")
    page.evaluate("window.__sameDocument = true")  # lost if the page reloads

    # Sync now: the run starts on the Dagster instance and the card's bar moves on its own.
    card.locator('[data-action="sync-now"]').click()
    bar = card.locator('[data-role="progress"]')
    page.wait_for_function(
        """() => { const c = document.querySelector('.sync-card[data-config-id="nightly"]');
                   const p = c.querySelector('[data-role="progress"]');
                   return !c.querySelector('[data-role="running"]').classList.contains('d-none')
                          && Number(p.getAttribute('aria-valuenow')) > 0; }""",
        timeout=60_000,
    )
    first = int(bar.get_attribute("aria-valuenow"))
    assert card.locator('[data-role="run-badge"]').inner_text() == "Running"
    page.wait_for_function(
        f"""() => Number(document.querySelector('.sync-card[data-config-id="nightly"] [data-role="progress"]')
                  .getAttribute('aria-valuenow')) > {first}""",
        timeout=60_000,
    )
    second = int(bar.get_attribute("aria-valuenow"))
    assert second > first
    width = card.locator('[data-role="progress-bar"]').evaluate("e => e.style.width")
    assert width.endswith("%") and float(width[:-1]) > 0
    assert card.locator('[data-role="resources"] tr').count() >= 1
    assert card.locator('[data-role="speed"]').inner_text().endswith("obj/s")
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    shot = tmp_path / "dashboard-running.png"
    page.screenshot(path=str(shot), full_page=True)

    # The run ends: the card shows the last run, completed, with its counts.
    page.wait_for_function(
        """() => { const s = document.querySelector('.sync-card[data-config-id="nightly"] [data-role="last-status"]');
                   return s && s.textContent === 'completed'; }""",
        timeout=90_000,
    )
    assert "synced" in card.locator('[data-role="last-run"]').inner_text()
    assert card.locator('[data-role="run-link"]').get_attribute("href").startswith("http://127.0.0.1:3000/runs/")
    assert page.evaluate("window.__sameDocument") is True
    done = tmp_path / "dashboard-done.png"
    page.screenshot(path=str(done), full_page=True)

    # Logs: the button leads to the logs filtered on this configuration.
    card.locator('[data-role="logs-link"]').click()
    page.wait_for_url("**/logs/auto-sync/?config=nightly*")
    rows = page.locator("tr.log-line")
    assert rows.count() > 0
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.config)")) == {"nightly"}
    assert page.locator("#f-config").input_value() == "nightly"
    page.screenshot(path=str(tmp_path / "logs.png"), full_page=True)

    # Stop: the sensor is stopped in the Dagster instance and the badge says so.
    page.go_back()
    card = page.locator('.sync-card[data-config-id="nightly"]')
    card.locator('[data-action="stop"]').click()
    page.wait_for_function(
        """() => document.querySelector('.sync-card[data-config-id="nightly"] [data-role="sensor-badge"]')
                 .textContent === 'Stopped'""",
        timeout=60_000,
    )
    assert card.locator('[data-action="start"]').is_visible() and card.locator('[data-action="stop"]').is_hidden()
    assert "text-bg-danger" in card.locator('[data-role="sensor-badge"]').get_attribute("class")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)

    from dagster import DagsterInstance

    from dhis_sync_pipeline.automation.control import is_sensor_running
    from dhis_sync_pipeline.config import load_config

    config = load_config(live_env.config_file).sync_config("nightly")
    assert is_sensor_running(DagsterInstance.get(), config) is False
    assert not failed and not console_errors, (failed, console_errors)

    keep = results_dir("progress")
    for picture in tmp_path.glob("*.png"):
        shutil.copy(picture, keep / picture.name)
    page.close()


def test_with_a_token_the_browser_signs_in_once_then_uses_the_dashboard(browser, live_env, tmp_path):
    from dhis_sync_pipeline.dashboard.app import AppSettings
    from dhis_sync_pipeline_tests.dashboard.conftest import serving

    token = "a-long-random-dashboard-token-for-the-browser-test"
    with serving(AppSettings(dagster_url="http://127.0.0.1:3000", access_token=token)) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        page = context.new_page()
        console_errors = []
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        page.goto(f"{url}/auto-sync/dashboard/")
        assert page.url.startswith(f"{url}/login?next=")
        assert page.locator("h1").inner_text() == "Connexion"

        page.fill("#login-token", "not-the-token")
        page.click("#login-form button[type=submit]")
        assert "Jeton d'accès incorrect" in page.locator("#login-error").inner_text()

        console_errors.clear()  # the refused login answered 401, which Chromium logs
        page.fill("#login-token", token)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(f"{url}/auto-sync/dashboard/")
        card = page.locator('.sync-card[data-config-id="nightly"]')
        card.wait_for()
        assert token not in page.content()
        page.screenshot(path=str(tmp_path / "dashboard-signed-in.png"), full_page=True)

        # The session cookie lets the page's own refreshes and actions through.
        badge = card.locator('[data-role="sensor-badge"]')
        was_active = badge.inner_text() == "Actif"
        card.locator(f'[data-action="{"stop" if was_active else "start"}"]').click()
        expected = "Arrêté" if was_active else "Actif"
        page.wait_for_function(
            f"""() => document.querySelector('.sync-card[data-config-id="nightly"] [data-role="sensor-badge"]')
                     .textContent === {expected!r}""",
            timeout=60_000,
        )
        assert card.locator('[data-role="action-message"]').is_hidden()
        card.locator(f'[data-action="{"start" if was_active else "stop"}"]').click()
        page.wait_for_function(
            f"""() => document.querySelector('.sync-card[data-config-id="nightly"] [data-role="sensor-badge"]')
                     .textContent === {("Actif" if was_active else "Arrêté")!r}""",
            timeout=60_000,
        )
        assert not console_errors, console_errors
        page.click("#logout-form button[type=submit]")
        page.wait_for_url(f"{url}/login")
        page.goto(f"{url}/logs/auto-sync/")
        assert page.url.startswith(f"{url}/login?next=")
        context.close()
    keep = results_dir("progress")
    for picture in tmp_path.glob("*.png"):
        shutil.copy(picture, keep / picture.name)
