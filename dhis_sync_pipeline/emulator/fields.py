"""The `fields=` and `filter=` mini-languages of DHIS2's metadata API.

`fields` selects and nests properties (`id,name,categoryCombo[id,name]`, presets `*`, `:all`,
`:owner`, `:identifiable`, `:nameable`, `:persisted`, exclusion `!x`); references are expanded by
looking the uid up in the store. `filter` is `property.path:operator:value`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import schema
from .timeutil import parse_ts

ACCESS = {"manage": True, "externalize": True, "write": True, "read": True, "update": True,
          "delete": True}
_MISSING = object()


class QueryError(Exception):
    """A fields/filter/order expression DHIS2 would reject (HTTP 400)."""


@dataclass
class FieldNode:
    name: str
    children: list["FieldNode"] | None = None
    exclude: bool = False


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
            if depth < 0:
                raise QueryError(f"Unbalanced brackets in fields expression `{text}`")
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth != 0:
        raise QueryError(f"Unbalanced brackets in fields expression `{text}`")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_fields(text: str) -> list[FieldNode]:
    nodes = []
    for part in _split_top(text):
        exclude = part.startswith("!")
        if exclude:
            part = part[1:]
        children = None
        if "[" in part:
            name, inner = part.split("[", 1)
            children = parse_fields(inner[:-1] if inner.endswith("]") else inner)
            part = name
        for marker in ("~", "::"):  # transformers such as ~rename(x) or ::size are ignored
            part = part.split(marker, 1)[0]
        nodes.append(FieldNode(part.strip(), children, exclude))
    return nodes


class Renderer:
    """Turns stored objects into API JSON for a parsed fields list. Call under the state lock."""

    def __init__(self, state, base_url: str) -> None:
        self.state = state
        self.base_url = base_url

    def resolve(self, uid: Any) -> tuple[schema.TypeSpec, dict] | None:
        plural = self.state.uid_index.get(uid) if isinstance(uid, str) else None
        if plural is None:
            return None
        obj = self.state.store[plural].get(uid)
        return (schema.BY_PLURAL[plural], obj) if obj is not None else None

    def computed(self, spec: schema.TypeSpec | None, obj: dict, name: str) -> Any:
        if name in obj:
            return obj[name]
        if name == "displayName" and "name" in obj:
            return obj["name"]
        if name == "displayShortName" and "shortName" in obj:
            return obj["shortName"]
        if name == "displayFormName" and ("formName" in obj or "name" in obj):
            return obj.get("formName") or obj["name"]
        if spec is None:
            return _MISSING
        if name == "href":
            return f"{self.base_url}/api/{spec.plural}/{obj.get('id')}"
        if name == "access":
            return dict(ACCESS)
        if name == "children" and spec.plural == "organisationUnits":
            return [{"id": c} for c in self.state.children_map().get(obj.get("id"), [])]
        return _MISSING

    def preset(self, spec: schema.TypeSpec | None, obj: dict, name: str) -> list[str]:
        if name in ("*", ":all"):
            extra = ["displayName"] if "name" in obj else []
            if spec is not None:
                extra += ["href", "access"]
                if spec.plural == "organisationUnits":
                    extra.append("children")
            return list(obj) + extra
        if name in (":owner", ":persisted"):
            return list(obj)
        if name == ":identifiable":
            keys = [k for k in schema.IDENTIFIABLE if k in obj] + (["href"] if spec else [])
            return keys + (["displayName"] if "name" in obj else [])
        if name == ":nameable":
            keys = [k for k in schema.NAMEABLE if k in obj] + (["href"] if spec else [])
            return keys + [k for k in ("displayName", "displayShortName") if
                           self.computed(spec, obj, k) is not _MISSING]
        if name == ":simple":
            return [k for k, v in obj.items() if not isinstance(v, (dict, list))]
        raise QueryError(f"Unknown field preset `{name}`")

    def render(self, spec: schema.TypeSpec | None, obj: dict, nodes: list[FieldNode]) -> dict:
        selected: dict[str, list[FieldNode] | None] = {}
        excluded: set[str] = set()
        for node in nodes:
            if node.exclude:
                excluded.add(node.name)
            elif node.name == "*" or node.name.startswith(":"):
                for key in self.preset(spec, obj, node.name):
                    selected.setdefault(key, None)
            else:
                selected[node.name] = node.children
        out: dict[str, Any] = {}
        for name, children in selected.items():
            if name in excluded:
                continue
            value = self.computed(spec, obj, name)
            if value is _MISSING or value is None:
                continue
            out[name] = self.expand(value, children) if children is not None else value
        return out

    def expand(self, value: Any, children: list[FieldNode]) -> Any:
        if isinstance(value, list):
            return [self.expand(v, children) for v in value]
        if isinstance(value, dict):
            found = self.resolve(value.get("id")) if "id" in value and len(value) == 1 else None
            if found is not None:
                return self.render(found[0], found[1], children)
            return self.render(None, value, children)
        return value


# ====================================================================== filters
NEGATED = {"!eq", "ne", "neq", "!ieq", "!like", "!ilike", "!$like", "!like$", "!$ilike",
           "!ilike$", "!in", "!token"}
OPERATORS = {"eq", "ieq", "like", "ilike", "$like", "like$", "$ilike", "ilike$", "gt", "ge",
             "lt", "le", "null", "!null", "empty", "!empty", "token", "in"} | NEGATED
_POSITIVE = {"!eq": "eq", "ne": "eq", "neq": "eq", "!ieq": "ieq", "!like": "like",
             "!ilike": "ilike", "!$like": "$like", "!like$": "like$", "!$ilike": "$ilike",
             "!ilike$": "ilike$", "!in": "in", "!token": "token"}


@dataclass
class Filter:
    path: list[str]
    op: str
    value: str | None


def parse_filter(text: str) -> Filter:
    parts = text.split(":", 2)
    if len(parts) < 2:
        raise QueryError(f"Invalid filter `{text}`: expected property:operator[:value]")
    prop, op = parts[0], parts[1]
    if op not in OPERATORS:
        raise QueryError(f"`{op}` is not a valid operator.")
    value = parts[2] if len(parts) == 3 else None
    if value is None and op not in ("null", "!null", "empty", "!empty"):
        raise QueryError(f"Operator `{op}` requires a value in filter `{text}`")
    return Filter(prop.split("."), op, value)


def known_properties(state, spec: schema.TypeSpec) -> set[str]:
    """Property names a filter may use for a type: declared ones plus any seen in the store."""
    props = set(schema.NAMEABLE) | {"displayName", "displayShortName", "href", "access",
                                    "sharing", "translations", "attributeValues", "user"}
    props |= {p.split(".")[0] for p in spec.refs} | set(spec.required) | set(spec.unique)
    props |= set(spec.non_owner)
    if spec.plural == "organisationUnits":
        props |= {"path", "level", "parent", "children", "openingDate", "closedDate"}
    for obj in state.store[spec.plural].values():
        props.update(obj)
    return props


def _compare(actual: Any, expected: str) -> int | None:
    if actual is None or isinstance(actual, (dict, list)):
        return None
    if isinstance(actual, bool):
        a, b = str(actual).lower(), expected.lower()
        return (a > b) - (a < b)
    if isinstance(actual, (int, float)):
        try:
            e = float(expected)
        except ValueError:
            return None
        return (actual > e) - (actual < e)
    a_ts, e_ts = parse_ts(str(actual)), parse_ts(expected)
    if a_ts is not None and e_ts is not None:
        return (a_ts > e_ts) - (a_ts < e_ts)
    a = str(actual)
    return (a > expected) - (a < expected)


def _match_one(op: str, actual: Any, expected: str) -> bool:
    if actual is None or isinstance(actual, (dict, list)):
        return False
    text = str(actual).lower() if isinstance(actual, bool) else str(actual)
    if op == "eq":
        return _compare(actual, expected) == 0
    if op == "ieq":
        return text.lower() == expected.lower()
    if op == "like":
        return expected in text
    if op == "ilike":
        return expected.lower() in text.lower()
    if op == "$like":
        return text.startswith(expected)
    if op == "$ilike":
        return text.lower().startswith(expected.lower())
    if op == "like$":
        return text.endswith(expected)
    if op == "ilike$":
        return text.lower().endswith(expected.lower())
    if op == "in":
        items = [x.strip() for x in expected.strip().lstrip("[").rstrip("]").split(",")]
        return any(_compare(actual, item) == 0 for item in items if item != "")
    if op == "token":
        lowered = text.lower()
        return all(tok in lowered for tok in expected.lower().split())
    result = _compare(actual, expected)
    if result is None:
        return False
    return {"gt": result > 0, "ge": result >= 0, "lt": result < 0, "le": result <= 0}[op]


class FilterEvaluator:
    """Evaluates parsed filters against stored objects, following references by uid."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    def values(self, spec: schema.TypeSpec | None, value: Any, path: list[str]) -> list[Any]:
        if not path:
            return [value]
        if isinstance(value, list):
            return [x for item in value for x in self.values(spec, item, path)]
        if not isinstance(value, dict):
            return []
        head = path[0]
        target_spec, target = spec, value
        if head not in value and set(value) <= {"id"}:
            found = self.renderer.resolve(value.get("id"))
            if found is not None:
                target_spec, target = found
        nxt = self.renderer.computed(target_spec, target, head)
        if nxt is _MISSING:
            nxt = None
        if len(path) == 1:
            return [nxt]
        return self.values(None, nxt, path[1:])

    def matches(self, spec: schema.TypeSpec, obj: dict, f: Filter) -> bool:
        vals = self.values(spec, obj, f.path)
        if f.op == "null":
            return all(v is None for v in vals)
        if f.op == "!null":
            return any(v is not None for v in vals)
        if f.op == "empty":
            return all(v is None or v == [] for v in vals)
        if f.op == "!empty":
            return any(isinstance(v, list) and v for v in vals)
        flat = []
        for v in vals:
            if isinstance(v, list):
                flat.extend(x.get("id") if isinstance(x, dict) else x for x in v)
            else:
                flat.append(v.get("id") if isinstance(v, dict) and "id" in v else v)
        positive = _POSITIVE.get(f.op, f.op)
        hit = any(_match_one(positive, v, f.value or "") for v in flat)
        return not hit if f.op in NEGATED else hit
