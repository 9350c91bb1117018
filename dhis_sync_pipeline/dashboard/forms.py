"""What the configuration pages share: reading a posted form, its CSRF check, one-time messages,
problems of the configuration file placed beside the field they are about, and the reload of the
Dagster webserver after a save.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from dhis_sync_pipeline.config import ConfigError
from dhis_sync_pipeline.dashboard import guard, i18n
from dhis_sync_pipeline.dashboard.dagster_reload import reload_code_locations

MAX_FORM_BYTES = 256 * 1024  # a configuration form with a few hundred picked UIDs
FLASH_KEY = "flash"


class FormTooLarge(Exception):
    pass


@dataclass
class Form:
    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def getlist(self, name: str) -> list[str]:
        return [v.strip() for v in self.fields.get(name, []) if v.strip()]

    def flag(self, name: str) -> bool:
        return self.get(name) in ("on", "true", "1")


async def read_form(request: Request) -> Form:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge
    return Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))


def refusal(request: Request, form: Form, access_token: str | None) -> str | None:
    """Why this POST is refused (None when it may go on): the dashboard's rules for its buttons."""
    bearer = bool(access_token) and guard.bearer_matches(request, access_token)
    if not bearer and not guard.csrf_matches(request, form.get("csrf_token")):
        return "csrf"
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return "cross_site"
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlparse(origin).netloc != request.headers.get("host", ""):
        return "cross_site"
    return None


# --- one-time messages (kept in the signed session cookie until the next page shows them) -------


def flash(request: Request, level: str, text: str) -> None:
    request.session[FLASH_KEY] = [*request.session.get(FLASH_KEY, []), [level, text]]


def pop_flashes(request: Request) -> list[list[str]]:
    return request.session.pop(FLASH_KEY, None) or []


# --- the file's problems, beside their field -----------------------------------------------------

_LINE = re.compile(r" \(line \d+\)$")


def field_problems(exc: ConfigError, prefix: str, aliases: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """Split a ConfigError's problems into those about a field under `prefix` (e.g.
    `sync_configurations[2]`), keyed by the field's dotted path without list indexes, and the rest."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for problem in exc.problems:
        path, sep, message = problem.partition(": ")
        path = _LINE.sub("", path)
        if sep and (path == prefix or path.startswith(prefix + ".")):
            name = re.sub(r"\[\d+\]", "", path[len(prefix) + 1:]) or "_"
            name = (aliases or {}).get(name, name)
            by_field[name] = f"{by_field[name]} {message}" if name in by_field else message
        else:
            general.append(problem)
    return by_field, general


async def reload_dagster(request: Request, dashboard) -> None:
    """Ask the Dagster webserver to load the saved file; tell the page how that went."""
    strings = i18n.strings(dashboard.language(request))
    settings = dashboard.settings
    result = await run_in_threadpool(reload_code_locations, settings.dagster_url, base_url=str(request.base_url),
                                     bearer=settings.access_token)
    if result.ok:
        flash(request, "success", strings["cfg_reloaded"].format(url=settings.dagster_url))
    elif result.reached:
        flash(request, "warning", strings["cfg_reload_failed"].format(url=settings.dagster_url, error=result.error))
    else:
        flash(request, "warning", strings["cfg_no_webserver"].format(url=settings.dagster_url))
