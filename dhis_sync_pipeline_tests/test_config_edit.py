"""`dhis-sync setup` and `dhis-sync config create` change only the lines they are about: every
other line of the operator's file stays byte for byte, the file keeps its permission mode, and a
bad edit leaves the file exactly as it was."""

from __future__ import annotations

import difflib
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from dhis_sync_pipeline.cli import main
from dhis_sync_pipeline.config import load_config

# Odd but valid: 4-space sequences, an indentless sequence, deeper-indented maps, flow maps and
# lists, quotes of both kinds, a line far longer than any dumper's width, comments and blank lines.
ODD = """\
# Production servers — keep this comment
instances:
    -   name: national      # the national server
        base_url: "https://dhis2.example.org"
        auth: {type: basic,   username: 'sync', password_env: NATIONAL_PASSWORD}

    -   name: training
        base_url: https://training.example.org
        auth:
              type: token
              token_env: TRAINING_TOKEN   # a personal access token
sync_configurations:
-   id: nightly
    name: 'Nightly:  national → training, with a name long enough that a YAML dumper set to the usual width would wrap it'
    source: national
    destination: training
    execution_mode: automatic   # do not touch
    metadata: {resources: [organisationUnits, categoryOptions, categories, categoryCombos, categoryOptionCombos, dataElements, dataSets]}
    auto_sync:
            check_interval: 300   # five minutes
            monitored_resources:
                  - dataElements
                  - organisationUnits
            allowed_time_windows: ["20:00-06:00"]   # nights only

            # more settings later
-   {id: flowy, name: "Flowy", source: training, destination: national, execution_mode: automatic, auto_sync: {check_interval: 120}}
# end of file
"""


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    def write(text: str = ODD, mode: int = 0o600) -> Path:
        path = tmp_path / "dhis_sync.yaml"
        path.write_bytes(text.encode("utf-8"))
        path.chmod(mode)
        monkeypatch.setenv("DHIS_SYNC_CONFIG", str(path))
        return path

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return write


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def diff(before: bytes, after: bytes) -> tuple[list[bytes], list[bytes]]:
    """(lines of `before` that are gone, lines of `after` that are new); every other line is identical."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += old[i1:i2]
            added += new[j1:j2]
    return removed, added


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_setup_changes_only_its_own_lines_and_keeps_the_mode(config_file):
    path = config_file(mode=0o600)
    before = path.read_bytes()

    result = invoke("setup", "nightly", "--interval", "600", "--monitor", "dataValues,indicators",
                    "--window", "21:00-05:00", "--disable", "--cron", "0 2 * * 0")

    assert result.exit_code == 0, result.output
    assert mode_of(path) == 0o600
    removed, added = diff(before, path.read_bytes())
    assert removed == [
        b"            check_interval: 300   # five minutes\n",
        b"                  - dataElements\n",
        b"                  - organisationUnits\n",
        b'            allowed_time_windows: ["20:00-06:00"]   # nights only\n',
    ]
    assert added == [
        b"            check_interval: 600   # five minutes\n",
        b"                  - dataValues\n",
        b"                  - indicators\n",
        b'            allowed_time_windows: ["21:00-05:00"]   # nights only\n',
        b"            enabled: false\n",
        b'            full_sync_cron: "0 2 * * 0"\n',
    ]
    auto = load_config(path).sync_config("nightly").auto
    assert (auto.check_interval, auto.enabled, auto.full_sync_cron) == (600, False, "0 2 * * 0")
    assert auto.monitored_resources == ("dataValues", "indicators")


def test_setup_edits_a_flow_style_configuration_in_its_line(config_file):
    path = config_file()
    before = path.read_bytes()

    result = invoke("setup", "flowy", "--manual", "--interval", "900", "--no-windows")

    assert result.exit_code == 0, result.output
    removed, added = diff(before, path.read_bytes())
    assert removed == [b'-   {id: flowy, name: "Flowy", source: training, destination: national, '
                       b"execution_mode: automatic, auto_sync: {check_interval: 120}}\n"]
    assert added == [b'-   {id: flowy, name: "Flowy", source: training, destination: national, '
                     b"execution_mode: manual, auto_sync: {check_interval: 900, allowed_time_windows: []}}\n"]


def test_config_create_only_adds_lines(config_file):
    path = config_file(mode=0o640)
    before = path.read_bytes()

    result = invoke("config", "create", "--id", "back", "--name", "Training → national", "--source", "training",
                    "--destination", "national", "--automatic", "--resources", "dataElements,dataSets",
                    "--data-set", "VEM58nY22sO", "--org-unit", "ImspTQPwCqd")

    assert result.exit_code == 0, result.output
    assert mode_of(path) == 0o640
    removed, added = diff(before, path.read_bytes())
    assert removed == []
    assert added == [
        b"-   id: back\n",
        b'    name: "Training \xe2\x86\x92 national"\n',
        b"    source: training\n",
        b"    destination: national\n",
        b"    execution_mode: automatic\n",
        b"    metadata:\n",
        b"      resources: [dataElements, dataSets]\n",
        b"    data:\n",
        b"      data_sets: [VEM58nY22sO]\n",
        b"      org_units: [ImspTQPwCqd]\n",
        b"      relative_window: 12m\n",
        b"    auto_sync:\n",
        b"      enabled: true\n",
        b"      check_interval: 300\n",
    ]
    assert path.read_bytes().endswith(b"# end of file\n")
    config = load_config(path).sync_config("back")
    assert config.is_automatic and config.data.data_sets == ("VEM58nY22sO",)


def test_an_empty_flow_list_of_configurations_becomes_a_block_list(config_file):
    path = config_file(ODD.split("sync_configurations:")[0] + "sync_configurations: []   # none yet\n")
    before = path.read_bytes()

    created = invoke("config", "create", "--id", "first", "--name", "First", "--source", "national",
                     "--destination", "training")
    assert created.exit_code == 0, created.output
    made_automatic = invoke("setup", "first", "--automatic", "--interval", "120")
    assert made_automatic.exit_code == 0, made_automatic.output

    removed, added = diff(before, path.read_bytes())
    assert removed == [b"sync_configurations: []   # none yet\n"]
    assert added == [
        b"sync_configurations:   # none yet\n",
        b"  - id: first\n",
        b"    name: First\n",
        b"    source: national\n",
        b"    destination: training\n",
        b"    execution_mode: automatic\n",
        b"    auto_sync:\n",
        b"      check_interval: 120\n",
    ]


def test_windows_line_endings_and_a_missing_final_newline_are_kept(config_file):
    text = ("instances:\n  - {name: a, base_url: https://a.example.org, auth: {type: token, token_env: A_TOKEN}}\n"
            "  - {name: b, base_url: https://b.example.org, auth: {type: token, token_env: B_TOKEN}}\n"
            "sync_configurations:\n  - id: ab\n    name: A to B\n    source: a\n    destination: b\n"
            "    execution_mode: automatic\n    auto_sync:\n      check_interval: 300")
    path = config_file(text.replace("\n", "\r\n"))
    before = path.read_bytes()

    result = invoke("setup", "ab", "--interval", "600", "--max-runs-per-hour", "2")

    assert result.exit_code == 0, result.output
    removed, added = diff(before, path.read_bytes())
    assert removed == [b"      check_interval: 300"]
    assert added == [b"      check_interval: 600\r\n", b"      max_runs_per_hour: 2\r\n"]


def test_an_invalid_value_leaves_the_file_byte_identical(config_file):
    path = config_file(mode=0o640)
    before = path.read_bytes()

    result = invoke("setup", "nightly", "--interval", "10")
    assert result.exit_code != 0
    assert "check_interval" in result.output and "at least 60" in result.output
    assert "The file was not changed" in result.output

    duplicate = invoke("config", "create", "--id", "nightly", "--name", "Again", "--source", "training",
                       "--destination", "national")
    assert duplicate.exit_code != 0 and "used more than once" in duplicate.output

    assert path.read_bytes() == before
    assert mode_of(path) == 0o640
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_yaml_it_cannot_edit_safely_is_refused_untouched(config_file):
    # Both configurations share one auto_sync block through an alias: editing it for one would
    # change the other too.
    shared = ODD.replace("    auto_sync:\n            check_interval", "    auto_sync: &shared\n            check_interval")
    shared = shared.replace("auto_sync: {check_interval: 120}", "auto_sync: *shared")
    path = config_file(shared)
    before = path.read_bytes()

    result = invoke("setup", "flowy", "--interval", "900")

    assert result.exit_code != 0
    assert "make the change by hand" in result.output and "The file was not changed" in result.output
    assert path.read_bytes() == before
