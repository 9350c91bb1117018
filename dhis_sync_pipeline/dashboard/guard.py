"""Who may talk to the dashboard: the Host check, the session's CSRF token and the access token.

- Host: a request must name one of the addresses the server actually serves. A DNS-rebinding
  page (evil.example resolved to 127.0.0.1) sends `Host: evil.example:PORT` and is refused before
  anything runs, so it can neither read a page (and its CSRF token) nor press a button.
- CSRF: each browser session (a signed, HttpOnly, SameSite=Strict cookie) holds its own random
  token; a POST must carry the token of the session it comes with.
- Access token (DHIS_SYNC_DASHBOARD_TOKEN): when set, every page and API needs it, either once per
  browser session through the login form or as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from urllib.parse import quote, urlsplit

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "dhis_sync_session"
CSRF_KEY = "csrf"
AUTH_KEY = "auth"
LOGIN_PATH = "/login"
HEALTH_PATH = "/healthz"
# Reachable without the access token: what the login form itself needs, and the health check.
OPEN_PREFIXES = ("/static/", LOGIN_PATH, HEALTH_PATH, "/favicon.ico")

# --- Host ---------------------------------------------------------------------------------------


def _bracketed(host: str) -> str:
    """An IPv6 address as it appears in a Host header ([::1]); names and IPv4 as they are."""
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host.lower()


def served_hosts(bind_host: str, port: int, loopback: bool, extra: Iterable[str] = ()) -> list[str]:
    """The Host header values this server answers: its address, loopback names, --allowed-host names.

    A wildcard bind (0.0.0.0, ::) serves loopback too but is itself no address a browser should
    name, so only the loopback names and the listed names are accepted then. A listed name without
    a port matches that name with this server's port and without a port (behind a reverse proxy on
    port 80/443 the browser sends none); a name with a port matches exactly.
    """
    wildcard = bind_host in ("0.0.0.0", "::", "")
    hosts = [] if wildcard else [f"{_bracketed(bind_host)}:{port}"]
    if loopback or wildcard:
        hosts += [f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"]
    for entry in extra:
        name, has_port, _ = _split_allowed(entry)
        hosts += [name] if has_port else [f"{name}:{port}", name]
    return list(dict.fromkeys(hosts))


def _split_allowed(entry: str) -> tuple[str, bool, str]:
    """(normalised entry, whether it names a port, the original) for one --allowed-host value."""
    text = entry.strip()
    if not text or "/" in text or "@" in text or " " in text:
        raise ValueError(
            f"--allowed-host {entry!r} is not a host name: give a name as the browser types it, "
            "e.g. dashboard.example.org or dashboard.example.org:3001 (no http://, no path)"
        )
    if text.startswith("["):  # [::1]:3001 or [::1]
        address, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
        name = f"[{address}]"
    elif text.count(":") > 1:  # a bare IPv6 address
        name, port = _bracketed(text), None
    else:
        name, _, port = text.partition(":")
        port = port or None
    if port is not None and not port.isdigit():
        raise ValueError(f"--allowed-host {entry!r}: the port after ':' must be a number")
    name = name.lower()
    return (f"{name}:{port}" if port else name), port is not None, entry


class HostCheck:
    """Refuses (421 Misdirected Request) any request whose Host header is not one this server serves.

    Starlette's TrustedHostMiddleware compares the name only (any port passes) and answers a bare
    "Invalid host header"; this one compares name and port and says how to fix it.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]):
        if not allowed_hosts:
            raise ValueError("the dashboard needs the Host names it serves (allowed_hosts); none were given")
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed_hosts)
        self.listing = ", ".join(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        if host.lower() in self.allowed:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = host.encode("ascii", "replace").decode()[:200] or "(none)"
        message = (
            f"Refused: this dashboard does not serve the host name {shown!r} "
            "(a page of another site pointing its name at this server is refused: DNS rebinding).\n"
            f"Open it at one of: {self.listing}; or start `dhis-sync serve` with "
            "--allowed-host <name> (or DHIS_SYNC_ALLOWED_HOSTS=name1,name2) for the name you use.\n"
        )
        await PlainTextResponse(message, status_code=421)(scope, receive, send)


# --- CSRF ---------------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token, made on first use."""
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_KEY] = token
    return token


def csrf_matches(request: Request, sent: str | None) -> bool:
    expected = request.session.get(CSRF_KEY)
    return bool(isinstance(expected, str) and expected and sent) and hmac.compare_digest(
        sent.encode(), expected.encode()
    )


# --- access token -------------------------------------------------------------------------------


def token_fingerprint(secret: str, token: str) -> str:
    """What a logged-in session stores: not the token, and no longer valid once the token changes."""
    return hmac.new(secret.encode(), b"dashboard-login:" + token.encode(), hashlib.sha256).hexdigest()


def bearer_matches(connection: HTTPConnection, token: str) -> bool:
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def session_logged_in(connection: HTTPConnection, secret: str, token: str) -> bool:
    stored = connection.session.get(AUTH_KEY)
    return isinstance(stored, str) and hmac.compare_digest(stored.encode(), token_fingerprint(secret, token).encode())


def safe_next(path: str | None) -> str:
    """Where to go after logging in: a path on this server only (never //other.site or a URL)."""
    default = "/auto-sync/dashboard/"
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    parts = urlsplit(path)
    return default if parts.scheme or parts.netloc else path


class AccessGate:
    """With an access token set, lets through only logged-in sessions and Bearer requests.

    Pages redirect to the login form; APIs answer 401 JSON. Static assets, the login form and the
    health check stay open. Sits inside SessionMiddleware, so the session is already read.
    """

    def __init__(self, app: ASGIApp, token: str | None, secret: str):
        self.app = app
        self.token = token
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.token or scope["type"] not in ("http", "websocket") or scope["path"].startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if bearer_matches(connection, self.token) or session_logged_in(connection, self.secret, self.token):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["path"].startswith("/api/"):
            response = JSONResponse(
                {"success": False, "error": "this dashboard needs its access token (DHIS_SYNC_DASHBOARD_TOKEN): "
                                            f"sign in at {LOGIN_PATH} or send 'Authorization: Bearer <token>'"},
                status_code=401, headers={"www-authenticate": 'Bearer realm="dhis-sync"'},
            )
        else:
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            response = RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
        await response(scope, receive, send)
