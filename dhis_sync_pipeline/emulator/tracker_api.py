"""The routes of `/api/tracker`: export of the four kinds, import, and async import jobs.

Export (TrackerTrackedEntities-/Events-/Enrollments-/RelationshipsExportController up to 2.40,
TrackedEntities-/Events-/Enrollments-/RelationshipsExportController from 2.41):
- Paging by page number only (`page`, `pageSize`, default 50); `totalPages=true` adds `total`
  and `pageCount`, otherwise there is none. 2.38–2.40 answer with PagingWrapper: `instances` and
  the pager's fields unwrapped at the top, no `nextPage`. 2.41 (view.Page, deprecated withPager)
  has `pager` and the same fields at the top as well, still without links. 2.42+ (view.Page with
  the request URL) has only `pager`, with `nextPage`/`prevPage` links when there is such a page
  (DHIS2 reads pageSize + 1 rows to know). Unpaged: `skipPaging=true` (≤ 2.41) or `paging=false`
  (2.41+).
- Org units: 2.38–2.40 take `orgUnit` (`;`-separated for tracked entities and enrollments) and
  `ouMode`; `orgUnits`/`orgUnitMode` are unknown there and ignored, as Spring ignores any unknown
  parameter. 2.41 takes both spellings, both modes at once is 400. 2.42+ take `orgUnits` (TEs,
  enrollments) or `orgUnit` (events) with `orgUnitMode`, and silently ignore `ouMode` and the TE
  `orgUnit`. A mode that needs org units without any is 400 (stricter). With a program, a tracked
  entity's org unit is its owner's in that program (TrackedEntityProgramOwner), as DHIS2 filters.
- Events: `occurredAfter`/`occurredBefore` (inclusive, whole days).
- `updatedAfter` (zone-less = server-local; `updatedAt >= updatedAfter`), `includeDeleted`.
  A TE query needs `program`, `trackedEntityType` or `trackedEntities` (400). 2.43: `program` is
  required for events and enrollments (400).
- `fields`: top-level names, `*` and `!name`; defaults per controller (TEs without relationships,
  enrollments, programOwners; events without relationships; enrollments without attributes).
  Rows come in creation order.
Import (TrackerImportController): `async` defaults to true and answers "Tracker job added" with
a TrackerJob response; `GET /api/tracker/jobs/{uid}` lists the job's notifications, newest first;
`/report` is 404 until the job is done. `async=false` answers the ImportReport, 409 when ERROR.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .responses import web_message
from .timeutil import format_ts, parse_dhis2_date
from .tracker_import import TrackerRequestError, import_tracker
from .tracker_store import ID_FIELD, store_of

JOB_TYPE = "TRACKER_IMPORT_JOB"
DEFAULT_PAGE_SIZE = 50
DEFAULT_EXCLUDED = {"trackedEntities": {"relationships", "enrollments", "events", "programOwners"},
                    "events": {"relationships"}, "enrollments": {"relationships", "events", "attributes"},
                    "relationships": set()}
NEEDS_UNITS = ("SELECTED", "CHILDREN", "DESCENDANTS")


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(), status_code=status,
                    media_type="application/json")


def _msg(status: int, message: str) -> Response:
    return _json(web_message(status, message), status)


class BadQuery(Exception):
    pass


def _flag(params, name: str) -> bool | None:
    value = params.get(name)
    return None if value is None else value.lower() == "true"


def _fields(text: str | None, kind: str) -> tuple[bool, set[str], set[str]]:
    """(star, included, excluded) from a `fields` parameter (top level only, brackets skipped)."""
    if text is None:
        return True, set(), set(DEFAULT_EXCLUDED[kind])
    names, depth, current = [], 0, ""
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            names.append(current)
            current = ""
        else:
            current += char
    names.append(current)
    names = [n.split("[")[0].strip() for n in names if n.strip()]
    star = "*" in names or ":all" in names
    excluded = {n[1:] for n in names if n.startswith("!")}
    included = {n for n in names if n not in ("*", ":all") and not n.startswith("!")}
    if star:
        excluded |= DEFAULT_EXCLUDED[kind] - included
    return star, included, excluded


class Exporter:
    def __init__(self, state) -> None:
        self.state = state
        self.version = state.version_tuple()

    # ------------------------------------------------------------------ parameters per version
    def org_units(self, params, kind: str) -> tuple[list[str], str | None]:
        v = self.version
        single = kind == "events"
        old_units = [u for u in (params.get("orgUnit") or "").split(";") if u]
        new_units = [u for raw in params.getlist("orgUnits") for u in raw.split(",") if u]
        if v < (2, 41):
            units, mode = old_units, params.get("ouMode")
        elif v < (2, 42):
            if params.get("ouMode") and params.get("orgUnitMode"):
                raise BadQuery("Only one parameter of 'ouMode' and 'orgUnitMode' must be specified. "
                               "Prefer 'orgUnitMode' as 'ouMode' will be removed.")
            units = new_units or old_units
            mode = params.get("orgUnitMode") or params.get("ouMode")
        else:
            units = old_units if single else new_units  # 2.42 ignores ouMode and the TE orgUnit
            mode = params.get("orgUnitMode")
        if single and len(units) > 1:
            raise BadQuery("Only one orgUnit can be given for events")
        mode = (mode or ("SELECTED" if units else "ACCESSIBLE")).upper()
        if mode in NEEDS_UNITS and not units:
            raise BadQuery(f"At least one org unit is required for orgUnitMode: {mode}. Please add "
                           "an orgUnit or use a different orgUnitMode.")
        return units, mode

    def unit_filter(self, units: list[str], mode: str):
        if mode in ("ALL", "ACCESSIBLE", "CAPTURE"):
            return lambda uid: True
        with self.state.lock:
            ous = self.state.store["organisationUnits"]
            for unit in units:
                if unit not in ous:
                    raise BadQuery(f"Organisation unit does not exist: {unit}")
            paths = {u: ous[u].get("path", "/" + u) for u in units}
            if mode == "SELECTED":
                allowed = set(units)
            elif mode == "CHILDREN":
                allowed = set(units) | {c for u in units for c in self.state.children_map().get(u, [])}
            else:
                allowed = {uid for uid, o in ous.items()
                           if any(o.get("path", "").startswith(paths[u]) for u in units)}
        return allowed.__contains__

    # ------------------------------------------------------------------ selection
    def select(self, kind: str, params) -> list[dict]:
        include_deleted = _flag(params, "includeDeleted") or False
        since = None
        if params.get("updatedAfter"):
            parsed = parse_dhis2_date(params["updatedAfter"], self.state.tz)
            if parsed is None:
                raise BadQuery(f"Invalid date `{params['updatedAfter']}` for parameter updatedAfter")
            since = format_ts(parsed)
        occurred = [format_ts(parse_dhis2_date(params[n], self.state.tz) or _bad(n, params[n]))
                    if params.get(n) else None for n in ("occurredAfter", "occurredBefore")]
        program = params.get("program")
        if self.version >= (2, 43) and kind in ("events", "enrollments") and not program:
            raise BadQuery("Program is mandatory")
        with self.state.lock:
            store = store_of(self.state)
            if program and program not in self.state.store["programs"]:
                raise BadQuery(f"Program is specified but does not exist: {program}")
            if kind == "relationships":
                return self._relationships(store, params, include_deleted)
            units, mode = self.org_units(params, kind)
            in_scope = self.unit_filter(units, mode)
            if kind == "trackedEntities":
                wanted = {t for raw in params.getlist("trackedEntities") for t in raw.split(",") if t}
                te_type = params.get("trackedEntityType")
                if not (program or te_type or wanted):
                    raise BadQuery("Either `program`, `trackedEntityType` or `trackedEntities` should be specified")
                enrolled = None
                if program:
                    enrolled = {e["trackedEntity"] for e in store.objects["enrollments"].values()
                                if e["program"] == program and (include_deleted or not e.get("deleted"))}
                rows = []
                for te in store.objects["trackedEntities"].values():
                    uid = te["trackedEntity"]
                    if enrolled is not None and uid not in enrolled:
                        continue
                    if te_type and te["trackedEntityType"] != te_type or wanted and uid not in wanted:
                        continue
                    unit = store.owners.get((uid, program), te["orgUnit"]) if program else te["orgUnit"]
                    if self._keep(te, include_deleted, since) and in_scope(unit):
                        rows.append(te)
                return rows
            rows = []
            for obj in store.objects[kind].values():
                if program and obj.get("program") != program:
                    continue
                if kind == "events" and params.get("trackedEntity"):
                    if self._te_of_event(store, obj) != params["trackedEntity"]:
                        continue
                if kind == "events" and not _within(obj.get("occurredAt"), *occurred):
                    continue
                if self._keep(obj, include_deleted, since) and in_scope(obj["orgUnit"]):
                    rows.append(obj)
            return rows

    @staticmethod
    def _keep(obj: dict, include_deleted: bool, since: str | None) -> bool:
        return (include_deleted or not obj.get("deleted")) and (since is None or obj["updatedAt"] >= since)

    @staticmethod
    def _te_of_event(store, event: dict) -> str | None:
        enrollment = store.get("enrollments", event.get("enrollment") or "")
        return enrollment["trackedEntity"] if enrollment else None

    def _relationships(self, store, params, include_deleted: bool) -> list[dict]:
        for name in ("trackedEntity", "enrollment", "event"):
            target = params.get(name)
            if target:
                return [r for r in store.objects["relationships"].values()
                        if (include_deleted or not r.get("deleted"))
                        and any((r[s].get(name) or {}).get(name) == target for s in ("from", "to"))]
        raise BadQuery("Missing required parameter 'trackedEntity', 'enrollment' or 'event'.")

    # ------------------------------------------------------------------ rendering
    def render(self, kind: str, obj: dict, params) -> dict:
        star, included, excluded = _fields(params.get("fields"), kind)
        store = store_of(self.state)
        out = {k: v for k, v in obj.items() if (star or k in included) and k not in excluded}
        if kind == "events" and (star or "trackedEntity" in included) and obj.get("enrollment"):
            out["trackedEntity"] = self._te_of_event(store, obj)
        include_deleted = _flag(params, "includeDeleted") or False
        uid = obj[ID_FIELD[kind]]
        if kind == "trackedEntities":
            if "relationships" in included:
                out["relationships"] = [
                    dict(r) for r in store.objects["relationships"].values()
                    if (include_deleted or not r.get("deleted"))
                    and any((r[s].get("trackedEntity") or {}).get("trackedEntity") == uid for s in ("from", "to"))]
            if "programOwners" in included:
                out["programOwners"] = [{"orgUnit": unit, "trackedEntity": te, "program": program}
                                        for (te, program), unit in store.owners.items() if te == uid]
            if "enrollments" in included:
                out["enrollments"] = [self.render("enrollments", e, {}) for e in store.objects["enrollments"].values()
                                      if e["trackedEntity"] == uid and (include_deleted or not e.get("deleted"))]
        return out

    def page(self, kind: str, params, url: str) -> dict:
        rows = self.select(kind, params)
        key = "instances" if self.version < (2, 41) else kind
        paging_off = (_flag(params, "skipPaging") if self.version < (2, 42) else None) or \
            (_flag(params, "paging") is False if self.version >= (2, 41) else False)
        with self.state.lock:
            if paging_off:
                return {key: [self.render(kind, o, params) for o in rows]}
            try:
                page = max(1, int(params.get("page") or 1))
                size = int(params.get("pageSize") or DEFAULT_PAGE_SIZE)
            except ValueError:
                raise BadQuery("page and pageSize must be numbers") from None
            if size < 1:
                raise BadQuery("pageSize must be greater than or equal to 1")
            chunk = rows[(page - 1) * size: page * size]
            items = [self.render(kind, o, params) for o in chunk]
        pager: dict[str, Any] = {"page": page, "pageSize": size}
        if _flag(params, "totalPages"):
            pager["total"] = len(rows)
            pager["pageCount"] = -(-len(rows) // size)
        if self.version < (2, 41):
            return {**pager, key: items}
        if self.version < (2, 42):
            return {"pager": dict(pager), **pager, key: items}
        if page > 1:
            pager["prevPage"] = _link(url, params, page - 1)
        if len(rows) > page * size:
            pager["nextPage"] = _link(url, params, page + 1)
        return {"pager": pager, key: items}


def _bad(name: str, value: str):
    raise BadQuery(f"Invalid date `{value}` for parameter {name}")


def _within(occurred: str | None, after: str | None, before: str | None) -> bool:
    """occurredAfter/occurredBefore: inclusive; a date-only bound covers its whole day (EndDateTime)."""
    value = str(occurred or "")[:23]
    if after and value < after:
        return False
    if before and value[:10] > before[:10]:
        return False
    return True


def _link(url: str, params, page: int) -> str:
    query = [(k, v) for k, v in params.multi_items() if k != "page"] + [("page", str(page))]
    return f"{url}?{urlencode(query)}"


def tracker_routes(state, jobs, faults) -> list[Route]:
    exporter = Exporter(state)

    def base(request: Request) -> str:
        return request.scope.get("state", {}).get("base_url") or str(request.base_url).rstrip("/")

    def export(kind: str):
        async def handler(request: Request) -> Response:
            try:
                body = await run_in_threadpool(exporter.page, kind, request.query_params,
                                               base(request) + request.url.path)
            except BadQuery as exc:
                return _msg(400, str(exc))
            return _json(body)
        return handler

    async def post(request: Request) -> Response:
        raw = await request.body()
        params = dict(request.query_params)
        try:
            payload = json.loads(raw) if raw.strip() else None
        except ValueError as exc:
            return _msg(400, f"JSON parse error: {exc}")
        if not isinstance(payload, dict):
            return _msg(400, "Required request body is missing")
        if str(params.get("async", "true")).lower() != "false":
            def work() -> tuple[dict, str]:
                report = import_tracker(state, payload, params)
                return report, f"Import complete with status {report['status']}"
            try:
                from .tracker_import import parse_params
                parse_params(params)
            except TrackerRequestError as exc:
                return _msg(exc.status, exc.message)
            job_id = jobs.submit(JOB_TYPE, work, lambda: faults.latency_for("/api/tracker"))
            location = f"{base(request)}/api/tracker/jobs/{job_id}"
            return _json(web_message(200, "Tracker job added", wm_status="OK",
                                     response={"responseType": "TrackerJob", "id": job_id,
                                               "location": location}))
        try:
            report = await run_in_threadpool(import_tracker, state, payload, params)
        except TrackerRequestError as exc:
            return _msg(exc.status, exc.message)
        return _json(report, 409 if report["status"] == "ERROR" else 200)

    async def job(request: Request) -> Response:
        return _json(jobs.task(JOB_TYPE, request.path_params["uid"]))

    async def job_report(request: Request) -> Response:
        uid = request.path_params["uid"]
        ready, report = jobs.summary(JOB_TYPE, uid)
        if not ready or report is None:
            return _msg(404, f"Summary for job {uid} does not exist")
        return _json(report)

    return [
        Route("/api/tracker", post, methods=["POST"]),
        Route("/api/tracker/jobs/{uid}", job, methods=["GET"]),
        Route("/api/tracker/jobs/{uid}/report", job_report, methods=["GET"]),
        *[Route(f"/api/tracker/{kind}", export(kind), methods=["GET"])
          for kind in ("trackedEntities", "enrollments", "events", "relationships")],
    ]
