"""Sync configurations in the browser: list, create, edit, detail and the auto-sync settings.

As in the tool this project replaces: creating an automatic configuration lands on its auto-sync
settings page; Start there starts its sensor and opens the live dashboard. Every save is the
validated, comment-keeping edit of the configuration file (`config_edit`), followed by a reload
of the Dagster webserver's code location; start, stop and trigger act through
`automation.control` and `launch`, as `dhis-sync start|stop|trigger` do.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dhis_sync_pipeline.config import (
    DATA_VALUES_RESOURCE,
    AutoSyncSettings,
    ConfigError,
    ImportOptions,
    SyncConfig,
    SyncFile,
    config_path,
)
from dhis_sync_pipeline.config_edit import DELETE, add_sync_config, update_sync_config
from dhis_sync_pipeline.dashboard import forms, i18n
from dhis_sync_pipeline.dashboard.instance_pages import client_for
from dhis_sync_pipeline.dhis2.errors import DHIS2Error
from dhis_sync_pipeline.dhis2.metadata_types import DEFAULT_METADATA_RESOURCES, METADATA_TYPES

log = logging.getLogger(__name__)

PICKER_LIMIT = 500  # dataSets and org units listed per level; more can be typed as UIDs
IMPORT_CHOICES = {
    "import_strategy": ["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"],
    "atomic_mode": ["NONE", "ALL"],
    "merge_mode": ["REPLACE", "MERGE"],
}
UID_SPLIT = re.compile(r"[\s,;]+")


# --- the source's dataSets and org unit roots, for the pickers ----------------------------------


def source_choices(sync_file: SyncFile, source: str, lang: str) -> dict[str, Any]:
    t = i18n.strings(lang)
    try:
        instance = sync_file.instance(source)
    except KeyError:
        return {"data_sets": [], "org_units": [], "error": None}
    secret = os.environ.get(instance.auth.secret_env)
    if not secret:
        return {"data_sets": [], "org_units": [],
                "error": t["cfg_picker_no_secret"].format(env=instance.auth.secret_env, name=source)}
    try:
        with client_for(instance, secret) as client:
            data_sets = _first_page(client, "dataSets", [])
            org_units = [(*unit, level) for level in (1, 2)
                         for unit in _first_page(client, "organisationUnits", [f"level:eq:{level}"])]
    except DHIS2Error as exc:
        return {"data_sets": [], "org_units": [], "error": t["cfg_picker_failed"].format(name=source, error=exc)}
    return {"data_sets": data_sets, "org_units": org_units, "error": None}


def _first_page(client, collection: str, filters: list[str]) -> list[tuple[str, str]]:
    for page in client.iter_pages(collection, fields="id,name", filters=filters, page_size=PICKER_LIMIT,
                                  params={"order": "name:asc"}):
        return [(obj["id"], obj.get("name") or obj["id"]) for obj in page]
    return []


# --- form values <-> the file's entry -----------------------------------------------------------


def config_values(config: SyncConfig | None, sync_file: SyncFile) -> dict[str, Any]:
    names = [i.name for i in sync_file.instances]
    if config is None:
        return {"id": "", "name": "", "source": names[0] if names else "",
                "destination": names[1] if len(names) > 1 else "", "execution_mode": "manual",
                "metadata.resources": list(DEFAULT_METADATA_RESOURCES), "metadata.propagate_deletions": False,
                "data.data_sets": [], "data.org_units": [], "data.window": "relative", "data.relative_window": "12m",
                "data.start_date": "", "data.end_date": "", "data.complete_registrations": True,
                **{f"import_options.{k}": v for k, v in ImportOptions().model_dump().items()}}
    data = config.data
    return {
        "id": config.id, "name": config.name, "source": config.source, "destination": config.destination,
        "execution_mode": config.execution_mode,
        "metadata.resources": list(config.metadata.resources),
        "metadata.propagate_deletions": config.metadata.propagate_deletions,
        "data.data_sets": list(data.data_sets) if data else [],
        "data.org_units": list(data.org_units) if data else [],
        "data.window": "dates" if data and data.start_date else "relative",
        "data.relative_window": (data.relative_window if data else None) or "12m",
        "data.start_date": str(data.start_date or "") if data else "",
        "data.end_date": str(data.end_date or "") if data else "",
        "data.complete_registrations": data.complete_registrations if data else True,
        **{f"import_options.{k}": v for k, v in config.import_options.model_dump().items()},
    }


def values_from(form: forms.Form) -> dict[str, Any]:
    values = {name: form.get(name) for name in ("id", "name", "source", "destination", "execution_mode",
                                                 "data.window", "data.relative_window", "data.start_date",
                                                 "data.end_date")}
    values["metadata.resources"] = form.getlist("metadata.resources")
    values["metadata.propagate_deletions"] = form.flag("metadata.propagate_deletions")
    values["data.complete_registrations"] = form.flag("data.complete_registrations")
    for key in ("data_sets", "org_units"):  # ticked in the picker, or typed
        typed = [uid for uid in UID_SPLIT.split(form.get(f"data.{key}_typed")) if uid]
        values[f"data.{key}"] = list(dict.fromkeys(form.getlist(f"data.{key}") + typed))
    for key, choices in IMPORT_CHOICES.items():
        values[f"import_options.{key}"] = form.get(f"import_options.{key}", choices[0])
    for key in ("skip_sharing", "dry_run"):
        values[f"import_options.{key}"] = form.flag(f"import_options.{key}")
    return values


def entry_from(values: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the file holds it; DELETE for what is left at its default."""
    resources = values["metadata.resources"]
    metadata = {
        "resources": DELETE if tuple(resources) == DEFAULT_METADATA_RESOURCES else resources,
        "propagate_deletions": True if values["metadata.propagate_deletions"] else DELETE,
    }
    data: Any = DELETE
    if values["data.data_sets"] or values["data.org_units"]:
        dates = values["data.window"] == "dates"
        data = {
            "data_sets": values["data.data_sets"],
            "org_units": values["data.org_units"],
            "relative_window": DELETE if dates else values["data.relative_window"],
            "start_date": values["data.start_date"] if dates else DELETE,
            "end_date": values["data.end_date"] if dates else DELETE,
            "complete_registrations": DELETE if values["data.complete_registrations"] else False,
        }
    defaults = ImportOptions().model_dump()
    import_options = {key: (DELETE if values[f"import_options.{key}"] == default else values[f"import_options.{key}"])
                      for key, default in defaults.items()}
    return {"id": values["id"], "name": values["name"], "source": values["source"],
            "destination": values["destination"], "execution_mode": values["execution_mode"] or "manual",
            "metadata": metadata, "data": data, "import_options": import_options}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _strip(v) for k, v in value.items() if v is not DELETE}
        return {k: v for k, v in kept.items() if v != {}}
    return value


def auto_values(config: SyncConfig) -> dict[str, Any]:
    auto = config.auto
    return {"enabled": auto.enabled, "check_interval": auto.check_interval,
            "monitored_resources": list(auto.monitored_resources), "max_runs_per_hour": auto.max_runs_per_hour,
            "cooldown_after_error": auto.cooldown_after_error,
            "allowed_time_windows": ", ".join(auto.allowed_time_windows), "full_sync_cron": auto.full_sync_cron or ""}


def auto_from(form: forms.Form) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the form shows again, what goes into the file's auto_sync)."""
    values = {"enabled": form.flag("enabled"), "monitored_resources": form.getlist("monitored_resources"),
              "allowed_time_windows": form.get("allowed_time_windows"), "full_sync_cron": form.get("full_sync_cron")}
    for key in ("check_interval", "max_runs_per_hour", "cooldown_after_error"):
        values[key] = form.get(key)
    changes: dict[str, Any] = {
        "enabled": values["enabled"],
        "check_interval": _number(values["check_interval"]),
        "monitored_resources": values["monitored_resources"],
        "max_runs_per_hour": _number(values["max_runs_per_hour"]),
        "cooldown_after_error": _number(values["cooldown_after_error"]),
        "allowed_time_windows": [w.strip() for w in re.split(r"[,;\n]+", values["allowed_time_windows"]) if w.strip()],
        "full_sync_cron": values["full_sync_cron"] or DELETE,
    }
    return values, changes


def _number(text: str) -> Any:
    """An integer when the text is one; else the text, which validation then names as the problem."""
    try:
        return int(text)
    except ValueError:
        return text


# --- pages ---------------------------------------------------------------------------------------


class ConfigPages:
    def __init__(self, dashboard):
        self.dashboard = dashboard

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        return self.dashboard.render(request, template, status_code=status_code,
                                     flashes=forms.pop_flashes(request), **context)

    def t(self, request: Request) -> dict[str, str]:
        return i18n.strings(self.dashboard.language(request))

    def _config(self, config_id: str) -> SyncConfig | None:
        try:
            return self.dashboard.configs.get().sync_config(config_id)
        except KeyError:
            return None

    def _unknown(self, request: Request, config_id: str) -> Response:
        return self.render(request, "error.html", status_code=404, title=self.t(request)["unknown_config"],
                           message=config_id)

    async def _posted(self, request: Request) -> forms.Form | Response:
        t = self.t(request)
        try:
            form = await forms.read_form(request)
        except forms.FormTooLarge:
            return self.render(request, "error.html", status_code=413, title=t["cfg_form_too_large"], message="")
        refused = forms.refusal(request, form, self.dashboard.settings.access_token)
        if refused:
            return self.render(request, "error.html", status_code=403, title=t[f"cfg_refused_{refused}"], message="")
        return form

    # list and detail

    async def list_page(self, request: Request) -> Response:
        def work():
            sync_file = self.dashboard.configs.get()
            return sync_file, self.dashboard.sensor_states(sync_file)

        sync_file, sensors = await run_in_threadpool(work)
        return self.render(request, "configurations.html", configs=sync_file.sync_configurations, sensors=sensors)

    async def detail_page(self, request: Request) -> Response:
        config_id = request.path_params["config_id"]
        config = self._config(config_id)
        if config is None:
            return self._unknown(request, config_id)
        running = await run_in_threadpool(lambda: self.dashboard.sensor_states(self.dashboard.configs.get()))
        from dhis_sync_pipeline.orchestration.workspace import LOCATION_NAME

        job_url = f"{self.dashboard.settings.dagster_url}/locations/{LOCATION_NAME}/jobs/{config.job_name}"
        return self.render(request, "configuration_detail.html", config=config, sensor_running=running.get(config_id),
                           job_url=job_url,
                           metadata_default=tuple(config.metadata.resources) == DEFAULT_METADATA_RESOURCES)

    # create and edit

    async def form_page(self, request: Request) -> Response:
        config_id = request.path_params.get("config_id")
        sync_file = self.dashboard.configs.get()
        config = None
        if config_id is not None:
            config = self._config(config_id)
            if config is None:
                return self._unknown(request, config_id)
        values = config_values(config, sync_file)
        if request.query_params.get("source") in [i.name for i in sync_file.instances]:
            values["source"] = request.query_params["source"]
        return await self._form(request, sync_file, values, editing=config_id)

    async def _form(self, request: Request, sync_file: SyncFile, values: dict[str, Any], *, editing: str | None,
                    errors=None, general=(), status_code: int = 200) -> Response:
        lang = self.dashboard.language(request)
        choices = await run_in_threadpool(source_choices, sync_file, values["source"], lang)
        listed = {"data.data_sets": {c[0] for c in choices["data_sets"]}, "data.org_units": {c[0] for c in choices["org_units"]}}
        typed = {key: ", ".join(uid for uid in values[key] if uid not in listed[key]) for key in listed}
        return self.render(
            request, "configuration_form.html", status_code=status_code, values=values, editing=editing,
            errors=errors or {}, general=list(general), instances=[i.name for i in sync_file.instances],
            choices=choices, typed=typed, metadata_types=list(METADATA_TYPES), import_choices=IMPORT_CHOICES,
        )

    async def save(self, request: Request) -> Response:
        editing = request.path_params.get("config_id")
        form = await self._posted(request)
        if isinstance(form, Response):
            return form
        t = self.t(request)
        sync_file = self.dashboard.configs.get()
        if editing is not None and self._config(editing) is None:
            return self._unknown(request, editing)
        values = values_from(form)
        if editing is not None:
            values["id"] = editing  # the id names the job, its assets and history: not renamed here
        if form.get("action") == "load":  # the pickers for another source
            return await self._form(request, sync_file, values, editing=editing)
        entry = entry_from(values)
        path = config_path()
        if editing is None and values["execution_mode"] == "automatic":
            # Sensible defaults to start from; the settings page comes next.
            entry["auto_sync"] = {"enabled": True, "check_interval": AutoSyncSettings().check_interval}
        try:
            if editing is None:
                await run_in_threadpool(add_sync_config, path, _strip(entry))
            else:
                await run_in_threadpool(update_sync_config, path, editing, {k: v for k, v in entry.items() if k != "id"})
        except ConfigError as exc:
            index = len(sync_file.sync_configurations) if editing is None else \
                [c.id for c in sync_file.sync_configurations].index(editing)
            errors, general = forms.field_problems(exc, f"sync_configurations[{index}]")
            return await self._form(request, sync_file, values, editing=editing, errors=errors, general=general,
                                    status_code=400)
        config_id = values["id"]
        log.info("sync configuration %s %s in %s from the dashboard", config_id,
                 "created" if editing is None else "updated", path)
        if editing is None and values["execution_mode"] == "automatic":
            forms.flash(request, "info", t["cfg_created_automatic"].format(id=config_id))
            target = f"/configurations/{quote(config_id)}/auto-sync/settings/"
        else:
            forms.flash(request, "success", (t["cfg_created"] if editing is None else t["cfg_saved"]).format(id=config_id))
            target = f"/configurations/{quote(config_id)}/"
        await forms.reload_dagster(request, self.dashboard)
        return RedirectResponse(target, status_code=303)

    # auto-sync settings

    async def settings_page(self, request: Request) -> Response:
        config_id = request.path_params["config_id"]
        config = self._config(config_id)
        if config is None:
            return self._unknown(request, config_id)
        return await self._settings(request, config, auto_values(config))

    async def _settings(self, request: Request, config: SyncConfig, values: dict[str, Any], errors=None, general=(),
                        status_code: int = 200) -> Response:
        def work():
            return (self.dashboard.sensor_states(self.dashboard.configs.get()).get(config.id, False),
                    self.dashboard.daemon_running())

        running, daemon = await run_in_threadpool(work)
        from dhis_sync_pipeline.automation.control import start_refusal

        watchable = [*config.metadata_resources, *([DATA_VALUES_RESOURCE] if config.data else [])]
        extra = [r for r in values["monitored_resources"] if r not in watchable]
        return self.render(request, "auto_sync_settings.html", status_code=status_code, config=config, values=values,
                           errors=errors or {}, general=list(general), sensor_running=running, daemon_running=daemon,
                           watchable=watchable + extra, start_refusal=start_refusal(config))

    async def save_settings(self, request: Request) -> Response:
        config_id = request.path_params["config_id"]
        form = await self._posted(request)
        if isinstance(form, Response):
            return form
        config = self._config(config_id)
        if config is None:
            return self._unknown(request, config_id)
        values, changes = auto_from(form)
        path = config_path()
        file_changes: dict[str, Any] = {"auto_sync": changes}
        if not config.is_automatic and form.flag("make_automatic"):
            file_changes["execution_mode"] = "automatic"
        try:
            await run_in_threadpool(update_sync_config, path, config_id, file_changes)
        except ConfigError as exc:
            index = [c.id for c in self.dashboard.configs.get().sync_configurations].index(config_id)
            errors, general = forms.field_problems(exc, f"sync_configurations[{index}].auto_sync")
            return await self._settings(request, config, values, errors=errors, general=general, status_code=400)
        log.info("auto-sync settings of %s updated in %s from the dashboard", config_id, path)
        forms.flash(request, "success", self.t(request)["cfg_settings_saved"].format(id=config_id))
        await forms.reload_dagster(request, self.dashboard)
        return RedirectResponse(f"/configurations/{quote(config_id)}/auto-sync/settings/", status_code=303)

    async def act(self, request: Request) -> Response:
        """Start, stop or trigger, as `dhis-sync start|stop|trigger` do."""
        config_id = request.path_params["config_id"]
        action = request.path_params["action"]
        form = await self._posted(request)
        if isinstance(form, Response):
            return form
        t = self.t(request)
        config = self._config(config_id)
        if config is None:
            return self._unknown(request, config_id)
        settings_url = f"/configurations/{quote(config_id)}/auto-sync/settings/"
        from dhis_sync_pipeline.automation import control

        def work() -> str:
            if action == "trigger":
                missing = self.dashboard.configs.get().missing_secrets(config)
                if missing:
                    raise control.SensorControlError("\n".join(missing))
                from dhis_sync_pipeline.launch import trigger_run

                return trigger_run(config.id, source="dashboard")
            refusal = control.start_refusal(config) if action == "start" else None
            if refusal:
                raise control.SensorControlError(refusal)
            (control.start_sensors if action == "start" else control.stop_sensors)([config.id])
            return ""

        try:
            run_id = await run_in_threadpool(work)
        except Exception as exc:  # noqa: BLE001 - Dagster's or our own message, never a traceback
            log.warning("dashboard %s of %s failed: %s", action, config_id, exc)
            forms.flash(request, "danger", f"{t['action_failed']}{t['colon']} {exc}")
            back = settings_url if config.is_automatic else f"/configurations/{quote(config_id)}/"
            return RedirectResponse(back, status_code=303)
        if action == "start":
            return RedirectResponse(f"/auto-sync/dashboard/?started={quote(config_id)}", status_code=303)
        if action == "trigger":
            return RedirectResponse(f"/auto-sync/dashboard/?queued={quote(config_id)}", status_code=303)
        forms.flash(request, "success", t["cfg_stopped"].format(id=config_id))
        return RedirectResponse(settings_url, status_code=303)


def routes(dashboard) -> list[Route]:
    pages = ConfigPages(dashboard)

    async def act(request: Request) -> Response:
        if request.path_params["action"] not in ("start", "stop", "trigger"):
            return Response(status_code=404)
        return await pages.act(request)

    return [
        Route("/configurations/", pages.list_page),
        Route("/configurations/create/", pages.form_page, methods=["GET"]),
        Route("/configurations/create/", pages.save, methods=["POST"]),
        Route("/configurations/{config_id}/", pages.detail_page),
        Route("/configurations/{config_id}/edit/", pages.form_page, methods=["GET"]),
        Route("/configurations/{config_id}/edit/", pages.save, methods=["POST"]),
        Route("/configurations/{config_id}/auto-sync/settings/", pages.settings_page, methods=["GET"]),
        Route("/configurations/{config_id}/auto-sync/settings/", pages.save_settings, methods=["POST"]),
        Route("/configurations/{config_id}/auto-sync/{action}/", act, methods=["POST"]),
    ]
