"""`dhis-sync report`: the history of sync runs as CSV or JSON, the same as the dashboard's downloads."""

from __future__ import annotations

import click

from dhis_sync_pipeline.config import ConfigError, load_config


@click.command(name="report")
@click.argument("config_id", required=False)
@click.option("--since", default="7d", show_default=True, help="How far back: a number and h, d or w (36h, 7d, 2w).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--by", "level", type=click.Choice(["run", "resource"]), default="run", show_default=True,
              help="One row per run, or per resource of each run (read, created, updated, deleted, ignored, "
                   "rejected, duration, objects/s).")
@click.option("--rejected", "rejected_run", metavar="RUN_ID",
              help="Instead: the objects the destination rejected in that run.")
def report_command(config_id: str | None, since: str, fmt: str, level: str, rejected_run: str | None) -> None:
    """Runs of one configuration (or all) from the Dagster instance in DAGSTER_HOME, oldest first."""
    from dagster import DagsterInstance

    from dhis_sync_pipeline.reporting.export import rejections_report, report
    from dhis_sync_pipeline.reporting.history import parse_since

    instance = DagsterInstance.get()
    if rejected_run:
        try:
            click.echo(rejections_report(instance, rejected_run, fmt), nl=False)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        return
    try:
        sync_file = load_config()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    ids = [c.id for c in sync_file.sync_configurations]
    if config_id is not None:
        if config_id not in ids:
            raise click.ClickException(f"no sync configuration '{config_id}' (known: {', '.join(ids) or 'none'})")
        ids = [config_id]
    try:
        parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    click.echo(report(instance, ids, since, level, fmt), nl=False)  # type: ignore[arg-type]
