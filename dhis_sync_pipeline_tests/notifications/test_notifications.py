"""Notifications for real: sync runs on emulated DHIS2 servers recorded in a real Dagster instance,
the run-status sensors evaluated tick by tick as the daemon evaluates them (their cursors kept
between ticks), e-mail delivered to an SMTP server on loopback (STARTTLS, login) and chat
messages to a local webhook receiver."""

from __future__ import annotations

import pytest
from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context, instance_for_test

from dhis_sync_pipeline.notifications.sensors import FAILURE_SENSOR, SUCCESS_SENSOR
from dhis_sync_pipeline.code_location import build_definitions
from dhis_sync_pipeline_tests.notifications.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    WEBHOOK_SECRET_PATH,
    closed_port_url,
    notifications_yaml,
)
from dhis_sync_pipeline_tests.reporting.scenario import DHIS2_PASSWORD, PASSWORD_ENV, Scenario, start_servers, write_config

SECRETS = (DHIS2_PASSWORD, SMTP_PASSWORD, WEBHOOK_SECRET_PATH)


class Sensors:
    """The two notification sensors of the code location, each with the cursor the daemon would keep."""

    def __init__(self, scenario: Scenario, instance: DagsterInstance):
        self.scenario, self.instance = scenario, instance
        self.cursors: dict[str, str | None] = {FAILURE_SENSOR: None, SUCCESS_SENSOR: None}
        self.tick()  # the first tick of a run-status sensor only places its cursor

    def tick(self) -> None:
        definitions = build_definitions(self.scenario.sync_file())
        for name in self.cursors:
            context = build_sensor_context(instance=self.instance, cursor=self.cursors[name])
            result = definitions.get_sensor_def(name).evaluate_tick(context)
            self.cursors[name] = result.cursor or self.cursors[name]


@pytest.fixture
def scenario(tmp_path, monkeypatch, smtp_server):
    monkeypatch.setenv(PASSWORD_ENV, DHIS2_PASSWORD)
    monkeypatch.setenv("TEST_DHIS_SYNC_SMTP_PASSWORD", SMTP_PASSWORD)
    source, destination = start_servers()
    try:
        yield Scenario(source, destination, write_config(tmp_path, source, destination, notifications_yaml(smtp_server)))
    finally:
        source.stop()
        destination.stop()


def texts(smtp_server, webhook) -> list[str]:
    return [m.get_content() + m["Subject"] for m in smtp_server.messages] + [p[1]["text"] for p in webhook.posts]


def test_a_failing_run_then_a_good_one_send_one_failure_and_one_recovery_message(
    scenario, smtp_server, webhook, monkeypatch
):
    monkeypatch.setenv("TEST_DHIS_SYNC_WEBHOOK", webhook.url)
    with instance_for_test() as instance:
        sensors = Sensors(scenario, instance)
        scenario.break_destination()
        failed = scenario.run(instance)
        assert instance.get_run_by_id(failed).status == DagsterRunStatus.FAILURE

        sensors.tick()
        sensors.tick()  # a later tick sends nothing more for the same run

        assert len(smtp_server.messages) == 1 and len(webhook.posts) == 1
        mail, (path, post) = smtp_server.messages[0], webhook.posts[0]
        assert path == WEBHOOK_SECRET_PATH
        assert mail["Subject"] == "DHIS2 sync failed: History test (e2e)"
        assert mail["To"] == "hmis-team@example.org" and mail["From"] == "dhis-sync@example.org"
        assert smtp_server.logins == [(SMTP_USER, True)]  # logged in over STARTTLS
        body = mail.get_content()
        for text in (body, post["text"]):
            assert f"http://dagster.example.org/runs/{failed}" in text
            assert f"http://dashboard.example.org/auto-sync/e2e/history/#run-{failed}" in text
            assert "Failed step:" in text and "E5003" in text  # the first rejections
            assert "src → dst" in text
        assert post["text"].startswith("*DHIS2 sync failed: History test (e2e)*")

        scenario.repair_destination()
        good = scenario.run(instance)
        assert instance.get_run_by_id(good).status == DagsterRunStatus.SUCCESS
        sensors.tick()
        sensors.tick()

        assert len(smtp_server.messages) == 2 and len(webhook.posts) == 2
        assert smtp_server.messages[1]["Subject"] == "DHIS2 sync recovered: History test (e2e)"
        assert f"http://dagster.example.org/runs/{good}" in smtp_server.messages[1].get_content()
        assert webhook.posts[1][1]["text"].startswith("*DHIS2 sync recovered")

        # A second good run is neither a recovery nor (with on: [failure, recovery]) a success message.
        scenario.run(instance)
        sensors.tick()
        assert len(smtp_server.messages) == 2 and len(webhook.posts) == 2

    for text in texts(smtp_server, webhook):
        for secret in SECRETS:
            assert secret not in text


def test_a_webhook_that_is_down_fails_neither_the_run_nor_the_e_mail(scenario, smtp_server, monkeypatch, capfd):
    monkeypatch.setenv("TEST_DHIS_SYNC_WEBHOOK", closed_port_url())
    text = scenario.config_file.read_text().replace("on: [failure, recovery]", "on: [failure, recovery, success]")
    scenario.config_file.write_text(text)
    with instance_for_test() as instance:
        sensors = Sensors(scenario, instance)
        run_id = scenario.run(instance)
        capfd.readouterr()
        sensors.tick()  # does not raise although the webhook cannot be reached (after its retries)
        logged = capfd.readouterr().err  # the sensor's log (the tick's log in the Dagster UI)

        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
        [mail] = smtp_server.messages
        assert mail["Subject"] == "DHIS2 sync succeeded: History test (e2e)"
        assert "not sent: webhook (slack) unreachable" in logged
        assert WEBHOOK_SECRET_PATH not in logged  # the webhook URL is a secret too
