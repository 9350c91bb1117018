import pytest

from dhis_sync_pipeline.dhis2 import DHIS2Version


@pytest.mark.parametrize(
    "text, key, snapshot",
    [
        ("2.40.3", (2, 40, 3), False),
        ("2.41.0-SNAPSHOT", (2, 41, 0), True),
        ("2.38", (2, 38, 0), False),
        ("2.36.12.1", (2, 36, 12), False),
        ("41.2.1", (2, 41, 2), False),
    ],
)
def test_parse(text, key, snapshot):
    version = DHIS2Version.parse(text)
    assert version.key == key and version.snapshot is snapshot and not version.is_development


def test_str():
    assert str(DHIS2Version.parse("2.40.3")) == "2.40.3"
    assert str(DHIS2Version.parse("2.41.0-SNAPSHOT")) == "2.41.0-SNAPSHOT"
    assert str(DHIS2Version.parse("master")) == "master"
    assert str(DHIS2Version.parse(None)) == "unknown"


def test_ordering_and_comparisons():
    versions = [DHIS2Version.parse(v) for v in ["master", "2.40.3", "2.36.1", "2.41.0-SNAPSHOT", "2.38"]]
    assert [str(v) for v in sorted(versions)] == ["2.36.1", "2.38.0", "2.40.3", "2.41.0-SNAPSHOT", "master"]
    v = DHIS2Version.parse("2.40.3")
    assert v >= "2.40" and v < "2.41" and v > (2, 39) and v == "2.40.3" and v != "2.40"
    assert DHIS2Version.parse("2.41.0-SNAPSHOT") >= "2.41"


@pytest.mark.parametrize("text", ["master", "", None, "garbage", "2.42-dev?"])
def test_unknown_is_newest(text):
    version = DHIS2Version.parse(text)
    assert version > "2.43" or not version.is_development  # "2.42-dev?" still parses as 2.42
    assert hash(version) == hash(DHIS2Version.parse(text))
