"""What happens to a request before the API sees it: logging, faults, URL rules, auth.

A pure ASGI wrapper, because dropping a connection or truncating a body needs the raw transport
(uvicorn's per-request cycle object, reached through the bound `receive`).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from .auth import authenticate
from .faults import Decision, FaultInjector
from .responses import web_message

MAX_URL_LENGTH = 8000
PUBLIC_PATHS = ("/api/system/ping",)
_VERSIONED = re.compile(r"^/api/\d{2}/")
_SUFFIX = re.compile(r"\.(json|csv)$")


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def base_url(scope: dict) -> str:
    """Scheme and host as the client saw them, honouring X-Forwarded-Proto/Host."""
    proto = _header(scope, b"x-forwarded-proto") or scope.get("scheme", "http")
    host = _header(scope, b"x-forwarded-host") or _header(scope, b"host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{proto.split(',')[0].strip()}://{host.split(',')[0].strip()}"


async def send_json(send, status: int, body: Any, headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json;charset=UTF-8"),
                            (b"content-length", str(len(data)).encode()), *headers]})
    await send({"type": "http.response.body", "body": data})


def _cycle(receive) -> Any:
    return getattr(receive, "__self__", None)


def _abort(receive) -> None:
    """Close the client's socket without a response (uvicorn internals, deliberately)."""
    cycle = _cycle(receive)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.close()
        cycle.disconnected = True


def _request_line_length(scope: dict, path: str, query: str) -> int:
    """`GET /api/x?query HTTP/1.1`: the servlet container's limit is on the whole request line."""
    target = len(scope.get("raw_path") or path.encode()) + (len(query) + 1 if query else 0)
    return len(scope.get("method", "GET")) + 1 + target + len(" HTTP/") + len(
        scope.get("http_version", "1.1"))


async def _uri_too_long(send) -> None:
    """The container (Jetty/Tomcat) answers before DHIS2 runs: a 414 page, not a WebMessage."""
    body = b"<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>"
    await send({"type": "http.response.start", "status": 414,
                "headers": [(b"content-type", b"text/html;charset=iso-8859-1"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class ImportGauge:
    """Test-only: how many import POSTs this server had open at once (arrival to answer sent).

    Not DHIS2 behaviour: it lets tests measure at the server the load a deployment's limits let
    through (`GET /__emulator__/imports`, `DELETE` resets). A synchronous import is open for its
    whole run; an async one (`async=true`) only until its job is queued.
    """

    PATH = "/__emulator__/imports"
    _IMPORT = re.compile(r"^/api/(\d{2}/)?(metadata|dataValueSets|completeDataSetRegistrations|tracker)(\.json)?/?$")

    def __init__(self) -> None:
        self.open = self.max_open = self.total = 0  # one event loop: no lock needed

    def counts(self, scope: dict) -> bool:
        return scope["method"] == "POST" and bool(self._IMPORT.match(scope["path"]))

    async def answer(self, scope: dict, send) -> None:
        if scope["method"] == "DELETE":
            self.max_open, self.total = self.open, 0
        await send_json(send, 200, {"open": self.open, "maxOpen": self.max_open, "total": self.total})


class Gatekeeper:
    def __init__(self, app, state, faults: FaultInjector) -> None:
        self.app = app
        self.state = state
        self.faults = faults
        self.imports = ImportGauge()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == ImportGauge.PATH:
            return await self.imports.answer(scope, send)
        if scope["type"] != "http" or not self.imports.counts(scope):
            return await self._serve(scope, receive, send)
        gauge = self.imports
        gauge.open += 1
        gauge.total += 1
        gauge.max_open = max(gauge.max_open, gauge.open)
        try:
            await self._serve(scope, receive, send)
        finally:
            gauge.open -= 1

    async def _serve(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        if path.startswith("/__emulator__"):
            return await self.app(scope, receive, send)
        query = scope.get("query_string", b"").decode("latin-1")
        self.state.log_request(scope["method"], path, query)

        decision = self.faults.decide(path)
        if decision.latency > 0:
            await asyncio.sleep(decision.latency)
        if decision.kind == "drop":
            _abort(receive)
            return
        if decision.kind in ("rate_limit", "fail", "error"):
            return await self._fault_response(send, decision)

        if _request_line_length(scope, path, query) > MAX_URL_LENGTH:
            return await _uri_too_long(send)

        normalised = _VERSIONED.sub("/api/", path)
        m = _SUFFIX.search(normalised)
        fmt = "json"
        if m and normalised.startswith("/api/"):
            fmt = m.group(1)
            normalised = normalised[:m.start()]
        scope = dict(scope, path=normalised)
        scope.setdefault("state", {})
        scope["state"] = dict(scope["state"], format=fmt, base_url=base_url(scope))

        if normalised not in PUBLIC_PATHS:
            xhr = (_header(scope, b"x-requested-with") or "").lower() == "xmlhttprequest"
            result = authenticate(self.state, _header(scope, b"authorization"), xhr)
            if result.status == 302:
                location = base_url(scope) + "/dhis-web-commons/security/login.action"
                await send({"type": "http.response.start", "status": 302,
                            "headers": [(b"location", location.encode()),
                                        (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                return
            if result.status != 200:
                return await send_json(send, result.status,
                                       web_message(result.status, result.message))
            scope["state"]["user"] = result.username

        if decision.kind == "truncate":
            return await self._truncated(scope, receive, send)
        if decision.kind == "fail_after_commit":
            return await self._failed_after_commit(scope, receive, send, decision)
        await self.app(scope, receive, send)

    async def _fault_response(self, send, decision: Decision) -> None:
        if decision.kind == "rate_limit":
            body = web_message(429, "Too many requests, slow down")
            await send_json(send, 429, body, [(b"retry-after", str(decision.retry_after).encode())])
        else:
            await send_json(send, decision.status,
                            web_message(decision.status, "Injected server error"))

    async def _captured(self, scope, receive) -> tuple[dict, bytes]:
        """Run the request to the end (a POST is committed); return its start message and body."""
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        return start, b"".join(chunks)

    async def _failed_after_commit(self, scope, receive, send, decision: Decision) -> None:
        """Apply the request, then answer an error instead (a proxy giving up on a slow import)."""
        await self._captured(scope, receive)
        await self._fault_response(send, decision)

    async def _truncated(self, scope, receive, send) -> None:
        """Run the request, then promise more bytes than are sent and hang up."""
        start, body = await self._captured(scope, receive)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body) + 1024).encode()))
        await send({"type": "http.response.start", "status": start.get("status", 200),
                    "headers": headers})
        await send({"type": "http.response.body", "body": body[: max(1, len(body) // 2)],
                    "more_body": True})
        _abort(receive)
