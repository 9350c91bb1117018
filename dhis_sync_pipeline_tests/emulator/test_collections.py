"""Reading metadata: pager arithmetic, fields, filters, lastUpdated windows, /api/metadata."""

from __future__ import annotations

import math

import pytest

from dhis_sync_pipeline.emulator.schema import DEFAULT_IDS

from .conftest import Api


@pytest.fixture
def sl(sierra_leone) -> Api:
    return Api(sierra_leone)


@pytest.mark.parametrize("page_size", [1, 7, 50, 77, 100])
def test_pager_arithmetic_and_walking_next_page(sl: Api, page_size: int):
    first = sl.get("dataElements", pageSize=page_size, fields="id").json()
    total = first["pager"]["total"]
    assert total == 77  # 75 + 2 from the setup file
    assert first["pager"]["pageCount"] == math.ceil(total / page_size)
    seen, body = [], first
    while True:
        seen += [d["id"] for d in body["dataElements"]]
        assert len(body["dataElements"]) <= page_size
        if "nextPage" not in body["pager"]:
            break
        body = sl.session.get(body["pager"]["nextPage"]).json()
        assert body["pager"]["prevPage"]
    assert len(seen) == len(set(seen)) == total


def test_paging_false_and_page_past_the_end(sl: Api):
    everything = sl.get("dataElements", paging="false").json()
    assert "pager" not in everything and len(everything["dataElements"]) == 77
    empty = sl.get("dataElements", page=99).json()
    assert empty["dataElements"] == [] and empty["pager"]["page"] == 99


def test_next_page_honours_forwarded_host(sl: Api):
    response = sl.session.get(sl.url("dataElements"), params={"pageSize": 10},
                              headers={"X-Forwarded-Host": "dhis.example.org",
                                       "X-Forwarded-Proto": "https"})
    assert response.json()["pager"]["nextPage"].startswith(
        "https://dhis.example.org/api/dataElements?")


def test_field_presets_and_nesting(sl: Api):
    default = sl.get("dataElements", pageSize=1).json()["dataElements"][0]
    assert set(default) == {"id", "displayName"}
    star = sl.get("dataElements/tpz77FcntKx", fields="*").json()
    assert star["href"].endswith("/api/dataElements/tpz77FcntKx") and star["access"]["read"]
    owner = sl.get("dataElements/tpz77FcntKx", fields=":owner").json()
    assert "href" not in owner and "displayName" not in owner and "access" not in owner
    assert {"created", "lastUpdated", "lastUpdatedBy", "categoryCombo", "valueType"} <= set(owner)
    assert owner["categoryCombo"] == {"id": "bjDvmb4bfuf"}
    nested = sl.get("dataSets/VEM58nY22sO",
                    fields="id,dataSetElements[dataElement[id,name]],!nothing").json()
    assert set(nested) == {"id", "dataSetElements"}
    assert nested["dataSetElements"][0]["dataElement"].keys() == {"id", "name"}
    excluded = sl.get("dataElements/tpz77FcntKx", fields=":all,!sharing,!href").json()
    assert "sharing" not in excluded and "href" not in excluded and "name" in excluded
    ident = sl.get("dataElements/tpz77FcntKx", fields=":identifiable").json()
    assert set(ident) <= {"id", "code", "name", "created", "lastUpdated", "lastUpdatedBy",
                          "createdBy", "href", "displayName"} and "valueType" not in ident
    nameable = sl.get("dataElements/tpz77FcntKx", fields=":nameable").json()
    assert "shortName" in nameable and "valueType" not in nameable


def test_owner_fields_round_trip_into_another_server(sl: Api, make_server):
    exported = sl.get("metadata", dataElements="true", categoryCombos="true",
                      categories="true", categoryOptions="true", optionSets="true",
                      options="true", legendSets="true", categoryOptionCombos="true",
                      organisationUnits="true",
                      defaults="EXCLUDE").json()
    assert not any(o["id"] in DEFAULT_IDS for o in exported["categoryCombos"])
    assert exported["system"]["version"] == "2.40.3"
    target = Api(make_server(version="2.41"))
    response = target.post("metadata", {k: v for k, v in exported.items() if k != "system"})
    assert response.status_code == 200, response.text[:1500]


@pytest.mark.parametrize("flt,expected", [
    ("id:eq:tpz77FcntKx", {"tpz77FcntKx"}),
    ("code:in:[TA_GEN_EXT_FUND,TA_DATE_AND_TIME_DE AGGREGATE]", {"tpz77FcntKx", "vbZ5LGNfGET"}),
    ("name:ilike:external funding", {"tpz77FcntKx"}),
    ("name:like:External", {"tpz77FcntKx"}),
    ("name:like:external", set()),
    ("name:$like:TA External", {"tpz77FcntKx"}),
    ("name:like$:External funding", {"tpz77FcntKx"}),
    ("name:token:ta external funding", {"tpz77FcntKx"}),
    ("optionSet:!null", {"vbZ5LGNfGyy"}),
    ("optionSet.id:eq:ZGkmoWb77MW", {"vbZ5LGNfGyy"}),
    ("categoryCombo.name:eq:TA Age (malaria)", None),
])
def test_filters(sl: Api, flt: str, expected):
    found = {d["id"] for d in sl.get("dataElements", filter=flt, paging="false").json()["dataElements"]}
    if expected is None:
        assert found and all(
            sl.get(f"dataElements/{uid}", fields="categoryCombo").json()["categoryCombo"]["id"]
            == "BwnnrV1AkNj" for uid in found)
    else:
        assert found == expected


def test_filters_and_or_negation_and_errors(sl: Api):
    both = sl.get("dataElements", filter=["valueType:eq:BOOLEAN", "name:ilike:date"],
                  paging="false").json()["dataElements"]
    assert [d["id"] for d in both] == ["vbZ5LGNfGET"]
    either = sl.get("dataElements", filter=["id:eq:tpz77FcntKx", "id:eq:vbZ5LGNfGET"],
                    rootJunction="OR", paging="false").json()["dataElements"]
    assert len(either) == 2
    not_text = sl.get("dataElements", filter="valueType:!eq:INTEGER_ZERO_OR_POSITIVE",
                      paging="false").json()["dataElements"]
    assert 0 < len(not_text) < 77
    assert sl.get("organisationUnits", filter="parent.id:eq:YuQRtpLP10I").json()["pager"]["total"] == 2
    assert sl.get("organisationUnits", filter="parent:null").json()["pager"]["total"] == 1
    assert sl.get("categories", filter="categoryOptions:empty").json()["pager"]["total"] == 1
    assert sl.get("dataElements", filter="name:wat:x").status_code == 400
    assert sl.get("dataElements", filter="noSuchProperty:eq:x").status_code == 400


def test_last_updated_filter_follows_the_server_clock(sl: Api, sierra_leone):
    state = sierra_leone.state
    state.advance_clock(3600)
    mark = state.now_str()
    assert sl.get("dataElements", filter=f"lastUpdated:gt:{mark}").json()["pager"]["total"] == 0
    state.advance_clock(1)
    state.update_object("dataElements", "tpz77FcntKx", {"description": "changed"})
    changed = sl.get("dataElements", filter=f"lastUpdated:gt:{mark}").json()["dataElements"]
    assert [d["id"] for d in changed] == ["tpz77FcntKx"]
    for form in (mark[:19], mark[:10]):
        assert sl.get("dataElements", filter=f"lastUpdated:ge:{form}").json()["pager"]["total"] >= 1
    system = sl.get("system/info").json()
    assert system["serverDate"] >= mark


def test_metadata_export_filters_per_type_and_all_types(sl: Api):
    body = sl.get("metadata", dataElements="true", **{"dataElements:fields": "id,name",
                                                      "dataElements:filter": "id:in:[tpz77FcntKx]"}).json()
    assert set(body) == {"system", "dataElements"}
    assert body["dataElements"] == [{"id": "tpz77FcntKx", "name": "TA External funding"}]
    everything = sl.get("metadata").json()
    assert {"organisationUnits", "dataSets", "indicators", "users", "categoryOptionCombos"} <= set(everything)


def test_unknown_object_is_e1005_and_long_urls_are_414(sl: Api):
    missing = sl.get("dataElements/abcdefghijk")
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "E1005"
    assert missing.json()["message"] == "DataElement with id abcdefghijk could not be found."
    ids = ",".join(f"a{i:010d}" for i in range(800))
    assert sl.get("dataElements", filter=f"id:in:[{ids}]").status_code == 414
