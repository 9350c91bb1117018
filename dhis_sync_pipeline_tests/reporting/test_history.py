"""History and exports from real runs: a failed run (the destination rejects org units) and a good
one, recorded in a real Dagster instance in DAGSTER_HOME; `dhis-sync report` reads them, and the
dashboard's history page draws them (Chart.js in Chromium) and serves the same files."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance

from dhis_sync_pipeline.cli import main
from dhis_sync_pipeline_tests.reporting.scenario import DHIS2_PASSWORD, PASSWORD_ENV, Scenario, start_servers, write_config

CHROMIUM = os.environ.get("DHIS_SYNC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """DAGSTER_HOME with two runs of configuration e2e: FAILURE then SUCCESS."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    patch = pytest.MonkeyPatch()
    source, destination = start_servers()
    try:
        patch.setenv("DAGSTER_HOME", str(home))
        patch.setenv(PASSWORD_ENV, DHIS2_PASSWORD)
        scenario = Scenario(source, destination, write_config(home, source, destination))
        patch.setenv("DHIS_SYNC_CONFIG", str(scenario.config_file))
        with DagsterInstance.get() as instance:
            scenario.break_destination()
            failed = scenario.run(instance)
            scenario.repair_destination()
            good = scenario.run(instance)
        yield {"failed": failed, "good": good, "home": home}
    finally:
        source.stop()
        destination.stop()
        patch.undo()


def report(*args: str) -> str:
    result = CliRunner().invoke(main, ["report", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_report_lists_each_run_and_resource_with_counts_and_the_rejected_objects(history):
    runs = list(csv.DictReader(io.StringIO(report("e2e", "--since", "7d", "--format", "csv"))))
    assert [(r["run_id"], r["status"]) for r in runs] == [(history["failed"], "FAILURE"), (history["good"], "SUCCESS")]
    failed, good = runs
    assert int(failed["rejected"]) > 0 and failed["failed_step"] and failed["failure"]
    assert int(failed["read"]) == 20 and int(failed["created"]) + int(failed["ignored"]) == 20
    assert int(good["rejected"]) == 0 and int(good["created"]) == int(failed["rejected"])  # retried and accepted
    assert float(good["duration_seconds"]) > 0

    resources = json.loads(report("--since", "7d", "--format", "json", "--by", "resource"))
    assert {(r["run_id"], r["resource"]) for r in resources} == {
        (history["failed"], "metadata/organisationUnits"), (history["good"], "metadata/organisationUnits")}
    first = next(r for r in resources if r["run_id"] == history["failed"])
    assert first["status"] in ("failed", "check_failed") and first["rejected"] == int(failed["rejected"])
    assert first["objects_per_second"] > 0 and first["duration_seconds"] >= 0

    rejected = list(csv.DictReader(io.StringIO(report("--rejected", history["failed"]))))
    assert len(rejected) == int(failed["rejected"])
    assert {"E5003"} <= {r["errorCode"] for r in rejected}
    assert all(r["uid"] and r["message"] and r["resource"] == "metadata/organisationUnits" for r in rejected)

    bad = CliRunner().invoke(main, ["report", "e2e", "--since", "7 days"])
    assert bad.exit_code != 0 and "e.g. 7d" in bad.output


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.mark.slow
def test_history_page_draws_the_runs_and_downloads_what_report_prints(history, browser, tmp_path):
    from dhis_sync_pipeline.dashboard.app import AppSettings
    from dhis_sync_pipeline_tests.dashboard.conftest import serving

    with serving(AppSettings(dagster_url="http://127.0.0.1:3000")) as url:
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-GB", accept_downloads=True)
        errors = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{url}/auto-sync/dashboard/")
        page.locator('.sync-card[data-config-id="e2e"] [data-role="history-link"]').click()
        page.wait_for_selector("html[data-charts-ready='true']")
        assert page.url.endswith("/auto-sync/e2e/history/")

        # Each chart was drawn by Chart.js from the two real runs.
        charts = page.evaluate("""() => Object.fromEntries(['runs', 'synced', 'rejected', 'duration'].map(id => {
            const c = Chart.getChart('chart-' + id);
            return [id, c.data.datasets.map(d => ({label: d.label, sum: d.data.reduce((a, b) => a + b, 0)}))];
        }))""")
        by_label = {d["label"]: d["sum"] for d in charts["runs"]}
        assert by_label["Succeeded"] == 1 and by_label["Failed"] == 1
        runs = list(csv.DictReader(io.StringIO(report("e2e", "--format", "csv"))))
        assert charts["synced"][0]["sum"] == sum(int(r["objects_synced"]) for r in runs)
        assert charts["rejected"][0]["sum"] == sum(int(r["rejected"]) for r in runs) > 0
        assert len(page.evaluate("Chart.getChart('chart-duration').data.labels")) == 2
        assert page.locator("canvas#chart-runs").bounding_box()["height"] > 100
        # Usable on a phone: nothing wider than the screen but the scrollable runs table.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "history-390.png"), full_page=True)

        for name, args in (("runs.csv", ["--by", "run"]), ("resources.csv", ["--by", "resource"])):
            with page.expect_download() as info:
                page.locator(f'[data-download="{name}"]').click()
            downloaded = Path(info.value.path()).read_text(encoding="utf-8")
            assert downloaded == report("e2e", "--since", "7d", "--format", "csv", *args)
            assert list(csv.DictReader(io.StringIO(downloaded)))
        with page.expect_download() as info:
            page.locator(f'#run-{history["failed"]} [data-download="rejected"]').click()
        assert Path(info.value.path()).read_text(encoding="utf-8") == report("--rejected", history["failed"])
        assert not errors, errors

        page.goto(f"{url}/auto-sync/e2e/history/?lang=fr")
        page.wait_for_selector("html[data-charts-ready='true']")
        labels = page.evaluate("Chart.getChart('chart-runs').data.datasets.map(d => d.label)")
        assert "Réussies" in labels and "Échouées" in labels
        assert page.locator("h1").inner_text().strip() == "Historique des synchronisations"
