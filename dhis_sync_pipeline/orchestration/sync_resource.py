"""The resource that does a sync configuration's work, step by step (as `DagsterDltResource.run`
does for dlt): each method opens the two servers, calls the sync functions (sync/, which know
nothing of Dagster) and turns their outcome into `MaterializeResult`s and `AssetCheckResult`s.

One resource per configuration, built from the configuration file: its source and destination
(nested `DHIS2InstanceResource`s, secrets as `EnvVar`s) and the progress resource.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    ConfigurableResource,
    Failure,
    MaterializeResult,
    MetadataValue,
)

from dhis_sync_pipeline.config import SyncConfig, describe_key
from dhis_sync_pipeline.dhis2 import DHIS2Client
from dhis_sync_pipeline.orchestration.failures import dhis2_failures
from dhis_sync_pipeline.orchestration.rejections import log_rejections
from dhis_sync_pipeline.orchestration.resources import DHIS2InstanceResource
from dhis_sync_pipeline.orchestration.results import (
    data_failure,
    data_log_line,
    data_metadata,
    describe_value_error,
    metadata_failure,
    metadata_log_line,
    metadata_metadata,
    tracker_check_log_lines,
    tracker_check_metadata,
    tracker_failure,
    tracker_log_line,
    tracker_metadata,
    unchanged_watermark,
    verification_metadata,
)
from dhis_sync_pipeline.orchestration.translator import TRACKER_CHECK, UID_CHECK, VALUES_CHECK, DHIS2Translator
from dhis_sync_pipeline.orchestration.watermarks import (
    DESTINATION_SYSTEM_KEY,
    WATERMARK_KEY,
    sync_since,
    sync_since_all,
)
from dhis_sync_pipeline.progress import ProgressResource
from dhis_sync_pipeline.progress.resource import STEP_DATA, STEP_METADATA, STEP_TRACKER, ProgressReporter
from dhis_sync_pipeline.sync.data_values import CORRECT_LAST_UPDATED, sync_data_set
from dhis_sync_pipeline.sync.data_verification import verify_and_heal
from dhis_sync_pipeline.sync.metadata import (
    MetadataSyncOutcome,
    dependency_order,
    list_uids,
    resend_objects,
    sync_metadata_types,
)
from dhis_sync_pipeline.sync.references import DestinationDirectory
from dhis_sync_pipeline.sync.tracker import describe as describe_tracker_error
from dhis_sync_pipeline.sync.tracker import sync_program
from dhis_sync_pipeline.sync.tracker_verification import compare_program


class DHIS2SyncResource(ConfigurableResource):
    """Source, destination and progress of one configuration; its methods are the steps' bodies."""

    source: DHIS2InstanceResource
    destination: DHIS2InstanceResource
    progress: ProgressResource

    @contextmanager
    def _clients(self, config: SyncConfig) -> Iterator[tuple[DHIS2Client, DHIS2Client]]:
        with dhis2_failures(config.step_retries.max_retries, config.step_retries.delay_seconds):
            source, destination = self.source.client(), self.destination.client()
            try:
                yield source, destination
            finally:
                source.close()
                destination.close()

    # ----------------------------------------------------------------------------- preflight

    def preflight(self, context: AssetExecutionContext, config: SyncConfig) -> MaterializeResult:
        """Both servers answer and accept our credentials; the configured objects exist."""
        with self._clients(config) as (source, destination):
            source_info, destination_info = source.system_info(), destination.system_info()
            missing = _missing_on_source(source, config)
        if missing:
            raise Failure(
                description=(
                    f"{len(missing)} configured object(s) do not exist on the source {config.source}; nothing "
                    "was written. Fix the configuration:\n" + "\n".join(f"- {m}" for m in missing)
                ),
                allow_retries=False,
            )
        drift = source_info.version.key[:2] != destination_info.version.key[:2]
        if drift:
            context.log.warning(
                f"Version drift: source {config.source} runs DHIS2 {source_info.version}, destination "
                f"{config.destination} runs {destination_info.version}; objects using features the "
                "older server lacks may be rejected."
            )
        return MaterializeResult(
            metadata={
                "source_version": str(source_info.version),
                "destination_version": str(destination_info.version),
                "source_time_zone": source_info.time_zone or "unknown",
                "source_server_date": source_info.server_date.isoformat(),
                "version_drift": MetadataValue.bool(drift),
                DESTINATION_SYSTEM_KEY: destination_info.system_id or "",
            }
        )

    # ------------------------------------------------------------------------------ metadata

    def sync_metadata(self, context: AssetExecutionContext, config: SyncConfig) -> Iterator[MaterializeResult]:
        """Every selected type in one pass; one materialization per type, with its own counts,
        rejections and watermark (advanced only when the type had no rejection)."""
        translator = DHIS2Translator(config)
        selected = [c for c in config.metadata_resources if translator.metadata_key(c) in context.selected_asset_keys]
        reporters: dict[str, ProgressReporter] = {}
        with self._clients(config) as (source, destination):
            system_id = destination.system_info().system_id
            starts = sync_since_all(context.instance, [translator.metadata_key(c) for c in selected],
                                    context.run.tags, system_id)
            since_by_type, by_reason = {}, {}
            for collection in selected:
                since_by_type[collection], reason = starts[translator.metadata_key(collection)]
                by_reason.setdefault(reason, []).append(collection)
            context.log.info("; ".join(f"{reason}: {', '.join(types)}" for reason, types in by_reason.items()))
            outcomes = sync_metadata_types(
                source,
                destination,
                since_by_type,
                options=config.import_options,
                page_sizes=config.page_sizes,
                directory=_destination_directory(destination),
                propagate_deletions=config.metadata.propagate_deletions,
                progress=lambda collection: reporters.setdefault(collection, self.progress.reporter(
                    context, config_id=config.id, resource=collection, kind=STEP_METADATA
                )),
            )
        unchanged: list[str] = []  # said in one line at the end, not one per type
        for collection in dependency_order(selected):
            outcome = outcomes[collection]
            if collection in reporters:
                reporters[collection].finish()
            metadata = metadata_metadata(outcome)
            metadata[DESTINATION_SYSTEM_KEY] = system_id or ""
            log_rejections(context, [f"{collection} rejected: {e}" for e in outcome.errors], "rejected_objects")
            if outcome.read or outcome.deleted or outcome.errors:
                context.log.info(metadata_log_line(outcome))
            else:
                unchanged.append(collection)
            if outcome.errors or config.import_options.dry_run:
                # Rejected objects must be sent again, and a dry run committed nothing: start here next time.
                metadata[WATERMARK_KEY] = unchanged_watermark(outcome.since)
            yield MaterializeResult(asset_key=translator.metadata_key(collection), metadata=metadata)
        if unchanged:
            context.log.info(f"nothing changed on the source in: {', '.join(unchanged)}")

    def verify_metadata(self, context: AssetCheckExecutionContext, config: SyncConfig) -> Iterator[AssetCheckResult]:
        """Per type: every source UID is on the destination (what lacks is sent again first) and the
        run's rejections are within the tolerance. Runs beside the data steps, not before them, and
        fails its step (so the run) at the end when a type fails."""
        translator = DHIS2Translator(config)
        wanted = {check.asset_key for check in context.selected_asset_check_keys}
        collections = [c for c in config.metadata_resources if translator.metadata_key(c) in wanted]
        if config.import_options.dry_run:
            for collection in collections:
                yield AssetCheckResult(asset_key=translator.metadata_key(collection), check_name=UID_CHECK,
                                       passed=True, metadata={"skipped": "dry run: nothing was written"})
            return
        problems: list[str] = []
        rejections: list[str] = []
        with self._clients(config) as (source, destination):
            source_ids, destination_ids = list_uids(source, collections), list_uids(destination, collections)
            directory = _destination_directory(destination)
            rejected_by_key = _rejected_in_run(context, [translator.metadata_key(c) for c in collections])
            for collection in dependency_order(collections):
                key = translator.metadata_key(collection)
                rejected = rejected_by_key[key]
                missing, healed = self._heal(context, config, source, destination, directory, collection,
                                             sorted(source_ids[collection] - destination_ids[collection]))
                over_tolerance = len(rejected) > config.error_tolerance
                if missing:
                    problems.append(f"{len(missing)} {collection} missing")
                if over_tolerance:
                    problems.append(f"{len(rejected)} {collection} rejected (tolerance {config.error_tolerance})")
                    rejections += [f"{collection}: {line}" for line in rejected]
                yield AssetCheckResult(
                    asset_key=key,
                    check_name=UID_CHECK,
                    passed=not missing and not over_tolerance,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={
                        "source_objects": len(source_ids[collection]),
                        "resent_because_missing": healed,
                        "missing_on_destination": len(missing),
                        "missing_sample": ", ".join(missing[:50]) or "none",
                        "rejected_in_this_run": len(rejected),
                    },
                )
        if problems:
            raise Failure(description=metadata_failure(config.id, config.destination, problems, rejections),
                          allow_retries=False)

    def _heal(
        self,
        context: AssetCheckExecutionContext,
        config: SyncConfig,
        source: DHIS2Client,
        destination: DHIS2Client,
        directory: DestinationDirectory,
        collection: str,
        missing: list[str],
    ) -> tuple[list[str], int]:
        """Send again what the destination lacks (a restored backup, a reset database, deletions by
        hand); return what is still missing and how many were sent."""
        if not missing:
            return [], 0
        context.log.warning(
            f"{collection}: the destination lacks {len(missing)} source objects (e.g. {', '.join(missing[:5])}); "
            "sending them again"
        )
        healing = MetadataSyncOutcome(collection=collection, watermark=source.system_info().server_date, since=None)
        sent = resend_objects(source, destination, collection, missing, options=config.import_options,
                              page_sizes=config.page_sizes, directory=directory, outcome=healing)
        present = {obj["id"] for page in destination.get_by_ids(collection, missing, fields="id") for obj in page}
        still = [uid for uid in missing if uid not in present]
        for error in healing.errors[:20]:
            context.log.error(f"{collection} rejected while healing: {error}")
        context.log.info(f"{collection}: healed {len(missing) - len(still)} missing objects, {len(still)} still missing")
        return still, sent

    # ---------------------------------------------------------------------------------- data

    def sync_data_set(self, context: AssetExecutionContext, config: SyncConfig, data_set: str) -> MaterializeResult:
        key = DHIS2Translator(config).data_key(data_set)
        data = config.data
        assert data is not None
        with self._clients(config) as (source, destination):
            system_id, since = _start(context, config, destination, key, f"dataSet {data_set}")
            outcome = sync_data_set(
                source,
                destination,
                data,
                data_set,
                since=since,
                options=config.import_options,
                page_size=config.page_sizes.data_values,
                slice_cap=config.page_sizes.data_values_slice_cap,
                progress=(reporter := self.progress.reporter(context, config_id=config.id, resource=data_set,
                                                             kind=STEP_DATA)),
            )
        reporter.finish()
        return _result(
            context, config, data_metadata(outcome), system_id=system_id, since=since,
            hold_watermark=bool(outcome.errors),
            rejected=[f"value rejected: {describe_value_error(e)}" for e in outcome.errors],
            rejections_key="rejected_values", log_line=data_log_line(outcome),
            failure=lambda: data_failure(config.destination, config.error_tolerance, outcome),
        )

    def verify_data_set(self, context: AssetCheckExecutionContext, config: SyncConfig, data_set: str) -> AssetCheckResult:
        if config.import_options.dry_run:
            return AssetCheckResult(check_name=VALUES_CHECK, passed=True,
                                    metadata={"skipped": "dry run: nothing was written"})
        data = config.data
        assert data is not None
        with self._clients(config) as (source, destination):
            window = data.window(source.system_info().server_date.date())
            outcome = verify_and_heal(
                source, destination, data_set, data.org_units, window,
                cap=config.page_sizes.data_values_slice_cap, page_size=config.page_sizes.data_values,
                options=config.import_options,
                send_data_set=destination.system_info().version >= CORRECT_LAST_UPDATED,
            )
        _log_verification(context, outcome)
        return AssetCheckResult(check_name=VALUES_CHECK, passed=outcome.passed, severity=AssetCheckSeverity.ERROR,
                                metadata=verification_metadata(outcome))

    # ------------------------------------------------------------------------------- tracker

    def sync_tracker(self, context: AssetExecutionContext, config: SyncConfig, program: str) -> MaterializeResult:
        key = DHIS2Translator(config).tracker_key(program)
        tracker = config.tracker
        assert tracker is not None
        with self._clients(config) as (source, destination):
            system_id, since = _start(context, config, destination, key, f"programme {program}")
            outcome = sync_program(
                source, destination, tracker, program, since=since, options=config.import_options,
                progress=(reporter := self.progress.reporter(context, config_id=config.id, resource=program,
                                                             kind=STEP_TRACKER)),
            )
        reporter.finish()
        return _result(
            context, config, tracker_metadata(outcome), system_id=system_id, since=since,
            hold_watermark=not outcome.complete,  # the next run reads from the same point
            rejected=[f"tracker object rejected: {describe_tracker_error(e)}" for e in outcome.errors],
            rejections_key="rejected_objects", log_line=tracker_log_line(outcome),
            failure=lambda: tracker_failure(config.destination, config.error_tolerance, outcome),
        )

    def verify_tracker(self, context: AssetCheckExecutionContext, config: SyncConfig, program: str) -> AssetCheckResult:
        if config.import_options.dry_run:
            return AssetCheckResult(check_name=TRACKER_CHECK, passed=True,
                                    metadata={"skipped": "dry run: nothing was written"})
        tracker = config.tracker
        assert tracker is not None
        with self._clients(config) as (source, destination):
            comparison = compare_program(source, destination, tracker, program)
        for line in tracker_check_log_lines(comparison):
            context.log.error(line)
        return AssetCheckResult(check_name=TRACKER_CHECK, passed=comparison.passed, severity=AssetCheckSeverity.ERROR,
                                metadata=tracker_check_metadata(comparison))


def _start(
    context: AssetExecutionContext, config: SyncConfig, destination: DHIS2Client, key: AssetKey, label: str
) -> tuple[str | None, dt.datetime | None]:
    """The destination's systemId and where this step's sync starts (said in the run's log)."""
    system_id = destination.system_info().system_id
    since, reason = sync_since(context.instance, key, context.run.tags, system_id)
    context.log.info(f"{label}: {reason}, from {config.source} to {config.destination}")
    return system_id, since


def _result(
    context: AssetExecutionContext,
    config: SyncConfig,
    metadata: dict[str, Any],
    *,
    system_id: str | None,
    since: dt.datetime | None,
    hold_watermark: bool,
    rejected: list[str],
    rejections_key: str,
    log_line: str,
    failure: Callable[[], str],
) -> MaterializeResult:
    """A dataSet's or programme's step outcome: its rejections listed, the step failed beyond the
    tolerance, the watermark held where the step began when something must be read again (or
    nothing was written: a dry run)."""
    metadata[DESTINATION_SYSTEM_KEY] = system_id or ""
    log_rejections(context, rejected, rejections_key)
    context.log.info(log_line)
    if len(rejected) > config.error_tolerance:
        raise Failure(description=failure(), metadata=metadata, allow_retries=False)
    if hold_watermark or config.import_options.dry_run:
        metadata[WATERMARK_KEY] = unchanged_watermark(since)
    return MaterializeResult(metadata=metadata)


def _missing_on_source(source: DHIS2Client, config: SyncConfig) -> list[str]:
    """The configured dataSets, programmes and org unit roots the source does not have, each with
    its key and line."""
    wanted: list[tuple[str, str, str, tuple[str, ...]]] = []  # (section, setting, collection, uids)
    if config.data is not None:
        wanted += [("data", "data_sets", "dataSets", config.data.data_sets),
                   ("data", "org_units", "organisationUnits", config.data.org_units)]
    if config.tracker is not None:
        wanted += [("tracker", "programs", "programs", config.tracker.programs),
                   ("tracker", "org_units", "organisationUnits", config.tracker.org_units)]
    what = {"dataSets": "dataSet", "programs": "programme", "organisationUnits": "org unit"}
    problems = []
    for section, setting, collection, uids in wanted:
        found = {obj["id"] for page in source.get_by_ids(collection, uids, fields="id") for obj in page}
        for index, uid in enumerate(uids):
            if uid not in found:
                where = describe_key(config.id, section, setting, index)
                problems.append(f"{where}: {what[collection]} {uid} does not exist on {config.source} "
                                "(or the sync user cannot see it)")
    return problems


def _destination_directory(destination: DHIS2Client) -> DestinationDirectory:
    """The destination's users and user groups, so that dangling sharing references are dropped."""
    found = list_uids(destination, ("users", "userGroups"))
    return DestinationDirectory(users=frozenset(found["users"]), user_groups=frozenset(found["userGroups"]))


def _rejected_in_run(context: AssetCheckExecutionContext, keys: list[AssetKey]) -> dict[AssetKey, list[str]]:
    """Per type, the objects the destination rejected in this run (from their materializations,
    read in one query)."""
    events = context.instance.get_latest_materialization_events(keys)
    found: dict[AssetKey, list[str]] = {}
    for key in keys:
        event = events.get(key)
        if event is None or event.run_id != context.run.run_id or event.asset_materialization is None:
            found[key] = []
            continue
        entry = event.asset_materialization.metadata.get("rejected_objects_json")
        rows = getattr(entry, "value", None) or []
        found[key] = [f"{row.get('errorCode') or 'rejected'} {row.get('uid') or '?'}: {row.get('message')}"
                      for row in rows]
    return found


def _log_verification(context: AssetCheckExecutionContext, outcome: Any) -> None:
    if not outcome.differing_groups:
        context.log.info(
            f"dataSet {outcome.data_set}: the destination holds the source's {outcome.source_values} values "
            f"({outcome.groups} org unit/period groups compared)"
        )
        return
    context.log.warning(
        f"dataSet {outcome.data_set}: {len(outcome.differing_groups)} of {outcome.groups} org unit/period groups "
        f"differed (source {outcome.source_values} values, destination {outcome.destination_values}); resent "
        f"{outcome.resent} values and deleted {outcome.deleted} the source does not have"
    )
    for error in outcome.errors[:20]:
        context.log.error(f"rejected while healing: {describe_value_error(error)}")
    if outcome.still_differing:
        context.log.error(
            f"dataSet {outcome.data_set}: {len(outcome.still_differing)} groups still differ after healing, e.g. "
            + ", ".join("/".join(g) for g in outcome.still_differing[:10])
        )
