"""`dhis-sync serve`: the live progress dashboard and its JSON API, next to the Dagster UI."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket

import click

from dhis_sync_pipeline.dashboard.app import DAGSTER_URL_ENV, SECRET_ENV, TOKEN_ENV, AppSettings, create_app
from dhis_sync_pipeline.dashboard.guard import served_hosts

ALLOWED_HOSTS_ENV = "DHIS_SYNC_ALLOWED_HOSTS"
MIN_SECRET_LENGTH = 32


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help=f"Address to listen on. Anything but loopback needs {TOKEN_ENV} set: every page and API "
                   "then requires it.")
@click.option("--port", default=3001, show_default=True, type=int)
@click.option("--allowed-host", "allowed_host", multiple=True, metavar="NAME[:PORT]",
              help="A host name browsers use to reach this server (repeatable; also from "
                   f"{ALLOWED_HOSTS_ENV}, comma separated). Requests naming any other host are refused "
                   "(DNS rebinding). The listening address, and localhost when it is loopback, are always allowed.")
@click.option("--dagster-url", default=None, show_default="http://127.0.0.1:3000, or /dagster with --with-dagster-ui",
              help=f"Where the Dagster UI is, for links to runs (also from {DAGSTER_URL_ENV}).")
@click.option("--with-dagster-ui", is_flag=True,
              help="Also serve the Dagster UI from this process, under /dagster (runs no daemon: "
                   "start `dagster-daemon run -w workspace.yaml` for sensors and queued runs).")
def serve_command(host: str, port: int, allowed_host: tuple[str, ...], dagster_url: str | None,
                  with_dagster_ui: bool) -> None:
    """Serve the live progress dashboard (/auto-sync/dashboard/), logs page and JSON API.

    Reads the Dagster instance in DAGSTER_HOME and the configuration file in DHIS_SYNC_CONFIG.
    The Dagster UI stays where it is (`dagster dev -w workspace.yaml`); links point to it.
    With DHIS_SYNC_DASHBOARD_TOKEN set, browsers log in once per session and API clients send
    `Authorization: Bearer <token>`. DHIS_SYNC_DASHBOARD_SECRET signs the session cookie (random
    per process, so sessions end with the server, unless set).
    """
    import uvicorn

    token = os.environ.get(TOKEN_ENV) or None
    loopback = is_loopback(host)
    if not loopback and not token:
        raise click.ClickException(
            f"refusing to listen on {host} without an action token: export {TOKEN_ENV}=<a long random string> "
            "so that only people who have it can start, stop or trigger syncs (or listen on 127.0.0.1)"
        )
    if with_dagster_ui and not loopback:
        raise click.ClickException("--with-dagster-ui serves the Dagster UI without authentication; "
                                   "use it on 127.0.0.1 only (put a reverse proxy with authentication in front "
                                   "of a separate dagster-webserver otherwise)")
    dagster_url = dagster_url or os.environ.get(DAGSTER_URL_ENV) or (
        DAGSTER_PREFIX if with_dagster_ui else "http://127.0.0.1:3000")
    secret = os.environ.get(SECRET_ENV)
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise click.ClickException(
            f"{SECRET_ENV} is {len(secret)} characters long: use at least {MIN_SECRET_LENGTH} random characters, "
            "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`, or unset it for a random one"
        )
    names = [*allowed_host, *os.environ.get(ALLOWED_HOSTS_ENV, "").split(",")]
    try:
        hosts = served_hosts(host, port, loopback, [n for value in names for n in value.split(",") if n.strip()])
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    settings = AppSettings(dagster_url=dagster_url.rstrip("/"), allowed_hosts=tuple(hosts), access_token=token)
    app = create_app(settings)
    with contextlib.ExitStack() as stack:
        if with_dagster_ui:
            _mount_dagster_ui(app, stack)
        click.echo(f"Live progress dashboard on http://{hosts[0]}/auto-sync/dashboard/ (Dagster UI: {dagster_url})")
        click.echo(f"Answering requests for: {', '.join(hosts)}" + ("; login required" if token else ""))
        uvicorn.run(app, host=host, port=port, log_level="warning")


DAGSTER_PREFIX = "/dagster"


def _mount_dagster_ui(app, stack: contextlib.ExitStack) -> None:
    """The Dagster UI (dagster-webserver's own ASGI app) under /dagster, in this process."""
    import tempfile
    from pathlib import Path

    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_webserver.webserver import DagsterWebserver
    from starlette.routing import Mount

    from dhis_sync_pipeline.orchestration.workspace import workspace_file

    folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    instance = stack.enter_context(DagsterInstance.get())
    context = stack.enter_context(
        WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[str(workspace_file(folder))]))
    )
    webserver = DagsterWebserver(context, app_path_prefix=DAGSTER_PREFIX)
    # dagster-webserver routes carry the prefix themselves: mount it last, at the root.
    app.router.routes.append(Mount("", app=webserver.create_asgi_app()))
