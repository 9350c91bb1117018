"""The Starlette routes of the emulated Web API (behind middleware.Gatekeeper)."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import schema
from .data_values import ExportError, error_summary, import_data_values, render_csv, render_json, select_data_values
from .faults import FaultInjector
from .fields import QueryError
from .listing import export_metadata, get_one, list_collection, list_deleted
from .metadata_import import ImportRequestError, import_metadata, parse_json_body, parse_params
from .middleware import Gatekeeper
from .registrations import (BadRequest, check_import_params, delete_registrations,
                            import_registrations, registration_response, render,
                            select_registrations)
from .responses import import_report_response, import_summary_response, raw_summary, web_message
from .tasks import JobRunner
from .timeutil import display_name
from .tracker_api import tracker_routes


class DHIS2JSON(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _msg(status: int, message: str, error_code: str | None = None) -> DHIS2JSON:
    return DHIS2JSON(web_message(status, message, error_code), status_code=status)


def _user(request: Request) -> str:
    return request.scope.get("state", {}).get("user") or "admin"


def _base(request: Request) -> str:
    return request.scope.get("state", {}).get("base_url") or str(request.base_url).rstrip("/")


def build_app(state, faults: FaultInjector, jobs: JobRunner) -> Any:
    version = state.version_tuple()

    def job_started(job_type: str, legacy_name: str, job_id: str) -> DHIS2JSON:
        if version >= (2, 41):
            name = f"{job_type} ({int(state.now().timestamp() * 1000)})"
        else:
            name = legacy_name
        response = {"responseType": "JobConfiguration" if version >= (2, 38)
                    else "JobConfigurationWebMessageResponse",
                    "name": name, "id": job_id, "created": state.now_str(), "jobType": job_type,
                    "jobStatus": "SCHEDULED",
                    "relativeNotifierEndpoint": f"/api/system/tasks/{job_type}/{job_id}"}
        return DHIS2JSON(web_message(200, f"Initiated {name}", wm_status="OK", response=response))

    # ------------------------------------------------------------------ system
    async def system_info(request: Request) -> Response:
        # DefaultSystemService#getSystemInfo: serverDate is `new Date()` written zone-less in the
        # JVM zone; the zone is TimeZone#getID and #getDisplayName.
        return DHIS2JSON({
            "contextPath": _base(request), "userAgent": request.headers.get("user-agent", ""),
            "calendar": "iso8601", "dateFormat": "yyyy-mm-dd", "serverDate": state.now_str(),
            "serverTimeZoneId": state.timezone_name,
            "serverTimeZoneDisplayName": display_name(state.timezone_name),
            "version": state.full_version, "revision": "e1m2u3l", "buildTime": "2024-01-01T00:00:00.000",
            "environmentVariable": "DHIS2_HOME", "systemId": state.system_id,
            "systemName": state.system_name, "isMetadataVersionEnabled": False,
            "encryption": False, "emailConfigured": False, "redisEnabled": False,
        })

    async def ping(request: Request) -> Response:
        return Response("pong", media_type="text/plain")

    async def me(request: Request) -> Response:
        username = _user(request)
        with state.lock:
            user = dict(state.store["users"].get(state.user_id(username), {}))
        body = {"id": user.get("id"), "username": username, "name": user.get("name"),
                "displayName": user.get("name"), "firstName": user.get("firstName"),
                "surname": user.get("surname"), "authorities": ["ALL"],
                "organisationUnits": user.get("organisationUnits", []),
                "userRoles": user.get("userRoles", []),
                "userGroups": [{"id": g} for g, o in state.store["userGroups"].items()
                               if {"id": user.get("id")} in (o.get("users") or [])],
                "settings": {"keyUiLocale": "en"}}
        if version < (2, 41):
            body["userCredentials"] = {"username": username, "userRoles": body["userRoles"]}
        return DHIS2JSON(body)

    # ------------------------------------------------------------------ metadata
    async def collection(request: Request) -> Response:
        spec = schema.BY_PLURAL.get(request.path_params["collection"])
        if spec is None:
            return _msg(404, f"Resource `{request.path_params['collection']}` not found")
        try:
            body = await run_in_threadpool(list_collection, state, spec, request.query_params,
                                           _base(request), request.url.path)
        except QueryError as exc:
            return _msg(400, str(exc))
        return DHIS2JSON(body)

    async def one_object(request: Request) -> Response:
        spec = schema.BY_PLURAL.get(request.path_params["collection"])
        uid = request.path_params["uid"]
        if spec is None:
            return _msg(404, f"Resource `{request.path_params['collection']}` not found")
        try:
            body = get_one(state, spec, uid, request.query_params, _base(request))
        except QueryError as exc:
            return _msg(400, str(exc))
        if body is None:
            return _msg(404, f"{spec.singular} with id {uid} could not be found.", "E1005")
        return DHIS2JSON(body)

    async def metadata_get(request: Request) -> Response:
        try:
            body = await run_in_threadpool(export_metadata, state, request.query_params,
                                           _base(request))
        except QueryError as exc:
            return _msg(400, str(exc))
        return DHIS2JSON(body)

    async def metadata_post(request: Request) -> Response:
        raw = await request.body()
        params = dict(request.query_params)
        user = _user(request)
        try:
            parsed = parse_params(params)
            payload = parse_json_body(raw)
            if not isinstance(payload, dict):
                raise ImportRequestError("Metadata payload must be a JSON object")
        except ImportRequestError as exc:
            return _msg(exc.status, exc.message, exc.error_code)
        if parsed["async"]:
            def work() -> tuple[dict, str]:
                report = import_metadata(state, payload, params, user)
                return report, f"Import complete with status {report['status']}"
            job_id = jobs.submit("METADATA_IMPORT", work,
                                 lambda: faults.latency_for("/api/metadata"))
            return job_started("METADATA_IMPORT", "metadataImport", job_id)
        try:
            report = await run_in_threadpool(import_metadata, state, payload, params, user)
        except ImportRequestError as exc:
            return _msg(exc.status, exc.message, exc.error_code)
        status, body = import_report_response(report, version)
        return DHIS2JSON(body, status_code=status)

    async def deleted_objects(request: Request) -> Response:
        try:
            body = list_deleted(state, request.query_params, _base(request), request.url.path)
        except QueryError as exc:
            return _msg(400, str(exc))
        return DHIS2JSON(body)

    # ------------------------------------------------------------------ data values
    async def data_value_sets_get(request: Request) -> Response:
        params = request.query_params
        try:
            export = await run_in_threadpool(select_data_values, state, params)
        except ExportError as exc:
            return _msg(409, exc.message, exc.error_code)
        fmt = request.scope.get("state", {}).get("format", "json")
        if fmt == "csv" or "text/csv" in request.headers.get("accept", ""):
            return Response(await run_in_threadpool(render_csv, export), media_type="text/csv")
        # Streamed row by row like DHIS2's writers (a broken connection leaves truncated JSON).
        return StreamingResponse(render_json(export), media_type="application/json")

    async def data_value_sets_post(request: Request) -> Response:
        raw = await request.body()
        params = dict(request.query_params)
        user = _user(request)
        content_type = request.headers.get("content-type", "application/json")
        if request.scope.get("state", {}).get("format") == "csv":
            content_type = "application/csv"
        if str(params.get("async", "false")).lower() == "true":
            def work() -> tuple[dict, str]:
                try:
                    summary = import_data_values(state, raw, params, user, content_type)
                except ImportRequestError as exc:
                    summary = error_summary(exc.message)
                return raw_summary(summary, version), f"Import done with status {summary['status']}"
            job_id = jobs.submit("DATAVALUE_IMPORT", work,
                                 lambda: faults.latency_for("/api/dataValueSets"))
            return job_started("DATAVALUE_IMPORT", "dataValueImport", job_id)
        try:
            summary = await run_in_threadpool(import_data_values, state, raw, params, user,
                                              content_type)
        except ImportRequestError as exc:
            return _msg(exc.status, exc.message, exc.error_code)
        status, body = import_summary_response(summary, version)
        return DHIS2JSON(body, status_code=status)

    async def registrations_get(request: Request) -> Response:
        try:
            rows = await run_in_threadpool(select_registrations, state, request.query_params)
        except BadRequest as exc:
            return _msg(400, exc.message)
        except ExportError as exc:  # IllegalQueryException → 409 with the E20xx code
            return _msg(409, exc.message, exc.error_code)
        return DHIS2JSON(render(rows))

    async def registrations_post(request: Request) -> Response:
        # CompleteDataSetRegistrationController#postCompleteRegistrationsJson
        raw = await request.body()
        params = dict(request.query_params)
        user = _user(request)
        try:
            check_import_params(params)
        except ImportRequestError as exc:
            return _msg(exc.status, exc.message, exc.error_code)
        if str(params.get("async", "false")).lower() == "true":
            def work() -> tuple[dict, str]:
                summary = import_registrations(state, raw, params, user)
                count = summary["importCount"]
                return summary, (f"Import complete with status {summary['status']}, "
                                 f"{count['imported']} created, {count['updated']} updated, "
                                 f"{count['deleted']} deleted, {count['ignored']} ignored")
            job_id = jobs.submit("COMPLETE_DATA_SET_REGISTRATION_IMPORT", work,
                                 lambda: faults.latency_for("/api/completeDataSetRegistrations"))
            return job_started("COMPLETE_DATA_SET_REGISTRATION_IMPORT",
                               "inMemoryCompleteDataSetRegistrationImport", job_id)
        try:
            summary = await run_in_threadpool(import_registrations, state, raw, params, user)
        except ImportRequestError as exc:
            return _msg(exc.status, exc.message, exc.error_code)
        status, body = registration_response(summary, version)
        return DHIS2JSON(body, status_code=status)

    async def registrations_delete(request: Request) -> Response:
        try:
            await run_in_threadpool(delete_registrations, state, request.query_params)
        except BadRequest as exc:
            return _msg(400, exc.message)
        except ExportError as exc:
            return _msg(409, exc.message, exc.error_code)
        return Response(status_code=204)

    # ------------------------------------------------------------------ tasks
    async def task(request: Request) -> Response:
        p = request.path_params
        return DHIS2JSON(jobs.task(p["job_type"], p["job_id"]))

    async def tasks_of_type(request: Request) -> Response:
        return DHIS2JSON(jobs.tasks_of_type(request.path_params["job_type"]))

    async def task_summary(request: Request) -> Response:
        p = request.path_params
        ready, summary = jobs.summary(p["job_type"], p["job_id"])
        if not ready or summary is None:
            return Response(b"", status_code=200, media_type="application/json")
        return DHIS2JSON(summary)

    # ------------------------------------------------------------------ test control
    async def faults_post(request: Request) -> Response:
        try:
            faults.configure(**(await request.json()))
        except (TypeError, ValueError) as exc:
            return _msg(400, f"Bad fault configuration: {exc}")
        return DHIS2JSON(faults.snapshot())

    async def faults_delete(request: Request) -> Response:
        faults.clear()
        return DHIS2JSON(faults.snapshot())

    async def requests_get(request: Request) -> Response:
        return DHIS2JSON({"requests": [{"method": m, "path": p, "query": q}
                                       for m, p, q in list(state.request_log)]})

    async def requests_delete(request: Request) -> Response:
        state.reset_request_log()
        return DHIS2JSON({"requests": []})

    async def clock_post(request: Request) -> Response:
        """{"seconds": n} moves the clock on; {"at": "<ISO time>"} sets it (zone-less: local)."""
        body = await request.json()
        if "at" in body:
            from datetime import datetime
            try:
                state.set_clock(datetime.fromisoformat(str(body["at"])))
            except ValueError as exc:
                return _msg(400, f"Bad clock time {body['at']!r}: {exc}")
        else:
            state.advance_clock(float(body.get("seconds", 0)))
        return DHIS2JSON({"serverDate": state.now_str()})

    async def not_found(request: Request) -> Response:
        return _msg(404, "Not Found")

    routes = [
        Route("/api/system/info", system_info),
        Route("/api/system/ping", ping),
        Route("/api/me", me),
        Route("/api/metadata", metadata_get, methods=["GET"]),
        Route("/api/metadata", metadata_post, methods=["POST"]),
        Route("/api/deletedObjects", deleted_objects),
        Route("/api/dataValueSets", data_value_sets_get, methods=["GET"]),
        Route("/api/dataValueSets", data_value_sets_post, methods=["POST"]),
        Route("/api/completeDataSetRegistrations", registrations_get, methods=["GET"]),
        Route("/api/completeDataSetRegistrations", registrations_post, methods=["POST"]),
        Route("/api/completeDataSetRegistrations", registrations_delete, methods=["DELETE"]),
        Route("/api/system/tasks/{job_type}/{job_id}", task),
        Route("/api/system/tasks/{job_type}", tasks_of_type),
        Route("/api/system/taskSummaries/{job_type}/{job_id}", task_summary),
        *tracker_routes(state, jobs, faults),  # /api/tracker/… (tracker_api.py)
        Route("/api/{collection}", collection, methods=["GET"]),
        Route("/api/{collection}/{uid}", one_object, methods=["GET"]),
        Route("/__emulator__/faults", faults_post, methods=["POST"]),
        Route("/__emulator__/faults", faults_delete, methods=["DELETE"]),
        Route("/__emulator__/requests", requests_get, methods=["GET"]),
        Route("/__emulator__/requests", requests_delete, methods=["DELETE"]),
        Route("/__emulator__/clock", clock_post, methods=["POST"]),
        Route("/{rest:path}", not_found),
    ]
    return Gatekeeper(Starlette(routes=routes), state, faults)
