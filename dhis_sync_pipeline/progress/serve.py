"""`dhis-sync serve`: the live progress dashboard and its JSON API, next to the Dagster UI."""

from __future__ import annotations

import ipaddress
import os
import socket

import click

from dhis_sync_pipeline.progress.app import DAGSTER_URL_ENV, TOKEN_ENV, AppSettings, create_app


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
              help=f"Address to listen on. Anything but loopback needs {TOKEN_ENV} set: actions then require it.")
@click.option("--port", default=3001, show_default=True, type=int)
@click.option("--dagster-url", default=lambda: os.environ.get(DAGSTER_URL_ENV, "http://127.0.0.1:3000"),
              show_default="http://127.0.0.1:3000", help="Where the Dagster UI is, for links to runs.")
def serve_command(host: str, port: int, dagster_url: str) -> None:
    """Serve the live progress dashboard (/auto-sync/dashboard/), logs page and JSON API.

    Reads the Dagster instance in DAGSTER_HOME and the configuration file in DHIS_SYNC_CONFIG.
    The Dagster UI stays where it is (`dagster dev -w workspace.yaml`); links point to it.
    """
    import uvicorn

    token = os.environ.get(TOKEN_ENV) or None
    loopback = is_loopback(host)
    if not loopback and not token:
        raise click.ClickException(
            f"refusing to listen on {host} without an action token: export {TOKEN_ENV}=<a long random string> "
            "so that only people who have it can start, stop or trigger syncs (or listen on 127.0.0.1)"
        )
    settings = AppSettings(dagster_url=dagster_url.rstrip("/"), require_token=not loopback, action_token=token)
    app = create_app(settings)
    click.echo(f"Live progress dashboard on http://{host}:{port}/auto-sync/dashboard/ (Dagster UI: {dagster_url})")
    uvicorn.run(app, host=host, port=port, log_level="warning")
