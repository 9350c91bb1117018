"""`dhis-sync`: the command line for DHIS2 administrators.

Every command acts on the real Dagster instance in DAGSTER_HOME, so what it shows and does is
what the Dagster UI shows and does.
"""

from __future__ import annotations

import datetime
import os
import signal
import sys
import time
from pathlib import Path

import click
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dhis_sync_pipeline import demo as demo_setup
from dhis_sync_pipeline.automation import control
from dhis_sync_pipeline.automation.sensors import schedule_name, sensor_name
from dhis_sync_pipeline.config import ConfigError, SyncConfig, SyncFile, config_path, load_config
from dhis_sync_pipeline.config_edit import add_sync_config, update_auto_sync
from dhis_sync_pipeline.launch import LOCATION_NAME, LaunchError, execute_in_process, trigger_run, wait_for_run
from dhis_sync_pipeline.orchestration.instance_yaml import write_default_instance_yaml
from dhis_sync_pipeline.orchestration.run_summary import summarize_run
from dhis_sync_pipeline.orchestration.tags import CONFIG_TAG
from dhis_sync_pipeline.dashboard.serve import serve_command
from dhis_sync_pipeline.reporting.command import report_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Keep DHIS2 servers in step, with Dagster doing the scheduling, retries and history."""
    # A Dagster home without a dagster.yaml gets the project's: one run per configuration and
    # killed runs marked failed (a user's own file is never replaced).
    write_default_instance_yaml()


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
    `sync_demo` job: in the Dagster UI (default) or in this process (--once). With the UI, it then
    starts the sensor of the automatic configuration `demo_auto` and keeps changing the source, so
    runs started by the sensor appear on the dashboard by themselves.
    """
    # A plain `kill` must stop the emulators, Dagster and the dashboard too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    home = (home or Path(os.environ.get("DAGSTER_HOME") or ".dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    source_port, destination_port = demo_setup.free_port(8081), demo_setup.free_port(8082)
    click.echo(f"Dagster home: {home}")
    click.echo(f"Starting emulated DHIS2 servers: source http://127.0.0.1:{source_port} (seed: {seed}), "
               f"destination http://127.0.0.1:{destination_port} (empty)…")
    with demo_setup.emulators(source_port, destination_port, home, seed=seed):
        data_sets, org_units = demo_setup.discover_data_scope(f"http://127.0.0.1:{source_port}")
        setup = demo_setup.write_demo_files(home, source_port, destination_port, data_sets, org_units)
        os.environ.update(setup.environment())
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
    ui_url = f"http://127.0.0.1:{demo_setup.free_port(ui_port)}"
    dashboard_url = f"http://127.0.0.1:{demo_setup.free_port(3001)}"
    click.echo(f"Starting the Dagster UI and daemon (dagster dev) on {ui_url} and the progress dashboard…")
    dev_command = [sys.executable, "-m", "dagster", "dev", "-w", str(setup.workspace_file),
                   "-h", "127.0.0.1", "-p", ui_url.rsplit(":", 1)[1]]
    serve_command = [sys.executable, "-m", "dhis_sync_pipeline.cli", "serve", "--port", dashboard_url.rsplit(":", 1)[1],
                     "--dagster-url", ui_url]
    env = setup.environment()
    try:
        with demo_setup.background(dev_command, setup.home / "dagster_dev.log", env) as dev, \
                demo_setup.background(serve_command, setup.home / "dashboard.log", env) as dashboard:
            demo_setup.wait_until_up(f"{ui_url}/server_info", dev, timeout=180)
            demo_setup.wait_until_up(f"{dashboard_url}/api/auto-sync/dashboard-stats/", dashboard, timeout=60)
            run_id = trigger_run(demo_setup.DEMO_CONFIG_ID, source="demo")
            click.echo(f"Sync run queued: {ui_url}/runs/{run_id}")
            click.echo(f"Live progress: {dashboard_url}/auto-sync/dashboard/")
            instance = DagsterInstance.get()
            status = wait_for_run(instance, run_id, timeout=1800)
            click.echo(f"Run finished with status {status.value}\n")
            click.echo(summarize_run(instance, run_id).table())
            # Automatic mode: the sensor of demo_auto syncs what the churn changes on the source.
            auto_id = demo_setup.DEMO_AUTO_CONFIG_ID
            try:
                control.start_sensors([auto_id])
            except control.SensorControlError as exc:
                click.secho(f"Could not start the sensor of {auto_id}: {exc}", fg="yellow", err=True)
            churn = demo_setup.SourceChurn(setup.source_url, *demo_setup.discover_data_scope(setup.source_url)).start()
            location = f"{ui_url}/locations/{LOCATION_NAME}"
            click.echo(
                f"\nAutomatic mode: started the sensor of {auto_id} ({location}/sensors/auto_sync_{auto_id}); the "
                f"source changes a few values and a data element every {demo_setup.CHURN_SECONDS}s, and the sensor "
                "(checking every 60s) starts a run for what changed: watch them arrive on the dashboard."
                f"\n\nLook around: runs {ui_url}/runs, assets {ui_url}/assets, job {location}/jobs/sync_demo,"
                f"\ndashboard {dashboard_url}/auto-sync/dashboard/, logs {dashboard_url}/logs/auto-sync/,"
                f"\nconfigurations {dashboard_url}/configurations/, instances {dashboard_url}/instances/"
                f"\nSource DHIS2 {setup.source_url}, destination {setup.destination_url} (admin / district)."
                "\nPress Ctrl-C to stop the demo."
            )
            try:
                while dev.poll() is None:
                    time.sleep(1)
            finally:
                churn.stop()
    except KeyboardInterrupt:
        click.echo("\nStopping…")


@main.command()
@click.argument("config_id")
@click.option("--full", is_flag=True, help="Ignore watermarks: resend everything in scope.")
@click.option("--wait/--no-wait", default=False, help="Wait for the run to finish and print its summary.")
def trigger(config_id: str, full: bool, wait: bool) -> None:
    """Queue an immediate run of CONFIG_ID's sync job on the Dagster instance."""
    sync_file = _load()
    [config] = _configs(sync_file, config_id)
    missing = sync_file.missing_secrets(config)
    if missing:
        # Dagster resolves the secrets when it plans the run, in this process.
        raise click.ClickException("cannot start the run:\n  " + "\n  ".join(missing))
    try:
        run_id = trigger_run(config_id, full_sync=full)
    except LaunchError as exc:
        raise click.ClickException(f"Dagster could not launch sync_{config_id}:\n{exc}") from None
    click.echo(f"Queued run {run_id} of sync_{config_id}.")
    instance = DagsterInstance.get()
    if not wait:
        _warn_without_daemon(instance)
        return
    _wait_until_dequeued(instance, run_id)
    status = wait_for_run(instance, run_id, timeout=24 * 3600)
    click.echo(summarize_run(instance, run_id).table())
    if status.value != "SUCCESS":
        sys.exit(1)


def _wait_until_dequeued(instance: DagsterInstance, run_id: str) -> None:
    """Only a dagster-daemon takes runs off the queue: without one, waiting would never end."""
    while instance.get_run_by_id(run_id).status == DagsterRunStatus.QUEUED:
        if not control.daemon_is_running(instance):
            raise click.ClickException(
                f"not waiting: the run is queued and will only start when a dagster-daemon runs on this "
                f"instance (DAGSTER_HOME={instance.root_directory}); start one with `dagster dev -w workspace.yaml` "
                f"or `dagster-daemon run -w workspace.yaml`, then follow the run with `dhis-sync status`"
            )
        time.sleep(1)


def _load() -> SyncFile:
    try:
        return load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _configs(sync_file: SyncFile, config_id: str | None, automatic_only: bool = False) -> list[SyncConfig]:
    if config_id is None:
        return [c for c in sync_file.sync_configurations if c.is_automatic or not automatic_only]
    try:
        config = sync_file.sync_config(config_id)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    if automatic_only and not config.is_automatic:
        raise click.ClickException(control.start_refusal(config))
    return [config]


def _warn_without_daemon(instance: DagsterInstance) -> None:
    if not control.daemon_is_running(instance):
        click.secho(control.DAEMON_WARNING, fg="yellow", err=True)


def _last_run(instance: DagsterInstance, config: SyncConfig):
    records = instance.get_run_records(filters=RunsFilter(tags={CONFIG_TAG: config.id}), limit=1)
    return records[0] if records else None


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@main.command(name="list")
def list_configs() -> None:
    """Configurations, their mode, sensor state and last run."""
    sync_file = _load()
    instance = DagsterInstance.get()
    rows = [("ID", "MODE", "SOURCE -> DESTINATION", "SENSOR", "LAST RUN")]
    for config in sync_file.sync_configurations:
        record = _last_run(instance, config)
        sensor = _sensor_state(instance, config) if config.is_automatic else "-"
        last = f"{record.dagster_run.status.value} {_when(record.create_timestamp.timestamp())}" if record else "never"
        rows.append((config.id, config.execution_mode, f"{config.source} -> {config.destination}", sensor, last))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    for warning in sync_file.unset_secrets():
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    _warn_without_daemon(instance)


def _sensor_state(instance: DagsterInstance, config: SyncConfig) -> str:
    state = "running" if control.is_sensor_running(instance, config) else "stopped"
    return state if config.auto.enabled else f"{state} (disabled)"


@main.command()
@click.argument("config_id", required=False)
def status(config_id: str | None) -> None:
    """Sensors and schedules, running runs and the last runs with their counts."""
    sync_file = _load()
    instance = DagsterInstance.get()
    for config in _configs(sync_file, config_id):
        click.secho(f"{config.id} — {config.name} ({config.source} -> {config.destination}, {config.execution_mode})",
                    bold=True)
        if config.is_automatic:
            auto = config.auto
            click.echo(f"  sensor {sensor_name(config.id)}: {_sensor_state(instance, config)}, every {auto.check_interval}s, "
                       f"max {auto.max_runs_per_hour} runs/hour, cooldown {auto.cooldown_after_error}s"
                       + (f", windows {', '.join(auto.allowed_time_windows)}" if auto.allowed_time_windows else ""))
            if auto.full_sync_cron:
                schedule = "running" if control.is_schedule_running(instance, config) else "stopped"
                click.echo(f"  schedule {schedule_name(config.id)}: {schedule}, {auto.full_sync_cron}")
            if not control.is_sensor_running(instance, config):
                click.echo("  " + (control.start_refusal(config) or f"start it with `dhis-sync start {config.id}`"))
        records = instance.get_run_records(filters=RunsFilter(tags={CONFIG_TAG: config.id}), limit=5)
        if not records:
            click.echo("  no runs yet")
        for record in records:
            run = record.dagster_run
            line = f"  run {run.run_id[:8]} {run.status.value:<9} started {_when(record.start_time)}"
            if record.end_time:
                line += f", ended {_when(record.end_time)}"
            summary = summarize_run(instance, run.run_id)
            totals = {name: sum(r.counts.get(name, 0) for r in summary.resources)
                      for name in ("created", "updated", "deleted", "errors")}
            line += "  " + ", ".join(f"{k} {v}" for k, v in totals.items())
            click.echo(line)
    _warn_without_daemon(instance)


@main.command()
@click.argument("config_id", required=False)
def start(config_id: str | None) -> None:
    """Start the auto-sync sensor (and full-sync schedule) of CONFIG_ID.

    Without CONFIG_ID, of every automatic configuration whose auto_sync.enabled is true.
    """
    configs = _configs(_load(), config_id, automatic_only=True)
    if not configs:
        raise click.ClickException("no automatic configuration; add one with `dhis-sync config create --automatic`")
    refused = {c.id: reason for c in configs if (reason := control.start_refusal(c))}
    if config_id is not None and refused:
        raise click.ClickException(refused[config_id])
    for reason in refused.values():
        click.echo(f"Skipped: {reason}")
    configs = [c for c in configs if c.id not in refused]
    if not configs:
        raise click.ClickException("no automatic configuration is enabled; nothing was started")
    try:
        control.start_sensors([c.id for c in configs])
    except control.SensorControlError as exc:
        raise click.ClickException(str(exc)) from None
    for config in configs:
        click.echo(f"Started {sensor_name(config.id)}: checks {config.source} every {config.auto.check_interval}s.")
        if config.auto.full_sync_cron:
            click.echo(f"Started {schedule_name(config.id)}: full sync at '{config.auto.full_sync_cron}'.")
    click.echo("Watch progress in the Dagster UI (Automation → Sensors, Runs) or with `dhis-sync serve` "
               "(dashboard at http://127.0.0.1:3001/auto-sync/dashboard/); `dhis-sync status` here.")
    _warn_without_daemon(DagsterInstance.get())


@main.command()
@click.argument("config_id", required=False)
def stop(config_id: str | None) -> None:
    """Stop the auto-sync sensor of CONFIG_ID (all automatic configurations without it)."""
    configs = _configs(_load(), config_id, automatic_only=True)
    try:
        control.stop_sensors([c.id for c in configs])
    except control.SensorControlError as exc:
        raise click.ClickException(str(exc)) from None
    for config in configs:
        schedule = f" and {schedule_name(config.id)}" if config.auto.full_sync_cron else ""
        click.echo(f"Stopped {sensor_name(config.id)}{schedule}; runs already queued or running finish normally.")


@main.command()
@click.argument("config_id")
@click.option("--automatic", "mode", flag_value="automatic", help="Switch the configuration to automatic mode.")
@click.option("--manual", "mode", flag_value="manual", help="Switch the configuration to manual mode.")
@click.option("--interval", type=int, help="Seconds between checks of the source (at least 60).")
@click.option("--monitor", help="Comma-separated resources to watch, e.g. dataElements,organisationUnits,dataValues.")
@click.option("--enable/--disable", default=None,
              help="auto_sync.enabled: whether `dhis-sync start` may start it (a running sensor idles while disabled).")
@click.option("--max-runs-per-hour", type=int)
@click.option("--cooldown", type=int, help="Seconds to wait after a failed run.")
@click.option("--window", "windows", multiple=True, help="Allowed time window HH:MM-HH:MM (repeatable).")
@click.option("--no-windows", is_flag=True, help="Remove the time windows (allow all day).")
@click.option("--cron", help="Cron expression of a periodic full sync, e.g. '0 2 * * 0'.")
def setup(config_id, mode, interval, monitor, enable, max_runs_per_hour, cooldown, windows, no_windows, cron) -> None:
    """Edit CONFIG_ID's auto-sync settings in the configuration file (comments are kept)."""
    changes = {
        "check_interval": interval,
        "monitored_resources": [m.strip() for m in monitor.split(",") if m.strip()] if monitor else None,
        "enabled": enable,
        "max_runs_per_hour": max_runs_per_hour,
        "cooldown_after_error": cooldown,
        "allowed_time_windows": [] if no_windows else (list(windows) or None),
        "full_sync_cron": cron,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes and mode is None:
        raise click.UsageError("nothing to change; give at least one option (see --help)")
    path = config_path()
    try:
        sync_file = update_auto_sync(path, config_id, changes, execution_mode=mode)
    except ConfigError as exc:
        raise click.ClickException(f"{exc}\nThe file was not changed.") from None
    config = sync_file.sync_config(config_id)
    click.echo(f"Updated {config_id} in {path}: " + ", ".join(f"{k}={v}" for k, v in changes.items())
               + (f", execution_mode={mode}" if mode else ""))
    if config.is_automatic:
        click.echo(f"Dagster picks this up when the code location reloads (UI: Deployment → Reload); "
                   + (control.start_refusal(config) or f"`dhis-sync start {config_id}` starts the sensor."))


@main.group()
def config() -> None:
    """Manage sync configurations in the configuration file."""


@config.command("create")
@click.option("--id", "config_id", required=True, help="Slug, e.g. national_to_training (the job is sync_<id>).")
@click.option("--name", required=True)
@click.option("--source", required=True, help="Instance name of the source.")
@click.option("--destination", required=True, help="Instance name of the destination.")
@click.option("--automatic", is_flag=True, help="Sync automatically when the source changes.")
@click.option("--resources", help="Comma-separated metadata types (default: the aggregate set).")
@click.option("--propagate-deletions", is_flag=True)
@click.option("--data-set", "data_sets", multiple=True, help="dataSet UID whose values to sync (repeatable).")
@click.option("--org-unit", "org_units", multiple=True, help="Root orgUnit UID for data values (repeatable).")
@click.option("--relative-window", default="12m", show_default=True, help="Data window, e.g. 90d or 12m.")
@click.option("--interval", type=int, default=None, help="Automatic mode: seconds between checks.")
def config_create(config_id, name, source, destination, automatic, resources, propagate_deletions,
                  data_sets, org_units, relative_window, interval) -> None:
    """Add a sync configuration."""
    entry: dict = {"id": config_id, "name": name, "source": source, "destination": destination,
                   "execution_mode": "automatic" if automatic else "manual"}
    metadata: dict = {}
    if resources:
        metadata["resources"] = [r.strip() for r in resources.split(",") if r.strip()]
    if propagate_deletions:
        metadata["propagate_deletions"] = True
    if metadata:
        entry["metadata"] = metadata
    if data_sets or org_units:
        entry["data"] = {"data_sets": list(data_sets), "org_units": list(org_units), "relative_window": relative_window}
    if automatic:
        entry["auto_sync"] = {"enabled": True, "check_interval": interval or 300}
    path = config_path()
    try:
        add_sync_config(path, entry)
    except ConfigError as exc:
        raise click.ClickException(f"{exc}\nThe file was not changed.") from None
    click.echo(f"Added {config_id} to {path}; its job is sync_{config_id}.")
    if automatic:
        click.echo(f"Next, tune its auto-sync settings, e.g.:\n  dhis-sync setup {config_id} --interval 300 "
                   f"--monitor dataElements,organisationUnits --max-runs-per-hour 6 --cooldown 900\n"
                   f"then reload the code location and run `dhis-sync start {config_id}`.")
    else:
        click.echo(f"Run it with `dhis-sync trigger {config_id}` or from the Dagster UI.")


main.add_command(serve_command, name="serve")
main.add_command(report_command, name="report")

if __name__ == "__main__":
    main()
