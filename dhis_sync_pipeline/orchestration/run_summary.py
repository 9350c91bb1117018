"""What a sync run did, per resource, read back from the Dagster instance's event log.

The CLI prints this after a run; it is the same information the Dagster UI shows for the run's
materializations and step failures, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import DagsterEventType, DagsterInstance

from dhis_sync_pipeline.orchestration.translator import METADATA_CHECK_STEP, METADATA_STEP

COUNTS = ("read", "created", "updated", "deleted", "ignored", "errors")


@dataclass
class ResourceSummary:
    asset: str  # e.g. "metadata/dataElements"
    counts: dict[str, int] = field(default_factory=dict)
    objects_per_second: float | None = None
    failure: str | None = None
    check_passed: bool | None = None


@dataclass
class RunSummary:
    run_id: str
    status: str
    resources: list[ResourceSummary]

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS" and all(r.failure is None and r.check_passed is not False for r in self.resources)

    def table(self) -> str:
        header = f"{'resource':<40}" + "".join(f"{name:>9}" for name in COUNTS) + f"{'obj/s':>9}  result"
        lines = [header, "-" * len(header)]
        for resource in self.resources:
            counts = "".join(f"{resource.counts.get(name, 0):>9}" for name in COUNTS)
            speed = f"{resource.objects_per_second:>9}" if resource.objects_per_second is not None else f"{'':>9}"
            if resource.failure:
                result = "FAILED: " + resource.failure.splitlines()[0]
            elif resource.check_passed is False:
                result = "CHECK FAILED: destination is missing source objects"
            else:
                result = "ok"
            lines.append(f"{resource.asset:<40}{counts}{speed}  {result}")
        return "\n".join(lines)


def summarize_run(instance: DagsterInstance, run_id: str) -> RunSummary:
    run = instance.get_run_by_id(run_id)
    status = run.status.value if run else "UNKNOWN"
    by_step: dict[str, ResourceSummary] = {}
    wanted = {
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    failures = []  # placed after the loop: a check step's failure goes to the types whose check failed
    for entry in instance.all_logs(run_id, of_type=wanted):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            summary = _resource(by_step, materialization.asset_key.path)
            metadata = materialization.metadata
            for name in COUNTS:
                if name in metadata:
                    summary.counts[name] = int(metadata[name].value)
            if "objects_per_second" in metadata:
                summary.objects_per_second = float(metadata["objects_per_second"].value)
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            summary = _resource(by_step, evaluation.asset_key.path)
            summary.check_passed = evaluation.passed
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            failures.append(event)
    for event in failures:
        _add_failure(by_step, event, _planned_assets(instance, run, event.step_key))
    return RunSummary(run_id, status, list(by_step.values()))


def _planned_assets(instance: DagsterInstance, run, step_key: str | None) -> list[list[str]]:
    """The asset keys a step of the run was to materialize (from the run's execution plan)."""
    if run is None or not run.execution_plan_snapshot_id or not step_key:
        return []
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    step = next((step for step in plan.steps if step.key == step_key), None)
    if step is None:
        return []
    keys = (output.properties.asset_key for output in step.outputs if output.properties)
    return [list(key.path) for key in keys if key is not None]


def _add_failure(by_step: dict[str, ResourceSummary], event, planned: list[list[str]]) -> None:
    step_key = event.step_key or "?"
    failure = event.step_failure_data
    user = failure.user_failure_data
    message = user.description if user and user.description else (
        failure.error.message.strip() if failure.error else "step failed")
    metadata = user.metadata if user else {}
    if step_key.endswith(METADATA_CHECK_STEP):  # the types whose UID check failed
        targets = [r for name, r in by_step.items() if name.startswith("metadata/") and r.check_passed is False]
    elif step_key.endswith(METADATA_STEP):  # the step's types not materialized before it failed
        done = {name for name, r in by_step.items() if r.counts}
        targets = [_resource(by_step, path) for path in planned if _name(path) not in done]
    else:
        targets = []
    if not targets:
        targets = [_resource(by_step, _asset_path_from_step(step_key))]
    for summary in targets:
        summary.failure = message
        for name in COUNTS:
            if name in metadata:
                summary.counts[name] = int(metadata[name].value)


def _name(path: list[str]) -> str:
    return "/".join(path[1:]) if len(path) > 1 else "/".join(path)


def _resource(by_step: dict[str, ResourceSummary], path: list[str]) -> ResourceSummary:
    name = _name(path)
    return by_step.setdefault(name, ResourceSummary(name))


def _asset_path_from_step(step_key: str) -> list[str]:
    # Step keys of assets are their key path joined by "__".
    return step_key.split("__")
