"""Reading metadata: paged collections, single objects, /api/metadata and deletedObjects.

Default order is name (case-insensitive) then id, like DHIS2's default for named objects;
`order=prop:asc|desc,...` overrides it.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from . import schema
from .fields import FilterEvaluator, QueryError, Renderer, known_properties, parse_fields, parse_filter
from .timeutil import format_ts, parse_dhis2_date, parse_ts

# Timestamp properties whose filter values DHIS2 parses as java.util.Date.
_DATE_PROPERTIES = {"created", "lastUpdated"}
_DATE_OPERATORS = {"eq", "!eq", "ne", "neq", "gt", "ge", "lt", "le", "in", "!in"}


def _params_list(params) -> list[tuple[str, str]]:
    return list(params.multi_items()) if hasattr(params, "multi_items") else list(params.items())


def page_url(base: str, path: str, params, page: int) -> str:
    items = [(k, v) for k, v in _params_list(params) if k != "page"] + [("page", str(page))]
    return f"{base}{path}?{urlencode(items)}"


def pager(base: str, path: str, params, page: int, page_size: int, total: int) -> dict:
    page_count = max(1, math.ceil(total / page_size)) if total else 1
    out: dict[str, Any] = {"page": page, "total": total, "pageSize": page_size,
                           "pageCount": page_count}
    if page < page_count:
        out["nextPage"] = page_url(base, path, params, page + 1)
    if page > 1:
        out["prevPage"] = page_url(base, path, params, page - 1)
    return out


def _int(params, name: str, default: int, minimum: int = 1) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        return max(minimum, int(raw))
    except ValueError as exc:
        raise QueryError(f"Parameter `{name}` must be a number, got `{raw}`") from exc


def _sort_key(value: Any) -> tuple:
    if value is None:
        return (1, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, f"{value:020.6f}")
    return (0, str(value).lower())


def _server_local(state, f):
    """QueryUtils.parseValue → DateUtils.parseDate, then Hibernate binds the Date in the JVM zone
    against the zone-less column: a zone-less value is server-local, an offset is converted
    to server-local. Rewritten here as server-local text, which compares like the stored one."""
    if f.path[-1] not in _DATE_PROPERTIES or f.op not in _DATE_OPERATORS or f.value is None:
        return f
    items = f.value.strip().lstrip("[").rstrip("]").split(",") if "in" in f.op else [f.value]
    out = []
    for item in items:
        value = parse_dhis2_date(item.strip(), state.tz)
        if value is None:
            # DHIS2 answers this QueryParserException with 409; the emulator's 400 is stricter.
            raise QueryError(f"Unable to parse `{item}` as `Date`.")
        out.append(format_ts(value))
    f.value = f"[{','.join(out)}]" if "in" in f.op else out[0]
    return f


def query_objects(state, spec: schema.TypeSpec, params, filters: list[str],
                  renderer: Renderer) -> list[dict]:
    """Stored objects of one type that pass the filters, in the requested order."""
    parsed = [_server_local(state, parse_filter(f)) for f in filters]
    known = known_properties(state, spec) if parsed else set()
    for f in parsed:
        if f.path[0] not in known:
            raise QueryError(f"Unknown path property: `{f.path[0]}` on {spec.singular}")
    evaluator = FilterEvaluator(renderer)
    use_or = str(params.get("rootJunction", "AND")).upper() == "OR"
    objs = list(state.store[spec.plural].values())
    if parsed:
        combine = any if use_or else all
        objs = [o for o in objs if combine(evaluator.matches(spec, o, f) for f in parsed)]
    order = params.get("order")
    if order:
        for part in reversed([p for p in order.split(",") if p]):
            prop, _, direction = part.partition(":")
            reverse = direction.lower() in ("desc", "idesc")
            objs.sort(key=lambda o: _sort_key(renderer.computed(spec, o, prop)
                                              if prop in o or prop.startswith("display") else None),
                      reverse=reverse)
    else:
        objs.sort(key=lambda o: (str(o.get("name", "")).lower(), o.get("id", "")))
    return objs


def list_collection(state, spec: schema.TypeSpec, params, base: str, path: str) -> dict:
    renderer = Renderer(state, base)
    nodes = parse_fields(params.get("fields") or "id,displayName")
    filters = params.getlist("filter") if hasattr(params, "getlist") else []
    with state.lock:
        objs = query_objects(state, spec, params, filters, renderer)
        paging = str(params.get("paging", "true")).lower() != "false"
        if not paging:
            return {spec.plural: [renderer.render(spec, o, nodes) for o in objs]}
        page = _int(params, "page", 1)
        page_size = _int(params, "pageSize", 50)
        chunk = objs[(page - 1) * page_size: page * page_size]
        return {"pager": pager(base, path, params, page, page_size, len(objs)),
                spec.plural: [renderer.render(spec, o, nodes) for o in chunk]}


def get_one(state, spec: schema.TypeSpec, uid: str, params, base: str) -> dict | None:
    renderer = Renderer(state, base)
    nodes = parse_fields(params.get("fields") or "*")
    with state.lock:
        obj = state.store[spec.plural].get(uid)
        return renderer.render(spec, obj, nodes) if obj is not None else None


def export_metadata(state, params, base: str) -> dict:
    """GET /api/metadata: `<type>=true` selects types (none selected: all), `:owner` fields."""
    renderer = Renderer(state, base)
    chosen = [t for t in schema.TYPES if str(params.get(t.plural, "")).lower() == "true"]
    everything = not chosen
    exclude_defaults = str(params.get("defaults", "INCLUDE")).upper() == "EXCLUDE"
    skip_sharing = str(params.get("skipSharing", "false")).lower() == "true"
    global_fields = params.get("fields") or ":owner"
    global_filters = params.getlist("filter") if hasattr(params, "getlist") else []
    with state.lock:
        out: dict[str, Any] = {"system": {"id": state.system_id, "rev": "emulator",
                                          "version": state.full_version, "date": state.now_str()}}
        for spec in (schema.TYPES if everything else chosen):
            nodes = parse_fields(params.get(f"{spec.plural}:fields") or global_fields)
            filters = (params.getlist(f"{spec.plural}:filter") if hasattr(params, "getlist")
                       else []) or global_filters
            objs = query_objects(state, spec, params, filters, renderer)
            if exclude_defaults:
                objs = [o for o in objs if o.get("id") not in schema.DEFAULT_IDS]
            if everything and not objs:
                continue
            rendered = [renderer.render(spec, o, nodes) for o in objs]
            if skip_sharing:
                for r in rendered:
                    r.pop("sharing", None)
            out[spec.plural] = rendered
        return out


def list_deleted(state, params, base: str, path: str) -> dict:
    klasses = params.getlist("klass") if hasattr(params, "getlist") else []
    names = set()
    for k in klasses:
        spec = schema.spec_for_klass(k)
        if spec is None:
            raise QueryError(f"Unknown klass `{k}`")
        names.add(spec.singular)
    uids = set(params.getlist("uid")) if hasattr(params, "getlist") else set()
    since = params.get("deletedAt")
    threshold = None
    if since:
        parsed = parse_ts(since, state.tz)
        if parsed is None:
            raise QueryError(f"Invalid date for deletedAt: `{since}`")
        threshold = parsed
    with state.lock:
        rows = [dict(d) for d in state.deleted_objects
                if (not names or d["klass"] in names) and (not uids or d["uid"] in uids)
                and (threshold is None or parse_ts(d["deletedAt"]) >= threshold)]
    paging = str(params.get("paging", "true")).lower() != "false"
    if not paging:
        return {"deletedObjects": rows}
    page = _int(params, "page", 1)
    page_size = _int(params, "pageSize", 50)
    return {"pager": pager(base, path, params, page, page_size, len(rows)),
            "deletedObjects": rows[(page - 1) * page_size: page * page_size]}
