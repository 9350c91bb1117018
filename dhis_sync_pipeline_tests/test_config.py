"""The configuration file: valid files load, every mistake is named with its key, line and fix."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from dhis_sync_pipeline.config import ConfigError, TimeWindow, load_config, parse_config
from dhis_sync_pipeline.dhis2.metadata_types import DEFAULT_METADATA_RESOURCES

VALID = """\
instances:
  - name: national
    base_url: https://dhis2.example.org/
    auth: {type: basic, username: admin, password_env: NATIONAL_PASSWORD}
  - name: training
    base_url: https://training.example.org/dhis
    auth: {type: token, token_env: TRAINING_TOKEN}
    timeouts: {connect: 5, read: 60}
    verify_tls: false
sync_configurations:
  - id: national_to_training
    name: National to training
    source: national
    destination: training
    execution_mode: automatic
    data:
      data_sets: [VEM58nY22sO]
      org_units: [ImspTQPwCqd]
      relative_window: 12m
    import_options: {import_strategy: CREATE_AND_UPDATE, atomic_mode: NONE}
    auto_sync:
      check_interval: 300
      monitored_resources: [dataElements, dataValues]
      allowed_time_windows: ["20:00-06:00"]
      full_sync_cron: "0 2 * * 0"
"""


def problems_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "dhis_sync.yaml")
    message = str(caught.value)
    assert message.startswith("Invalid DHIS2 sync configuration dhis_sync.yaml")
    return message


def with_change(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new)


def test_a_valid_file_loads_with_defaults():
    sync_file = parse_config(VALID)
    config = sync_file.sync_config("national_to_training")
    assert sync_file.instance("national").base_url == "https://dhis2.example.org"
    assert config.job_name == "sync_national_to_training"
    assert config.metadata_resources == DEFAULT_METADATA_RESOURCES
    assert config.auto.check_interval == 300
    assert config.data is not None
    start, end = config.data.window(dt.date(2026, 1, 31))
    assert end == dt.date(2026, 1, 31) and (end - start).days == 372
    assert config.page_sizes.data_values == 10_000


def test_config_path_comes_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.yaml"
    path.write_text(VALID)
    monkeypatch.setenv("DHIS_SYNC_CONFIG", str(path))
    assert load_config().sync_configurations[0].id == "national_to_training"


def test_missing_file_says_where_it_looked_and_how_to_point_elsewhere(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.yaml")
    assert "file not found" in str(caught.value) and "DHIS_SYNC_CONFIG" in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "destination: training",
            "destination: trainng",
            ["sync_configurations[0].destination (line 14)", "unknown instance 'trainng'", "national, training"],
            id="unknown-instance",
        ),
        pytest.param(
            "monitored_resources: [dataElements, dataValues]",
            "monitored_resources: [dataElemnts]",
            ["auto_sync.monitored_resources (line 23)", "'dataElemnts'", "did you mean 'dataElements'"],
            id="unknown-resource-type",
        ),
        pytest.param(
            "base_url: https://dhis2.example.org/",
            "base_url: dhis2.example.org",
            ["instances[0].base_url (line 3)", "not an http(s) URL"],
            id="bad-url",
        ),
        pytest.param(
            "base_url: https://dhis2.example.org/",
            "base_url: https://dhis2.example.org/api",
            ["instances[0].base_url", "without /api"],
            id="url-with-api",
        ),
        pytest.param(
            "check_interval: 300",
            "check_interval: 30",
            ["auto_sync.check_interval (line 22)", "at least 60"],
            id="interval-below-60",
        ),
        pytest.param(
            "auth: {type: basic, username: admin, password_env: NATIONAL_PASSWORD}",
            "auth: {type: basic, username: admin, password: district}",
            ["instances[0].auth (line 4)", "must not be written in the configuration file", "password_env"],
            id="password-in-file",
        ),
        pytest.param(
            "auth: {type: token, token_env: TRAINING_TOKEN}",
            "auth: {type: token, token: d2p_abc}",
            ["instances[1].auth", "token_env"],
            id="token-in-file",
        ),
        pytest.param(
            "password_env: NATIONAL_PASSWORD",
            "password_env: my secret",
            ["password_env", "not an environment variable name"],
            id="secret-as-env-name",
        ),
        pytest.param(
            "destination: training",
            "destination: national",
            ["source and destination are both 'national'"],
            id="same-source-and-destination",
        ),
        pytest.param(
            "id: national_to_training",
            "id: National To Training",
            ["sync_configurations[0].id (line 11)", "'national_to_training'"],
            id="id-not-a-slug",
        ),
        pytest.param(
            "execution_mode: automatic",
            "execution_mode: sometimes",
            ["execution_mode", "'manual' or 'automatic'"],
            id="bad-execution-mode",
        ),
        pytest.param(
            "relative_window: 12m",
            "relative_window: a year",
            ["data.relative_window", "e.g. 90d or 12m"],
            id="bad-relative-window",
        ),
        pytest.param(
            "relative_window: 12m",
            "start_date: 2024-02-01\n      end_date: 2024-01-01",
            ["start_date 2024-02-01 is after end_date 2024-01-01"],
            id="dates-reversed",
        ),
        pytest.param(
            "data_sets: [VEM58nY22sO]",
            "data_sets: [ANC]",
            ["data.data_sets", "'ANC' is not a DHIS2 UID"],
            id="data-set-not-a-uid",
        ),
        pytest.param(
            'allowed_time_windows: ["20:00-06:00"]',
            'allowed_time_windows: ["8pm-6am"]',
            ["allowed_time_windows", "HH:MM-HH:MM"],
            id="bad-time-window",
        ),
        pytest.param(
            'full_sync_cron: "0 2 * * 0"',
            'full_sync_cron: "every sunday"',
            ["full_sync_cron", "cron expression"],
            id="bad-cron",
        ),
        pytest.param(
            "verify_tls: false",
            "verify_tsl: false",
            ["instances[1].verify_tsl (line 9)", "unknown key 'verify_tsl'"],
            id="typo-in-key",
        ),
        pytest.param(
            "auth: {type: token, token_env: TRAINING_TOKEN}",
            "auth: {type: oauth, token_env: TRAINING_TOKEN}",
            ["instances[1].auth", "'basic'", "'token'"],
            id="unknown-auth-type",
        ),
        pytest.param(
            "import_options: {import_strategy: CREATE_AND_UPDATE, atomic_mode: NONE}",
            "import_options: {import_strategy: MERGE, atomic_mode: NONE}",
            ["import_options.import_strategy", "CREATE_AND_UPDATE"],
            id="bad-import-strategy",
        ),
    ],
)
def test_each_mistake_names_the_key_and_the_fix(old, new, expected):
    message = problems_of(with_change(old, new))
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_duplicate_ids_and_instance_names_are_refused():
    text = VALID + textwrap.indent(
        "- id: national_to_training\n  name: again\n  source: national\n  destination: training\n", "  "
    )
    message = problems_of(text)
    assert "the id 'national_to_training' is used more than once" in message


def test_yaml_syntax_error_names_the_line():
    message = problems_of("instances:\n  - name: a\n    base_url: [unclosed\n")
    assert "YAML syntax error at line" in message


def test_all_problems_are_reported_at_once():
    text = with_change("check_interval: 300", "check_interval: 5").replace(
        "base_url: https://dhis2.example.org/", "base_url: nowhere"
    )
    message = problems_of(text)
    assert "(2 problems)" in message and "check_interval" in message and "base_url" in message


def test_empty_file_says_what_is_missing():
    assert "needs an 'instances' section" in problems_of("")


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [("20:00-06:00", ["23:59", "00:00", "05:59", "20:00"], ["06:00", "12:00", "19:59"]),
     ("08:00-17:30", ["08:00", "17:29"], ["17:30", "07:59", "23:00"])],
)
def test_time_windows_may_cross_midnight(window, inside, outside):
    parsed = TimeWindow.parse(window)
    assert all(parsed.contains(dt.time.fromisoformat(t)) for t in inside)
    assert not any(parsed.contains(dt.time.fromisoformat(t)) for t in outside)
