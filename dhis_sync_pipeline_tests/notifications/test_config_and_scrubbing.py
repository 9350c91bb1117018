"""The notifications section: errors that name the key and the fix, overrides key by key, and
secrets kept out of every text."""

from __future__ import annotations

import pytest

from dhis_sync_pipeline.config import ConfigError, parse_config
from dhis_sync_pipeline.notifications.secrets import MASK, known_secrets, scrub

HEAD = """\
instances:
  - {name: a, base_url: http://a.example.org, auth: {type: basic, username: u, password_env: CFG_TEST_PW}}
  - {name: b, base_url: http://b.example.org, auth: {type: token, token_env: CFG_TEST_TOKEN}}
"""
CONFIGS = """\
sync_configurations:
  - {id: x, name: X, source: a, destination: b, notifications: {on: [failure, success], kind: teams}}
  - {id: y, name: Y, source: a, destination: b}
"""
DEFAULT = """\
notifications:
  on: [failure, recovery]
  webhook_url_env: CFG_TEST_WEBHOOK
  email: {smtp_host: smtp.example.org, username: alerts, password_env: CFG_TEST_SMTP,
          from: dhis-sync@example.org, to: [team@example.org]}
"""


def test_a_configuration_overrides_the_default_key_by_key():
    sync_file = parse_config(HEAD + DEFAULT + CONFIGS)
    x, y = (sync_file.notifications_for(c) for c in sync_file.sync_configurations)
    assert x.on == ("failure", "success") and x.kind == "teams" and x.email == y.email
    assert y.on == ("failure", "recovery") and y.kind == "slack" and y.email.smtp_port == 587 and y.email.starttls


@pytest.mark.parametrize(("change", "expected"), [
    (("password_env: CFG_TEST_SMTP", "password: hunter2"), "notifications.email (line 7): an SMTP password must not"),
    (("webhook_url_env: CFG_TEST_WEBHOOK", "webhook_url: https://hooks.example.org/x"),
     "name that variable with webhook_url_env"),
    (("[failure, recovery]", "[failure, failed]"), "notifications.on[1] (line 5)"),
    (("from: dhis-sync@example.org", "from: nobody"), "'nobody' is not an e-mail address"),
    (("username: alerts, ", ""), "username and password_env go together"),
    (("  webhook_url_env: CFG_TEST_WEBHOOK\n  email: {smtp_host: smtp.example.org, username: alerts, "
      "password_env: CFG_TEST_SMTP,\n          from: dhis-sync@example.org, to: [team@example.org]}\n", ""),
     "sync_configurations[0].notifications (line 7): no channel to send to; add webhook_url_env or email"),
])
def test_mistakes_are_named_with_their_key_and_fix(change, expected):
    with pytest.raises(ConfigError) as error:
        parse_config(HEAD + DEFAULT.replace(*change) + CONFIGS, "dhis_sync.yaml")
    assert expected in str(error.value)


def test_unset_secret_variables_are_warned_by_name_only(monkeypatch):
    monkeypatch.setenv("CFG_TEST_WEBHOOK", "https://hooks.example.org/services/T0/B0/abcdefgh")
    monkeypatch.delenv("CFG_TEST_SMTP", raising=False)
    warnings = parse_config(HEAD + DEFAULT + CONFIGS).unset_secrets()
    assert any("CFG_TEST_SMTP (its email.password_env) is not set" in w for w in warnings)
    assert not any("CFG_TEST_WEBHOOK" in w or "abcdefgh" in w for w in warnings)


def test_every_secret_the_configuration_names_is_scrubbed(monkeypatch):
    values = {"CFG_TEST_PW": "dhis2-password-1", "CFG_TEST_TOKEN": "d2p_token_value_2",
              "CFG_TEST_SMTP": "smtp-password-3", "CFG_TEST_WEBHOOK": "https://hooks.example.org/services/T0/B0/secret4",
              "DHIS_SYNC_DASHBOARD_TOKEN": "dashboard-token-5"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    secrets = known_secrets(parse_config(HEAD + DEFAULT + CONFIGS))
    text = " | ".join([*values.values(), "url: /services/T0/B0/secret4 refused"])
    cleaned = scrub(text, secrets)
    assert cleaned.count(MASK) == 6 and not any(v in cleaned for v in values.values())
    assert "secret4" not in cleaned
