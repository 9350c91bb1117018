"""Every import answer shape in DHIS2_API.md goes through the one parser."""

from __future__ import annotations

import json

import pytest

from dhis_sync_pipeline.dhis2 import ImportResult, ObjectError, parse_import_response

DE = "org.hisp.dhis.dataelement.DataElement"

METADATA_ERRORS_REPORT = {
    "status": "ERROR",
    "stats": {"created": 0, "updated": 0, "deleted": 0, "ignored": 2, "total": 2},
    "typeReports": [
        {
            "klass": DE,
            "stats": {"created": 0, "updated": 0, "deleted": 0, "ignored": 2, "total": 2},
            "objectReports": [
                {
                    "klass": DE,
                    "index": 0,
                    "uid": "deUid000001",
                    "errorReports": [
                        {
                            "message": "Invalid reference [ccUid000001] (CategoryCombo) on object deUid000001",
                            "mainKlass": DE,
                            "mainId": "deUid000001",
                            "errorKlass": "org.hisp.dhis.category.CategoryCombo",
                            "errorProperty": "categoryCombo",
                            "errorCode": "E5002",
                            "args": ["ccUid000001"],
                        }
                    ],
                },
                {
                    "klass": DE,
                    "index": 1,
                    "uid": "deUid000002",
                    "errorReports": [
                        {
                            "message": "Property `code` with value `DE_A` on object ... already exists",
                            "mainKlass": DE,
                            "errorProperty": "code",
                            "errorCode": "E5003",
                        },
                        {
                            "message": "Missing required property `shortName`.",
                            "mainKlass": DE,
                            "mainId": "deUid000002",
                            "errorProperty": "shortName",
                            "errorCode": "E4000",
                        },
                    ],
                },
            ],
        }
    ],
}


def wrap(report: dict, http_status: int, status: str, message: str | None = None) -> dict:
    """A ≥2.38 WebMessage around a report, as DHIS2 serialises it (nulls left out)."""
    body = {
        "httpStatus": {200: "OK", 201: "Created", 409: "Conflict"}[http_status],
        "httpStatusCode": http_status,
        "status": status,
        "response": report,
    }
    if message:
        body["message"] = message
    return body


# --- metadata ImportReport ---------------------------------------------------------------------


def test_plain_import_report_ok_237():
    body = {
        "status": "OK",
        "stats": {"created": 3, "updated": 1, "deleted": 0, "ignored": 0, "total": 4},
        "typeReports": [
            {"klass": DE, "stats": {"created": 2, "updated": 1, "deleted": 0, "ignored": 0, "total": 3},
             "objectReports": [{"klass": DE, "index": 0, "uid": "deUid000001"}]},
            {"klass": "org.hisp.dhis.dataset.DataSet",
             "stats": {"created": 1, "updated": 0, "deleted": 0, "ignored": 0, "total": 1}},
        ],
    }
    result = parse_import_response(body, 200)
    assert (result.status, result.created, result.updated, result.deleted, result.ignored, result.total) == (
        "OK", 3, 1, 0, 0, 4)
    assert result.ok and not result.has_errors and result.errors == []
    assert result.raw is body


def test_plain_import_report_with_error_reports():
    result = parse_import_response(METADATA_ERRORS_REPORT, 200)
    assert result.status == "ERROR" and not result.ok and result.has_errors
    assert result.ignored == 2 and result.total == 2
    assert result.errors[0] == ObjectError(
        uid="deUid000001",
        object_type="DataElement",
        error_code="E5002",
        property="categoryCombo",
        message="Invalid reference [ccUid000001] (CategoryCombo) on object deUid000001",
        indexes=(0,),
        value_key=None,
    )
    # no mainId: the objectReport's uid is used
    assert [(e.uid, e.error_code, e.property, e.indexes) for e in result.errors[1:]] == [
        ("deUid000002", "E5003", "code", (1,)),
        ("deUid000002", "E4000", "shortName", (1,)),
    ]
    assert sorted({e.error_code for e in result.errors}) == ["E4000", "E5002", "E5003"]


def test_wrapped_import_report_409_warning_atomic_none():
    report = json.loads(json.dumps(METADATA_ERRORS_REPORT))
    report.update(responseType="ImportReport", status="WARNING",
                  stats={"created": 5, "updated": 0, "deleted": 0, "ignored": 2, "total": 7})
    body = wrap(report, 409, "WARNING", "One or more errors occurred, please see full details in import report.")
    result = parse_import_response(body, 409)
    assert result.status == "WARNING" and not result.ok
    assert (result.created, result.ignored, result.total) == (5, 2, 7)
    assert len(result.errors) == 3 and result.errors[0].object_type == "DataElement"
    assert result.message.startswith("One or more errors occurred")


def test_wrapped_import_report_error_atomic_all_keeps_report_status():
    report = dict(METADATA_ERRORS_REPORT, responseType="ImportReport")
    body = wrap(report, 409, "WARNING", "One or more errors occurred, please see full details in import report.")
    result = parse_import_response(body, 409)
    assert result.status == "ERROR"  # the report's own status is the precise one
    assert result.created == 0 and result.ignored == 2 and len(result.errors) == 3


def test_wrapped_import_report_ok_238():
    report = {"responseType": "ImportReport", "status": "OK",
              "stats": {"created": 0, "updated": 2, "deleted": 0, "ignored": 0, "total": 2},
              "typeReports": []}
    result = parse_import_response(wrap(report, 200, "OK"), 200)
    assert result.ok and result.updated == 2


def test_type_reports_order_does_not_matter_and_missing_stats_are_zero():
    body = {"status": "WARNING", "typeReports": [
        {"klass": "org.hisp.dhis.organisationunit.OrganisationUnit", "objectReports": [
            {"index": 3, "uid": "ouUid000001", "errorReports": [
                {"errorCode": "E4030", "message": "Object could not be deleted because it is associated"}]}]}]}
    result = parse_import_response(body, 200)
    assert result.status == "WARNING" and result.total == 0
    assert result.errors == [ObjectError("ouUid000001", "OrganisationUnit", "E4030", None,
                                         "Object could not be deleted because it is associated", (3,))]


# --- data value ImportSummary ------------------------------------------------------------------


def test_plain_import_summary_236_conflicts_object_value_only():
    body = {
        "responseType": "ImportSummary",
        "status": "WARNING",
        "description": "Import process completed successfully",
        "importCount": {"imported": 2, "updated": 1, "ignored": 1, "deleted": 0},
        "conflicts": [{"object": "xxxxxxxxxxx", "value": "Data element not found or not accessible"}],
        "dataSetComplete": "false",
    }
    result = parse_import_response(body, 200)
    assert (result.status, result.created, result.updated, result.ignored, result.total) == ("WARNING", 2, 1, 1, 4)
    assert result.errors == [ObjectError("xxxxxxxxxxx", None, None, None, "Data element not found or not accessible")]
    assert result.message == "Import process completed successfully"
    assert not result.ok


SUMMARY_WARNING = {
    "responseType": "ImportSummary",
    "status": "WARNING",
    "description": "Import process completed successfully",
    "importCount": {"imported": 2, "updated": 0, "ignored": 1, "deleted": 0},
    "conflicts": [
        {
            "object": "xxxxxxxxxxx",
            "objects": {"dataElement": "xxxxxxxxxxx"},
            "value": "Data element not found or not accessible: `xxxxxxxxxxx`",
            "errorCode": "E7610",
            "property": "dataElement",
            "indexes": [2],
        }
    ],
    "rejectedIndexes": [2],
    "dataSetComplete": "false",
}


@pytest.mark.parametrize("http_status", [409, 200], ids=["2.38-2.42: 409", "2.43: 200"])
def test_wrapped_import_summary_warning(http_status):
    body = wrap(SUMMARY_WARNING, http_status, "WARNING", "Import complete with some errors.")
    result = parse_import_response(body, http_status)
    assert result.status == "WARNING" and not result.ok and result.has_errors
    assert (result.created, result.ignored, result.total) == (2, 1, 3)
    (error,) = result.errors
    assert error == ObjectError(
        uid="xxxxxxxxxxx",
        object_type="dataElement",
        error_code="E7610",
        property="dataElement",
        message="Data element not found or not accessible: `xxxxxxxxxxx`",
        indexes=(2,),
        value_key={"dataElement": "xxxxxxxxxxx"},
    )


def test_wrapped_import_summary_success_and_error():
    success = dict(SUMMARY_WARNING, status="SUCCESS", conflicts=[], rejectedIndexes=[],
                   importCount={"imported": 3, "updated": 0, "ignored": 0, "deleted": 0})
    result = parse_import_response(wrap(success, 200, "OK", "Import was successful."), 200)
    assert result.ok and result.status == "SUCCESS" and result.created == 3

    error = dict(SUMMARY_WARNING, status="ERROR", description="The import process failed: no dataValues",
                 importCount={"imported": 0, "updated": 0, "ignored": 0, "deleted": 0})
    result = parse_import_response(wrap(error, 409, "ERROR", "An error occurred"), 409)
    assert result.status == "ERROR" and not result.ok
    assert result.message == "The import process failed: no dataValues"


def test_object_errors_are_hashable():
    errors = parse_import_response(SUMMARY_WARNING, 200).errors + parse_import_response(METADATA_ERRORS_REPORT, 200).errors
    assert len(set(errors)) == 4


def test_conflict_object_type_falls_back_to_property():
    body = dict(SUMMARY_WARNING, conflicts=[{"object": "201913", "value": "Period not valid", "errorCode": "E7622",
                                             "property": "period", "indexes": [0, 4]}])
    (error,) = parse_import_response(body, 200).errors
    assert error.object_type == "period" and error.indexes == (0, 4) and error.value_key is None


# --- other shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, "", b"", {}, "   "])
def test_empty_body_on_200_is_not_success(body):
    result = parse_import_response(body, 200)
    assert result.status == "ERROR" and not result.ok
    assert "no import report" in result.message


@pytest.mark.parametrize("http_status", [201, 204])
def test_empty_body_on_201_or_204_is_success(http_status):
    assert parse_import_response(None, http_status).ok


def test_empty_body_on_500_is_error():
    assert parse_import_response(b"", 500).status == "ERROR"


def test_object_report_created():
    body = {"httpStatus": "Created", "httpStatusCode": 201, "status": "OK",
            "response": {"responseType": "ObjectReport", "uid": "IpegnnJjUQN", "klass": DE, "errorReports": []}}
    result = parse_import_response(body, 201)
    assert result.ok and result.created == 1 and result.total == 1


def test_object_report_with_errors():
    body = {"httpStatus": "Conflict", "httpStatusCode": 409, "status": "ERROR",
            "message": "One or more errors occurred, please see full details in import report.",
            "response": {"responseType": "ObjectReport", "uid": "IpegnnJjUQN", "klass": DE, "errorReports": [
                {"message": "Missing required property `name`.", "mainKlass": DE, "errorProperty": "name",
                 "errorCode": "E4000"}]}}
    result = parse_import_response(body, 409)
    assert result.status == "ERROR" and result.ignored == 1
    assert result.errors == [ObjectError("IpegnnJjUQN", "DataElement", "E4000", "name",
                                         "Missing required property `name`.")]


def test_error_reports_response():
    body = {"httpStatus": "Conflict", "httpStatusCode": 409, "status": "ERROR",
            "response": {"responseType": "ErrorReports", "errorReports": [
                {"message": "Invalid reference", "mainKlass": DE, "mainId": "deUid000001", "errorCode": "E5002"}]}}
    result = parse_import_response(body, 409)
    assert result.status == "ERROR" and result.errors[0].uid == "deUid000001"
    assert result.errors[0].object_type == "DataElement"


def test_bare_webmessage_error_no_content():
    body = {"httpStatus": "Conflict", "httpStatusCode": 409, "status": "ERROR",
            "message": "No content to map due to end-of-input"}
    result = parse_import_response(body, 409)
    assert result.status == "ERROR" and result.message == "No content to map due to end-of-input"
    assert not result.ok and result.has_errors


def test_bare_webmessage_ok():
    assert parse_import_response({"httpStatus": "OK", "httpStatusCode": 200, "status": "OK"}, 200).ok


def test_unknown_dict_is_never_success():
    assert not parse_import_response({"something": "else"}, 200).ok


def test_json_text_and_bytes_are_decoded():
    text = json.dumps(wrap(SUMMARY_WARNING, 409, "WARNING"))
    assert parse_import_response(text, 409).errors[0].error_code == "E7610"
    assert parse_import_response(text.encode(), 409).errors[0].error_code == "E7610"


def test_html_body_is_an_error_not_a_crash():
    result = parse_import_response("<html>Bad gateway</html>", 502)
    assert result.status == "ERROR" and "not JSON" in result.message


def test_job_configuration_is_pending_not_success():
    body = {"httpStatus": "OK", "httpStatusCode": 200, "status": "OK", "message": "Initiated dataValueImport",
            "response": {"responseType": "JobConfiguration", "id": "YR1UxOUXmzT", "jobType": "DATAVALUE_IMPORT",
                         "relativeNotifierEndpoint": "/api/system/tasks/DATAVALUE_IMPORT/YR1UxOUXmzT"}}
    result = parse_import_response(body, 200)
    assert result.status == "PENDING" and not result.ok


def test_legacy_import_summaries():
    body = {"responseType": "ImportSummaries", "status": "WARNING", "imported": 1, "updated": 0, "deleted": 0,
            "ignored": 1, "importSummaries": [
                {"responseType": "ImportSummary", "status": "SUCCESS", "reference": "evUid000001"},
                {"responseType": "ImportSummary", "status": "ERROR", "reference": "evUid000002",
                 "description": "Event.orgUnit does not point to a valid organisation unit"}]}
    result = parse_import_response(body, 200)
    assert (result.created, result.ignored) == (1, 1)
    assert result.errors[0].uid == "evUid000002"


def test_tracker_import_report():
    body = {"status": "ERROR", "stats": {"created": 0, "updated": 0, "deleted": 0, "ignored": 1, "total": 1},
            "validationReport": {"errorReports": [
                {"message": "Could not find OrganisationUnit", "errorCode": "E1049", "trackerType": "EVENT",
                 "uid": "evUid000001"}], "warningReports": []}}
    result = parse_import_response(body, 409)
    assert result.status == "ERROR" and result.errors == [
        ObjectError("evUid000001", "EVENT", "E1049", None, "Could not find OrganisationUnit")]


# --- java-client fixtures (hand-written responseTypes: robustness, not truth) --------------------


def test_fixture_objects_response(fixtures_dir):
    body = json.loads((fixtures_dir / "responses" / "objects-response.json").read_text())
    result = parse_import_response(body, 200)
    assert result.ok and result.created == 2 and result.total == 2 and result.errors == []


def test_fixture_object_response(fixtures_dir):
    raw = (fixtures_dir / "responses" / "object-response.json").read_bytes()
    result = parse_import_response(raw, 201)
    assert result.ok and result.created == 1


# --- helpers -----------------------------------------------------------------------------------


def test_combine_takes_worst_status_and_sums():
    ok = ImportResult("OK", created=2, total=2)
    warning = parse_import_response(wrap(SUMMARY_WARNING, 409, "WARNING"), 409)
    combined = ImportResult.combine([ok, warning])
    assert combined.status == "WARNING" and combined.created == 4 and combined.total == 5
    assert len(combined.errors) == 1 and not combined.ok
    assert ImportResult.combine([]).ok


def test_summary_and_error_str():
    result = parse_import_response(METADATA_ERRORS_REPORT, 200)
    assert result.summary() == "ERROR: created 0, updated 0, deleted 0, ignored 2, 3 error(s)"
    assert str(result.errors[0]).startswith("E5002 DataElement deUid000001 [categoryCombo]: Invalid reference")


def test_a_failed_import_naming_no_object_still_counts_as_one_rejection():
    body = {"httpStatus": "Conflict", "httpStatusCode": 409, "status": "ERROR",
            "message": "No content to map due to end-of-input"}
    [rejection] = parse_import_response(body, 409).rejections("DataValueSet")
    assert rejection.object_type == "DataValueSet"
    assert "No content to map" in rejection.message
    ok = {"status": "OK", "stats": {"created": 1, "updated": 0, "deleted": 0, "ignored": 0, "total": 1}}
    assert parse_import_response(ok, 200).rejections("DataElement") == []
