from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dhis_sync_pipeline.dhis2.query import (
    chunked,
    fields,
    filter_expr,
    format_datetime,
    in_filter,
    is_uid,
    parse_datetime,
    updated_since,
)


def test_format_datetime_is_dhis2_form():
    assert format_datetime(datetime(2024, 1, 1)) == "2024-01-01T00:00:00.000"
    assert format_datetime(datetime(2024, 1, 2, 3, 4, 5, 678999)) == "2024-01-02T03:04:05.678"
    assert format_datetime(date(2024, 1, 2)) == "2024-01-02T00:00:00.000"
    assert format_datetime("2024-01-01") == "2024-01-01"


def test_format_aware_datetime_converts_to_server_zone():
    aware = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    assert format_datetime(aware, ZoneInfo("Africa/Nairobi")) == "2024-01-01T15:00:00.000"
    assert format_datetime(aware) == "2024-01-01T12:00:00.000"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2019-08-26T14:24:45.185", datetime(2019, 8, 26, 14, 24, 45, 185000)),
        ("2019-08-26T14:24:45", datetime(2019, 8, 26, 14, 24, 45)),
        ("2019-08-26T14:24:45.185+0000", datetime(2019, 8, 26, 14, 24, 45, 185000)),
        ("2019-08-26T14:24:45.185Z", datetime(2019, 8, 26, 14, 24, 45, 185000)),
        ("2019-08-26 14:24:45.1", datetime(2019, 8, 26, 14, 24, 45, 100000)),
        ("2019-08-26", datetime(2019, 8, 26)),
    ],
)
def test_parse_datetime_is_naive(text, expected):
    assert parse_datetime(text) == expected


def test_parse_datetime_with_offset_converts_to_zone():
    assert parse_datetime("2024-01-01T12:00:00.000+0000", ZoneInfo("Africa/Nairobi")) == datetime(2024, 1, 1, 15)
    assert parse_datetime("2024-01-01T12:00:00-03:00", timezone(timedelta(0))) == datetime(2024, 1, 1, 15)


def test_filters():
    assert updated_since(datetime(2024, 1, 1)) == "lastUpdated:ge:2024-01-01T00:00:00.000"
    assert filter_expr("lastUpdated", "gt", "2024-01-01T00:00:00") == "lastUpdated:gt:2024-01-01T00:00:00"
    assert in_filter("id", ["a", "b"]) == "id:in:[a,b]"
    assert filter_expr("code", "null") == "code:null"
    assert filter_expr("domainType", "eq", "AGGREGATE") == "domainType:eq:AGGREGATE"
    assert filter_expr("zeroIsSignificant", "eq", False) == "zeroIsSignificant:eq:false"
    with pytest.raises(ValueError):
        filter_expr("name", "eq")


def test_fields_and_chunks_and_uids():
    assert fields("id", "name", categoryCombo=["id"], dataSetElements="dataElement[id]") == (
        "id,name,categoryCombo[id],dataSetElements[dataElement[id]]"
    )
    assert [len(c) for c in chunked(range(700), 300)] == [300, 300, 100]
    assert list(chunked([], 3)) == []
    assert is_uid("deUid000001") and not is_uid("1eUid000001") and not is_uid("short")
