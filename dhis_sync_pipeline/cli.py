"""`dhis-sync`: the command line for DHIS2 administrators.

Every command acts on the real Dagster instance in DAGSTER_HOME, so what it shows and does is
what the Dagster UI shows and does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click
from dagster import DagsterInstance

from dhis_sync_pipeline import demo as demo_setup
from dhis_sync_pipeline.config import ConfigError, load_config
from dhis_sync_pipeline.launch import LaunchError, execute_in_process, trigger_run, wait_for_run
from dhis_sync_pipeline.orchestration.run_summary import summarize_run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Keep DHIS2 servers in step, with Dagster doing the scheduling, retries and history."""


@main.command()
@click.option("--once", is_flag=True, help="Run one sync without the Dagster UI, print a summary and exit.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Dagster home for the demo (default: $DAGSTER_HOME or ./.dagster_home).")
@click.option("--ui-port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--seed", default="generated", show_default=True,
              help="What the source emulator starts with: generated, empty, or a folder of DHIS2 payloads.")
def demo(once: bool, home: Path | None, ui_port: int, seed: str) -> None:
    """Sync between two emulated DHIS2 servers on this machine.

    Starts a source emulator seeded with generated data and an empty destination, then runs the
    `sync_demo` job: in the Dagster UI (default) or in this process (--once).
    """
    home = (home or Path(os.environ.get("DAGSTER_HOME") or ".dagster_home")).resolve()
    setup = demo_setup.write_demo_files(home, demo_setup.free_port(8081), demo_setup.free_port(8082))
    os.environ.update(setup.environment())
    click.echo(f"Dagster home: {home}")
    click.echo(f"Starting emulated DHIS2 servers: source {setup.source_url} (seed: {seed}), "
               f"destination {setup.destination_url} (empty)…")
    with demo_setup.emulators(int(setup.source_url.rsplit(":", 1)[1]),
                              int(setup.destination_url.rsplit(":", 1)[1]), home, seed=seed):
        if once:
            sys.exit(_demo_once(setup))
        _demo_with_ui(setup, ui_port)


def _demo_once(setup: demo_setup.DemoSetup) -> int:
    instance = DagsterInstance.get()
    started = time.monotonic()
    run_id = execute_in_process(load_config(setup.config_file), demo_setup.DEMO_CONFIG_ID, instance)
    summary = summarize_run(instance, run_id)
    click.echo(f"\nRun {run_id} finished in {time.monotonic() - started:.1f}s with status {summary.status}\n")
    click.echo(summary.table())
    click.echo(f"\nHistory and logs: DAGSTER_HOME={setup.home} dagster dev -w {setup.workspace_file}")
    return 0 if summary.succeeded else 1


def _demo_with_ui(setup: demo_setup.DemoSetup, ui_port: int) -> None:
    ui_port = demo_setup.free_port(ui_port)
    ui_url = f"http://127.0.0.1:{ui_port}"
    click.echo(f"Starting the Dagster UI and daemon (dagster dev) on {ui_url} …")
    log = open(setup.home / "dagster_dev.log", "w", encoding="utf-8")  # noqa: SIM115
    dev = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", str(setup.workspace_file), "-h", "127.0.0.1", "-p", str(ui_port)],
        env=setup.environment(), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        demo_setup.wait_until_up(f"{ui_url}/server_info", dev, timeout=180)
        run_id = trigger_run(demo_setup.DEMO_CONFIG_ID, source="demo")
        click.echo(f"Sync run queued: {ui_url}/runs/{run_id}")
        instance = DagsterInstance.get()
        status = wait_for_run(instance, run_id, timeout=1800)
        click.echo(f"Run finished with status {status.value}\n")
        click.echo(summarize_run(instance, run_id).table())
        click.echo(
            f"\nLook around: runs {ui_url}/runs, assets {ui_url}/assets, job {ui_url}/jobs/sync_demo"
            f"\nSource DHIS2 {setup.source_url}, destination {setup.destination_url} (admin / district)."
            "\nPress Ctrl-C to stop the demo."
        )
        while dev.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        click.echo("\nStopping…")
    finally:
        dev.terminate()
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dev.kill()


@main.command()
@click.argument("config_id")
@click.option("--full", is_flag=True, help="Ignore watermarks: resend everything in scope.")
@click.option("--wait/--no-wait", default=False, help="Wait for the run to finish and print its summary.")
def trigger(config_id: str, full: bool, wait: bool) -> None:
    """Queue an immediate run of CONFIG_ID's sync job on the Dagster instance."""
    sync_file = _load()
    try:
        sync_file.sync_config(config_id)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    try:
        run_id = trigger_run(config_id, full_sync=full)
    except LaunchError as exc:
        raise click.ClickException(f"Dagster could not launch sync_{config_id}:\n{exc}") from None
    click.echo(f"Queued run {run_id} of sync_{config_id}.")
    if not wait:
        return
    instance = DagsterInstance.get()
    status = wait_for_run(instance, run_id, timeout=24 * 3600)
    click.echo(summarize_run(instance, run_id).table())
    if status.value != "SUCCESS":
        sys.exit(1)


def _load():
    try:
        return load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
