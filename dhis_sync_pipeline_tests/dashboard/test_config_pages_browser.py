"""The configuration pages in a real browser (Playwright driving Debian's Chromium), as an
administrator of the tool we replace would use them: add an instance and test it, create an
automatic configuration, land on its auto-sync settings, Start, and see it on the live dashboard."""

from __future__ import annotations

import shutil

import pytest

from dhis_sync_pipeline_tests.dashboard.conftest import results_dir
from dhis_sync_pipeline_tests.dashboard.test_browser import browser  # noqa: F401 - the Chromium fixture
from dhis_sync_pipeline_tests.dashboard.test_config_pages import PASSWORD, WRONG, servers, site  # noqa: F401

pytestmark = pytest.mark.slow


def test_add_an_instance_create_an_automatic_configuration_and_start_it(browser, site, tmp_path):  # noqa: F811
    from dagster import DagsterInstance

    from dhis_sync_pipeline.automation.control import is_sensor_running
    from dhis_sync_pipeline.config import load_config

    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-GB")
    console_errors = []
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)

    # Instances: add one, test it with a wrong then the right password, save it.
    page.goto(f"{site.url}/instances/")
    page.click("#add-instance")
    page.fill("#f-name", "third")
    page.fill("#f-url", site.source.base_url)
    page.fill("#f-username", "admin")
    page.fill("#f-secret-env", "CFG_BROWSER_THIRD_PASSWORD")
    page.fill("#f-test-password", WRONG)
    page.click("#test-instance")
    result = page.locator("#test-result")
    assert result.get_attribute("data-kind") == "wrong_password"
    assert "refused the credentials" in result.inner_text()
    console_errors.clear()
    assert WRONG not in page.content() and page.input_value("#f-test-password") == ""
    page.screenshot(path=str(tmp_path / "instance-wrong-password.png"), full_page=True)
    page.fill("#f-test-password", PASSWORD)
    page.click("#test-instance")
    assert result.get_attribute("data-kind") == "ok"
    assert page.locator('[data-role="version"]').inner_text().startswith("2.")
    assert page.locator('[data-role="time-zone"]').inner_text() == "UTC"
    page.screenshot(path=str(tmp_path / "instance-test-ok.png"), full_page=True)
    page.click("#save-instance")
    page.wait_for_url(f"{site.url}/instances/")
    assert page.locator('tr[data-instance="third"]').count() == 1
    assert PASSWORD not in site.config.read_text()

    # Create an automatic configuration, picking a dataSet and an org unit root from the source.
    page.click("text=Configurations")
    page.click("#create-config")
    page.fill("#f-id", "browser_auto")
    page.fill("#f-name", "Made in the browser")
    page.select_option("#f-source", "src")
    page.select_option("#f-destination", "dst")
    page.check("#f-mode-automatic")
    page.locator('#picker-data-sets input[type="checkbox"]').first.check()
    page.locator('#picker-org-units input[type="checkbox"]').first.check()
    page.fill("#f-relative", "6m")
    page.screenshot(path=str(tmp_path / "configuration-create.png"), full_page=True)
    page.click("#save-config")

    # As in the tool we replace: straight to its auto-sync settings, with a message saying so.
    page.wait_for_url(f"{site.url}/configurations/browser_auto/auto-sync/settings/")
    assert "created in automatic mode" in page.locator('[data-role="flash"]').first.inner_text()
    page.fill("#f-interval", "30")  # below the minimum: said beside the field, the file untouched
    before = site.config.read_bytes()
    page.click("#save-settings")
    assert "at least 60" in page.locator('[data-error-for="check_interval"]').inner_text()
    assert site.config.read_bytes() == before
    console_errors.clear()  # the refused form answered 400, which Chromium logs
    page.fill("#f-interval", "90")
    page.fill("#f-windows", "00:00-23:59")
    page.click("#save-settings")
    page.wait_for_url(f"{site.url}/configurations/browser_auto/auto-sync/settings/")
    assert any("settings of browser_auto saved" in text for text in page.locator('[data-role="flash"]').all_inner_texts())
    config = load_config(site.config).sync_config("browser_auto")
    assert config.auto.check_interval == 90 and config.auto.allowed_time_windows == ("00:00-23:59",)
    page.screenshot(path=str(tmp_path / "auto-sync-settings.png"), full_page=True)

    # Start: the sensor runs on the Dagster instance and the live dashboard opens.
    page.click("#start-sensor")
    page.wait_for_url(f"{site.url}/auto-sync/dashboard/?started=browser_auto", timeout=90_000)
    assert "Sensor of browser_auto started" in page.locator("#started-message").inner_text()
    card = page.locator('.sync-card[data-config-id="browser_auto"]')
    card.wait_for()
    assert card.locator('[data-role="sensor-badge"]').inner_text() == "Active"
    assert card.locator('[data-role="settings-badge"]').inner_text() == "Enabled · every 90 s"
    with DagsterInstance.get() as instance:
        assert is_sensor_running(instance, config)
    # A manual configuration has no sensor: no "Not configured", no "Enabled" beside "Stopped".
    picked = page.locator('.sync-card[data-config-id="existing"]')
    assert picked.locator('[data-role="sensor-badge"]').inner_text() == "Manual"
    assert picked.locator('[data-role="settings-badge"]').is_hidden()
    page.screenshot(path=str(tmp_path / "dashboard-after-start.png"), full_page=True)

    # A phone: nothing wider than the screen, in French, with French spacing before colons.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{site.url}/configurations/browser_auto/auto-sync/settings/?lang=fr")
    assert "Capteur\u202f: Actif" in page.locator("#sensor-state").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "auto-sync-settings-phone-fr.png"), full_page=True)
    page.goto(f"{site.url}/auto-sync/dashboard/?lang=fr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert "Dernière mise à jour\u202f:" in page.locator("#last-updated").inner_text()
    page.screenshot(path=str(tmp_path / "dashboard-phone-fr.png"), full_page=True)

    # Stop, from the settings page.
    page.goto(f"{site.url}/configurations/browser_auto/auto-sync/settings/?lang=en")
    page.click("#stop-sensor")
    page.wait_for_url(f"{site.url}/configurations/browser_auto/auto-sync/settings/", timeout=90_000)
    assert "Stopped" in page.locator("#sensor-state").inner_text()
    with DagsterInstance.get() as instance:
        assert not is_sensor_running(instance, config)
    assert not console_errors, console_errors

    keep = results_dir("config_pages")
    for picture in tmp_path.glob("*.png"):
        shutil.copy(picture, keep / picture.name)
    page.close()
