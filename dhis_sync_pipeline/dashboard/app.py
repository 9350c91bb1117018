"""The live progress web app: two JSON APIs, the auto-sync dashboard and the logs page.

Starlette + Jinja2. Everything it shows is read from the Dagster instance in DAGSTER_HOME and the
progress store beside it; its actions (start/stop a sensor, sync now) act on that instance the
way `dhis-sync start|stop|trigger` do. Bootstrap and Font Awesome are files of this
package (static/vendor/), so the dashboard works with no internet access.

Who may ask what is decided in `guard`: requests must name a Host this server serves; actions are
POST requests carrying the browser session's CSRF token in `X-CSRF-Token`; with
`DHIS_SYNC_DASHBOARD_TOKEN` set, every page and API needs that token (login form or Bearer).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dhis_sync_pipeline.config import ConfigError, SyncFile, config_path, load_config
from dhis_sync_pipeline.dashboard import guard, i18n
from dhis_sync_pipeline.dashboard import config_pages, instance_pages
from dhis_sync_pipeline.dashboard.history_pages import history_routes
from dhis_sync_pipeline.dashboard.logs import LEVELS, read_logs
from dhis_sync_pipeline.dashboard.status import StatusService, UnknownConfig
from dhis_sync_pipeline.progress.store import ProgressStore, get_store, store_url_for_instance

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
TOKEN_ENV = "DHIS_SYNC_DASHBOARD_TOKEN"
SECRET_ENV = "DHIS_SYNC_DASHBOARD_SECRET"
DAGSTER_URL_ENV = "DHIS_SYNC_DAGSTER_URL"
REFRESH_SECONDS = 3


MAX_FORM_BYTES = 8192


def _session_secret() -> str:
    # Random per process (sessions end with the server) unless set, e.g. for several workers.
    return os.environ.get(SECRET_ENV) or secrets.token_urlsafe(32)


@dataclass
class AppSettings:
    dagster_url: str = "http://127.0.0.1:3000"
    # The Host header values to answer (guard.served_hosts); any other is refused.
    allowed_hosts: tuple[str, ...] = ()
    # DHIS_SYNC_DASHBOARD_TOKEN: when set, every page and API needs it.
    access_token: str | None = None
    session_secret: str = field(default_factory=_session_secret, repr=False)
    database_url: str | None = None


class _ConfigCache:
    """The configuration file, re-read when it changes on disk."""

    def __init__(self) -> None:
        self._key: tuple[str, float] | None = None
        self._value: SyncFile | None = None

    def get(self) -> SyncFile:
        path = config_path()
        try:
            key = (str(path.resolve()), path.stat().st_mtime)
        except OSError:
            key = (str(path), 0.0)
        if key != self._key or self._value is None:
            self._value = load_config(path)
            self._key = key
        return self._value


class Dashboard:
    def __init__(self, settings: AppSettings):
        self.settings = settings
        self.configs = _ConfigCache()
        self._instance = None
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
        )

    # --- shared pieces -----------------------------------------------------------------------

    @property
    def instance(self):
        if self._instance is None:
            from dagster import DagsterInstance

            self._instance = DagsterInstance.get()
        return self._instance

    def store(self) -> ProgressStore:
        return get_store(self.settings.database_url or store_url_for_instance(self.instance))

    def service(self) -> StatusService:
        return StatusService(self.instance, self.store(), self.configs.get())

    def sensor_states(self, sync_file: SyncFile) -> dict[str, bool]:
        from dhis_sync_pipeline.automation.control import is_sensor_running

        return {c.id: bool(is_sensor_running(self.instance, c)) for c in sync_file.sync_configurations}

    def daemon_running(self) -> bool:
        from dhis_sync_pipeline.automation.control import daemon_is_running

        return bool(daemon_is_running(self.instance))

    def language(self, request: Request) -> str:
        return i18n.choose_language(
            request.query_params.get("lang"),
            request.cookies.get(i18n.LANG_COOKIE),
            request.headers.get("accept-language"),
        )

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        lang = self.language(request)
        strings = i18n.strings(lang)
        page = self.templates.get_template(template).render(
            lang=lang,
            t=strings,
            languages=i18n.LANGUAGES,
            request_path=request.url.path,
            query=dict(request.query_params),
            dagster_url=self.settings.dagster_url,
            csrf_token=guard.csrf_token(request),
            can_log_out=self._logged_in(request),
            **context,
        )
        response = HTMLResponse(page, status_code=status_code)
        if request.query_params.get("lang") in i18n.LANGUAGES:
            response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", httponly=True)
        return response

    def _logged_in(self, request: Request) -> bool:
        token = self.settings.access_token
        return bool(token) and guard.session_logged_in(request, self.settings.session_secret, token)

    # --- JSON APIs ---------------------------------------------------------------------------

    async def api_progress(self, request: Request) -> JSONResponse:
        config_id = request.path_params["config_id"]
        lang = self.language(request)

        def work() -> dict[str, Any]:
            return self.service().progress(config_id, lang)

        try:
            return JSONResponse(await run_in_threadpool(work))
        except UnknownConfig:
            return _error(404, f"{i18n.strings(lang)['unknown_config']}: {config_id}")

    async def api_dashboard_stats(self, request: Request) -> JSONResponse:
        def work() -> dict[str, Any]:
            service = self.service()
            return service.dashboard_stats(self.sensor_states(service.sync_file), self.daemon_running())

        return JSONResponse(await run_in_threadpool(work))

    async def api_summary(self, request: Request) -> JSONResponse:
        def work() -> dict[str, Any]:
            return self.service().summary(self.daemon_running())

        return JSONResponse(await run_in_threadpool(work))

    # --- actions -----------------------------------------------------------------------------

    async def action(self, request: Request) -> JSONResponse:
        refusal = self.check_action_request(request)
        if refusal is not None:
            return refusal
        config_id = request.path_params["config_id"]
        action = request.path_params["action"]
        lang = self.language(request)
        sync_file = self.configs.get()
        try:
            config = sync_file.sync_config(config_id)
        except KeyError:
            return _error(404, f"{i18n.strings(lang)['unknown_config']}: {config_id}")

        def work() -> dict[str, Any]:
            if action == "sync-now":
                from dhis_sync_pipeline.launch import trigger_run

                run_id = trigger_run(config.id, source="dashboard")
                return {"success": True, "job_id": run_id}
            if not config.is_automatic:
                raise _ActionRefused(
                    f"{config.id} is a manual configuration: it has no sensor to {action}; "
                    "set execution_mode: automatic in the configuration file"
                )
            from dhis_sync_pipeline.automation import control

            (control.start_sensors if action == "start" else control.stop_sensors)([config.id])
            return {"success": True, "is_active": bool(control.is_sensor_running(self.instance, config))}

        try:
            return JSONResponse(await run_in_threadpool(work))
        except _ActionRefused as exc:
            return _error(400, str(exc))
        except Exception as exc:  # noqa: BLE001 - Dagster's own message, never a traceback
            log.warning("dashboard action %s %s failed: %s", action, config_id, exc)
            return _error(502, f"{i18n.strings(lang)['action_failed']}: {_first_lines(str(exc))}")

    def check_action_request(self, request: Request) -> JSONResponse | None:
        # The access token itself was checked by guard.AccessGate. A Bearer client sends no cookie,
        # so no cross-site page can make its requests: it needs no CSRF token.
        token = self.settings.access_token
        bearer = bool(token) and guard.bearer_matches(request, token)
        if not bearer and not guard.csrf_matches(request, request.headers.get("x-csrf-token")):
            return _error(403, "missing CSRF token, or not the one of this browser session: "
                               "reload the dashboard page and try again")
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site and fetch_site not in ("same-origin", "none"):
            return _error(403, "cross-site request refused")
        origin = request.headers.get("origin")
        if origin and origin != "null":
            host = request.headers.get("host", "")
            if urlparse(origin).netloc != host:
                return _error(403, "cross-origin request refused")
        return None

    # --- login -------------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        token = self.settings.access_token
        if request.method == "GET":
            next_path = guard.safe_next(request.query_params.get("next"))
            if not token or self._logged_in(request):
                return RedirectResponse(next_path, status_code=303)
            return self.render(request, "login.html", next_path=next_path, error=None)
        form = await _form(request)
        next_path = guard.safe_next(form.get("next"))
        if not token:
            return RedirectResponse(next_path, status_code=303)
        strings = i18n.strings(self.language(request))
        if not guard.csrf_matches(request, form.get("csrf_token")):
            return self.render(request, "login.html", status_code=403, next_path=next_path,
                               error=strings["login_session_lost"])
        if not hmac.compare_digest(form.get("token", "").encode(), token.encode()):
            client = request.client.host if request.client else "?"
            log.warning("dashboard login refused for %s: wrong access token", client)
            return self.render(request, "login.html", status_code=401, next_path=next_path,
                               error=strings["login_wrong"])
        # A fresh session: the pre-login CSRF token is not carried over.
        request.session.clear()
        request.session[guard.AUTH_KEY] = guard.token_fingerprint(self.settings.session_secret, token)
        guard.csrf_token(request)
        return RedirectResponse(next_path, status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await _form(request)
        if not guard.csrf_matches(request, form.get("csrf_token")):
            return PlainTextResponse("missing CSRF token, or not the one of this browser session: "
                                     "reload the page and try again", status_code=403)
        request.session.clear()
        return RedirectResponse(guard.LOGIN_PATH if self.settings.access_token else "/", status_code=303)

    # --- pages -------------------------------------------------------------------------------

    async def dashboard_page(self, request: Request) -> HTMLResponse:
        lang = self.language(request)

        def work() -> dict[str, Any]:
            service = self.service()
            daemon = self.daemon_running()
            stats = service.dashboard_stats(self.sensor_states(service.sync_file), daemon)
            summary = service.summary(daemon)
            progress = {
                c["config_id"]: service.progress(c["config_id"], lang) for c in stats["configs"] if c["has_running_job"]
            }
            automatic = {c.id: c.is_automatic for c in service.sync_file.sync_configurations}
            return {"stats": stats, "summary": summary, "progress": progress, "automatic": automatic}

        try:
            data = await run_in_threadpool(work)
        except ConfigError as exc:
            return self.render(request, "error.html", status_code=500, title=i18n.strings(lang)["config_error"],
                               message=str(exc))
        initial = {
            **data,
            "strings": i18n.strings(lang),
            "lang": lang,
            "dagster_url": self.settings.dagster_url,
            "refresh_seconds": REFRESH_SECONDS,
            "login_path": guard.LOGIN_PATH,
        }
        return self.render(
            request, "dashboard.html", stats=data["stats"], summary=data["summary"], automatic=data["automatic"],
            initial_json=json.dumps(initial).replace("</", "<\\/"),
        )

    async def logs_page(self, request: Request) -> HTMLResponse:
        lang = self.language(request)
        params = request.query_params
        config_id = params.get("config") or None
        level = (params.get("level") or "INFO").upper()
        if level not in LEVELS:
            level = "INFO"
        date_from = _date(params.get("from"))
        date_to = _date(params.get("to"))
        try:
            page = max(int(params.get("page", "1")), 1)
        except ValueError:
            page = 1

        def work():
            sync_file = self.configs.get()
            return sync_file, read_logs(self.instance, sync_file, config_id=config_id, level=level,
                                        date_from=date_from, date_to=date_to, page=page)

        try:
            sync_file, result = await run_in_threadpool(work)
        except ConfigError as exc:
            return self.render(request, "error.html", status_code=500, title=i18n.strings(lang)["config_error"],
                               message=str(exc))
        base = {k: v for k, v in {"config": config_id, "level": level, "from": params.get("from"),
                                    "to": params.get("to"), "lang": params.get("lang")}.items() if v}
        return self.render(
            request, "logs.html",
            configs=sync_file.sync_configurations, selected_config=config_id, level=level,
            levels=list(LEVELS), date_from=params.get("from") or "", date_to=params.get("to") or "",
            result=result,
            prev_url=f"?{urlencode({**base, 'page': page - 1})}" if page > 1 else None,
            next_url=f"?{urlencode({**base, 'page': page + 1})}" if result.has_next else None,
        )

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/auto-sync/dashboard/", status_code=302)


class _ActionRefused(Exception):
    pass


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (the login and logout forms), first value of each field."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": message}, status_code=status)


def _first_lines(text: str, count: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[:count])


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _static_dirs() -> list[Mount]:
    # Bootstrap and Font Awesome are files of this package (static/vendor/, from their npm
    # releases, with their licences): no internet access and no extra install needed.
    return [
        Mount("/static/vendor", app=StaticFiles(directory=HERE / "static" / "vendor"), name="vendor"),
        Mount("/static/app", app=StaticFiles(directory=HERE / "static"), name="app_static"),
    ]


SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class _SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/dagster"):  # the Dagster UI sets its own
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if not scope["path"].startswith("/static/"):  # pages carry the session's CSRF token
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: AppSettings) -> Starlette:
    """The app for `settings`; its allowed_hosts (guard.served_hosts) must name what it is served as."""
    dashboard = Dashboard(settings)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return _error(exc.status_code, exc.detail or "error")
        return HTMLResponse(f"<h1>{exc.status_code}</h1>", status_code=exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("dashboard request %s failed", request.url.path)
        message = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {_first_lines(str(exc), 2)}"
        if request.url.path.startswith("/api/"):
            return _error(500, message)
        return HTMLResponse("<h1>500</h1><pre>" + _html_escape(message) + "</pre>", status_code=500)

    routes = [
        Route("/", dashboard.home),
        Route("/favicon.ico", lambda request: RedirectResponse("/static/app/favicon.svg", status_code=301)),
        Route(guard.HEALTH_PATH, lambda request: JSONResponse({"success": True})),
        Route(guard.LOGIN_PATH, dashboard.login, methods=["GET", "POST"]),
        Route("/logout", dashboard.logout, methods=["POST"]),
        Route("/auto-sync/dashboard/", dashboard.dashboard_page),
        Route("/logs/auto-sync/", dashboard.logs_page),
        Route("/api/auto-sync/dashboard-stats/", dashboard.api_dashboard_stats),
        Route("/api/auto-sync/summary/", dashboard.api_summary),
        Route("/api/auto-sync/{config_id}/progress/", dashboard.api_progress),
        _action_route(dashboard),
        *instance_pages.routes(dashboard), *config_pages.routes(dashboard),
        *history_routes(dashboard),
        *_static_dirs(),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: http_error, Exception: server_error},
        # Outermost first: every answer gets the headers; a foreign Host is refused before anything.
        middleware=[
            Middleware(_SecurityHeaders),
            Middleware(guard.HostCheck, allowed_hosts=settings.allowed_hosts),
            Middleware(SessionMiddleware, secret_key=settings.session_secret, session_cookie=guard.SESSION_COOKIE,
                       max_age=None, same_site="strict"),
            Middleware(guard.AccessGate, token=settings.access_token, secret=settings.session_secret),
        ],
    )
    app.state.dashboard = dashboard
    return app


def _action_route(dashboard: Dashboard) -> Route:
    async def endpoint(request: Request) -> Response:
        if request.path_params["action"] not in ("start", "stop", "sync-now"):
            return _error(404, f"unknown action {request.path_params['action']!r}; use start, stop or sync-now")
        return await dashboard.action(request)

    return Route("/api/auto-sync/{config_id}/{action}/", endpoint, methods=["POST"])


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
