"""DHIS2 instances in the browser: list, add, edit, and Test connection.

The form takes the NAME of the environment variable holding the password or token, never the
secret: the file keeps only that name, and the page says whether the variable is set where this
server runs. Test connection may take a password typed for that one request; it is sent to the
DHIS2 server and nowhere else (not stored, not logged, never written back into the page).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dhis_sync_pipeline.config import ConfigError, InstanceConfig, config_path
from dhis_sync_pipeline.config_edit import DELETE, add_instance, update_instance
from dhis_sync_pipeline.dashboard import forms, i18n
from dhis_sync_pipeline.dhis2 import DHIS2Client
from dhis_sync_pipeline.dhis2.auth import ApiTokenAuth, BasicAuth
from dhis_sync_pipeline.dhis2.errors import (
    DHIS2AuthenticationError,
    DHIS2ConnectionError,
    DHIS2Error,
    DHIS2TLSError,
)

log = logging.getLogger(__name__)

# Capitals only: a password typed into the variable-name field by mistake is refused, not saved.
SECRET_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def client_for(instance: InstanceConfig, secret: str, *, quick: bool = True) -> DHIS2Client:
    """A client for a page's request: short timeouts and no retries, so a page never hangs."""
    auth = BasicAuth(instance.auth.username, secret) if instance.auth.type == "basic" else ApiTokenAuth(secret)
    return DHIS2Client(instance.base_url, auth=auth, name=instance.name,
                       connect_timeout=5 if quick else instance.timeouts.connect,
                       read_timeout=20 if quick else instance.timeouts.read,
                       max_retries=0 if quick else instance.http_retries.max_retries,
                       verify_tls=instance.verify_tls, body_retries=0)


def test_connection(instance: InstanceConfig, typed_secret: str | None, lang: str) -> dict[str, Any]:
    """Ask the server for /api/system/info with the instance's settings; what the page shows."""
    t = i18n.strings(lang)
    env_name = instance.auth.secret_env
    secret = typed_secret or os.environ.get(env_name)
    if not secret:
        return {"ok": False, "kind": "secret_missing", "headline": t["inst_test_secret_missing"].format(env=env_name)}
    try:
        with client_for(instance, secret) as client:
            info = client.system_info()
    except DHIS2AuthenticationError as exc:
        kind = "login_redirect" if "login page" in str(exc) else "wrong_password"
        return {"ok": False, "kind": kind, "headline": t[f"inst_test_{kind}"], "detail": str(exc)}
    except DHIS2TLSError as exc:
        return {"ok": False, "kind": "tls", "headline": t["inst_test_tls"], "detail": str(exc)}
    except DHIS2ConnectionError as exc:
        return {"ok": False, "kind": "no_answer", "headline": t["inst_test_no_answer"], "detail": str(exc)}
    except DHIS2Error as exc:
        return {"ok": False, "kind": "other", "headline": t["inst_test_other"], "detail": str(exc)}
    except ValueError as exc:  # a base URL the client refuses
        return {"ok": False, "kind": "other", "headline": t["inst_test_other"], "detail": str(exc)}
    return {
        "ok": True, "kind": "ok", "headline": t["inst_test_ok"],
        "version": str(info.version), "time_zone": info.time_zone or "—", "system_name": info.system_name or "—",
        "server_date": info.server_date.replace(microsecond=0).isoformat(sep=" "),
        "used_typed_secret": bool(typed_secret),
    }


def _values(instance: InstanceConfig | None) -> dict[str, Any]:
    if instance is None:
        return {"name": "", "base_url": "", "auth.type": "basic", "auth.username": "", "auth.secret_env": "",
                "verify_tls": True}
    return {"name": instance.name, "base_url": instance.base_url, "auth.type": instance.auth.type,
            "auth.username": getattr(instance.auth, "username", ""), "auth.secret_env": instance.auth.secret_env,
            "verify_tls": instance.verify_tls}


def _values_from(form: forms.Form) -> dict[str, Any]:
    return {"name": form.get("name"), "base_url": form.get("base_url"), "auth.type": form.get("auth.type", "basic"),
            "auth.username": form.get("auth.username"), "auth.secret_env": form.get("auth.secret_env"),
            "verify_tls": form.flag("verify_tls")}


def _entry(values: dict[str, Any]) -> dict[str, Any]:
    """The instance as the file holds it (verify_tls only when it is off, its default being on)."""
    if values["auth.type"] == "token":
        auth = {"type": "token", "token_env": values["auth.secret_env"]}
    else:
        auth = {"type": "basic", "username": values["auth.username"], "password_env": values["auth.secret_env"]}
    return {"name": values["name"], "base_url": values["base_url"], "auth": auth,
            "verify_tls": DELETE if values["verify_tls"] else False}


ALIASES = {"auth.password_env": "auth.secret_env", "auth.token_env": "auth.secret_env", "auth": "auth.type"}


class InstancePages:
    def __init__(self, dashboard):
        self.dashboard = dashboard

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        return self.dashboard.render(request, template, status_code=status_code,
                                     flashes=forms.pop_flashes(request), **context)

    def strings(self, request: Request) -> dict[str, str]:
        return i18n.strings(self.dashboard.language(request))

    async def list_page(self, request: Request) -> Response:
        sync_file = await run_in_threadpool(self.dashboard.configs.get)
        rows = []
        for instance in sync_file.instances:
            used_by = [c.id for c in sync_file.sync_configurations if instance.name in (c.source, c.destination)]
            rows.append({"instance": instance, "secret_set": bool(os.environ.get(instance.auth.secret_env)),
                         "used_by": used_by})
        return self.render(request, "instances.html", rows=rows, config_file=str(config_path()))

    async def form_page(self, request: Request) -> Response:
        name = request.path_params.get("name")
        instance = None
        if name is not None:
            instance = self._find(name)
            if instance is None:
                return self._unknown(request, name)
        return self._form(request, _values(instance), editing=name)

    def _find(self, name: str) -> InstanceConfig | None:
        sync_file = self.dashboard.configs.get()
        return next((i for i in sync_file.instances if i.name == name), None)

    def _unknown(self, request: Request, name: str) -> Response:
        t = self.strings(request)
        return self.render(request, "error.html", status_code=404, title=t["inst_unknown"], message=name)

    def _form(self, request: Request, values: dict[str, Any], *, editing: str | None, errors=None, general=(),
              test=None, status_code: int = 200) -> Response:
        env_name = values.get("auth.secret_env") or ""
        return self.render(request, "instance_form.html", status_code=status_code, values=values, editing=editing,
                           errors=errors or {}, general=list(general), test=test,
                           secret_set=bool(env_name and os.environ.get(env_name)))

    async def save(self, request: Request) -> Response:
        editing = request.path_params.get("name")
        t = self.strings(request)
        try:
            form = await forms.read_form(request)
        except forms.FormTooLarge:
            return self.render(request, "error.html", status_code=413, title=t["cfg_form_too_large"], message="")
        refused = forms.refusal(request, form, self.dashboard.settings.access_token)
        if refused:
            return self.render(request, "error.html", status_code=403, title=t[f"cfg_refused_{refused}"], message="")
        values = _values_from(form)
        if editing is not None:
            if self._find(editing) is None:
                return self._unknown(request, editing)
            values["name"] = editing  # the name is how configurations refer to it: not renamed here
        typed = form.get("test_password") or None
        # The variable's name must look like one before anything else sees it: a secret typed there
        # is neither saved nor written back into the page (nor into the error message).
        if values["auth.secret_env"] and not SECRET_ENV_NAME.match(values["auth.secret_env"]):
            values["auth.secret_env"] = ""
            return self._form(request, values, editing=editing, status_code=400,
                              errors={"auth.secret_env": t["inst_env_name_invalid"]})
        if form.get("action") == "test":
            return await self._test_form(request, values, editing, typed)
        path = config_path()
        entry = _entry(values)
        try:
            if editing is None:
                await run_in_threadpool(add_instance, path, {k: v for k, v in entry.items() if v is not DELETE})
            else:
                await run_in_threadpool(update_instance, path, editing, {k: v for k, v in entry.items() if k != "name"})
        except ConfigError as exc:
            index = self._index(editing)
            errors, general = forms.field_problems(exc, f"instances[{index}]", ALIASES)
            if "auth.secret_env" in errors:  # the message quotes the value: use ours instead
                errors["auth.secret_env"] = t["inst_env_name_invalid"]
            return self._form(request, values, editing=editing, errors=errors, general=general, status_code=400)
        log.info("instance %s %s in %s from the dashboard", values["name"], "added" if editing is None else "updated", path)
        forms.flash(request, "success", t["inst_saved"].format(name=values["name"], file=path))
        await forms.reload_dagster(request, self.dashboard)
        return RedirectResponse("/instances/", status_code=303)

    def _index(self, editing: str | None) -> int:
        instances = self.dashboard.configs.get().instances
        if editing is None:
            return len(instances)
        return next(i for i, inst in enumerate(instances) if inst.name == editing)

    async def _test_form(self, request: Request, values: dict[str, Any], editing: str | None,
                         typed: str | None) -> Response:
        t = self.strings(request)
        entry = {k: v for k, v in _entry(values).items() if v is not DELETE}
        entry["name"] = entry["name"] or "new_instance"
        try:
            instance = InstanceConfig.model_validate(entry)
        except Exception as exc:  # noqa: BLE001 - pydantic's message, the value of a secret never in it
            errors = {}
            for error in getattr(exc, "errors", lambda: [])():
                name = ".".join(str(p) for p in error["loc"] if p not in ("basic", "token"))
                name = ALIASES.get(name, name)
                errors[name] = t["inst_env_name_invalid"] if name == "auth.secret_env" else \
                    str(error["msg"]).removeprefix("Value error, ")
            return self._form(request, values, editing=editing, errors=errors, status_code=400)
        result = await run_in_threadpool(test_connection, instance, typed, self.dashboard.language(request))
        return self._form(request, values, editing=editing, test=result)

    async def test_saved(self, request: Request) -> Response:
        """Test button of the list: the saved instance with the secret from its variable."""
        name = request.path_params["name"]
        t = self.strings(request)
        form = await forms.read_form(request)
        refused = forms.refusal(request, form, self.dashboard.settings.access_token)
        if refused:
            return self.render(request, "error.html", status_code=403, title=t[f"cfg_refused_{refused}"], message="")
        instance = self._find(name)
        if instance is None:
            return self._unknown(request, name)
        result = await run_in_threadpool(test_connection, instance, None, self.dashboard.language(request))
        return self._form(request, _values(instance), editing=name, test=result)


def routes(dashboard) -> list[Route]:
    pages = InstancePages(dashboard)
    return [
        Route("/instances/", pages.list_page),
        Route("/instances/add/", pages.form_page, methods=["GET"]),
        Route("/instances/add/", pages.save, methods=["POST"]),
        Route("/instances/{name}/edit/", pages.form_page, methods=["GET"]),
        Route("/instances/{name}/edit/", pages.save, methods=["POST"]),
        Route("/instances/{name}/test/", pages.test_saved, methods=["POST"]),
    ]
