"""The history page of a configuration (charts of the last days, its runs) and its downloads.

Everything is read by `dhis_sync_pipeline.reporting` from Dagster's run and event records, and
the downloads are made by the same functions as `dhis-sync report`, so a file downloaded here
and the command's output for the same runs are the same bytes. The charts are drawn in the
browser by Chart.js, served from this package (static/vendor/chartjs), no internet needed.
"""

from __future__ import annotations

import json
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from dhis_sync_pipeline.config import ConfigError
from dhis_sync_pipeline.dashboard import i18n
from dhis_sync_pipeline.reporting.charts import daily_series
from dhis_sync_pipeline.reporting.export import export_runs, rejections_report, report
from dhis_sync_pipeline.reporting.history import parse_since, read_history

DAY_CHOICES = (7, 14, 30)
DEFAULT_DAYS = 7
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
LEVELS = {"runs": "run", "resources": "resource"}


def history_routes(dashboard) -> list[Route]:
    """The routes, for `create_app`; `dashboard` is its Dashboard (render, instance, configs)."""
    pages = HistoryPages(dashboard)
    return [
        Route("/auto-sync/{config_id}/history/", pages.page),
        Route("/auto-sync/{config_id}/history/{name}", pages.download),
        Route("/auto-sync/{config_id}/history/runs/{run_id}/{name}", pages.run_download),
    ]


class HistoryPages:
    def __init__(self, dashboard) -> None:
        self.dashboard = dashboard

    def _config(self, request: Request):
        try:
            return self.dashboard.configs.get().sync_config(request.path_params["config_id"])
        except KeyError:
            return None

    @staticmethod
    def _days(request: Request) -> int:
        try:
            days = int(request.query_params.get("days", DEFAULT_DAYS))
        except ValueError:
            return DEFAULT_DAYS
        return days if days in DAY_CHOICES else DEFAULT_DAYS

    def _not_found(self, request: Request) -> HTMLResponse:
        strings = i18n.strings(self.dashboard.language(request))
        return self.dashboard.render(request, "error.html", status_code=404, title=strings["unknown_config"],
                                     message=request.path_params["config_id"])

    async def page(self, request: Request) -> HTMLResponse:
        lang = self.dashboard.language(request)
        try:
            config = self._config(request)
        except ConfigError as exc:
            return self.dashboard.render(request, "error.html", status_code=500,
                                         title=i18n.strings(lang)["config_error"], message=str(exc))
        if config is None:
            return self._not_found(request)
        days = self._days(request)

        def work():
            return read_history(self.dashboard.instance, [config.id], parse_since(f"{days}d"))

        runs = await run_in_threadpool(work)
        series = daily_series(runs, days)
        strings = i18n.strings(lang)
        chart_data = {"series": series, "strings": {k: v for k, v in strings.items() if k.startswith("history_")},
                      "lang": lang}
        finished = [r for r in runs if r.status in ("SUCCESS", "FAILURE", "CANCELED")]
        totals = {
            "runs": len(runs),
            "succeeded": sum(r.status == "SUCCESS" for r in runs),
            "failed": sum(r.status == "FAILURE" for r in runs),
            "objects_synced": sum(r.objects_synced for r in runs),
            "values_synced": sum(r.values_synced for r in runs),
            "rejected": sum(r.rejected for r in runs),
            "mean_duration": (round(sum(r.duration_seconds or 0 for r in finished) / len(finished), 1)
                              if finished else None),
        }
        return self.dashboard.render(
            request, "history.html", config=config, days=days, day_choices=DAY_CHOICES, totals=totals,
            runs=list(reversed(runs)),  # newest first in the table
            chart_json=json.dumps(chart_data).replace("</", "<\\/"),
        )

    async def download(self, request: Request) -> Response:
        """runs.csv|json, resources.csv|json: every run of the period (?days=)."""
        config = self._config(request)
        level, fmt = _split(request.path_params["name"])
        if config is None or level not in LEVELS or fmt not in MEDIA:
            return self._not_found(request)
        days = self._days(request)

        def work() -> str:
            return report(self.dashboard.instance, [config.id], f"{days}d", LEVELS[level], fmt)

        body = await run_in_threadpool(work)
        return _attachment(body, fmt, f"dhis-sync_{config.id}_{level}_{days}d.{fmt}")

    async def run_download(self, request: Request) -> Response:
        """resources.csv|json of one run, or rejected.csv|json: the objects it rejected."""
        config = self._config(request)
        run_id = request.path_params["run_id"]
        what, fmt = _split(request.path_params["name"])
        if config is None or what not in ("resources", "rejected") or fmt not in MEDIA:
            return self._not_found(request)
        instance = self.dashboard.instance
        run = await run_in_threadpool(instance.get_run_by_id, run_id)
        from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG

        if run is None or run.tags.get(CONFIG_TAG) != config.id:
            return self._not_found(request)

        def work() -> str:
            if what == "rejected":
                return rejections_report(instance, run_id, fmt)
            from dhis_sync_pipeline.reporting.history import read_run

            return export_runs([read_run(instance, run_id)], "resource", fmt)

        body = await run_in_threadpool(work)
        return _attachment(body, fmt, f"dhis-sync_{config.id}_{run_id[:8]}_{what}.{fmt}")


def _split(name: str) -> tuple[str, str]:
    stem, _, ext = name.rpartition(".")
    return stem, ext


def _attachment(body: str, fmt: str, filename: str) -> Response:
    return Response(body, media_type=MEDIA[fmt], headers={"content-disposition": f'attachment; filename="{filename}"'})
