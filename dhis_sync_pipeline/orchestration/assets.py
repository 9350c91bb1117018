"""A sync configuration's assets and checks: the translator's specs on Dagster decorators, with
bodies that are one call of the configuration's sync resource.

- `[<id>, "preflight"]`: both servers answer, the configured objects exist (nothing is written
  when it fails);
- the metadata types in one step (`multi_asset`, one asset per type, subsettable so sensors and
  the launchpad pick types), and their UID checks in one step after it, beside the data steps;
- per dataSet, its asset and its blocking verification check (a step of its own, so the sync
  step of a no-change run stays short);
- per tracker programme, its asset and its blocking check, likewise.
Steps that write to the destination share its pool and retry with the translator's policy.
"""


from collections.abc import Callable, Iterator
from functools import partial

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    asset,
    asset_check,
    multi_asset,
    multi_asset_check,
)

from dhis_sync_pipeline.config import SyncConfig
from dhis_sync_pipeline.orchestration.sync_resource import DHIS2SyncResource
from dhis_sync_pipeline.orchestration.translator import (
    KIND_TAG,
    METADATA_CHECK_STEP,
    METADATA_STEP,
    TRACKER_CHECK,
    VALUES_CHECK,
    DHIS2Translator,
)


def build_assets(config: SyncConfig) -> list[AssetsDefinition | AssetChecksDefinition]:
    translator = DHIS2Translator(config)
    built: list[AssetsDefinition | AssetChecksDefinition] = [_preflight(config, translator)]
    if config.metadata_resources:
        built += [_metadata(config, translator), _metadata_checks(config, translator)]
    for data_set in config.data.data_sets if config.data else ():
        built += [_data_set(config, translator, data_set), _data_set_check(config, translator, data_set)]
    for program in config.tracker.programs if config.tracker else ():
        built += [_program(config, translator, program), _program_check(config, translator, program)]
    return built


def _sync(context, translator: DHIS2Translator) -> DHIS2SyncResource:
    return getattr(context.resources, translator.sync_resource_key)


def _preflight(config: SyncConfig, translator: DHIS2Translator) -> AssetsDefinition:
    @asset(
        key=translator.preflight_key(),
        group_name=config.id,
        required_resource_keys={translator.sync_resource_key},
        kinds={"dhis2"},
        tags={KIND_TAG: "preflight"},
        description=translator.preflight_description(),
    )
    def preflight(context: AssetExecutionContext) -> MaterializeResult:
        return _sync(context, translator).preflight(context, config)

    return preflight


def _metadata(config: SyncConfig, translator: DHIS2Translator) -> AssetsDefinition:
    @multi_asset(
        name=translator.identifier + METADATA_STEP,
        specs=[translator.metadata_spec(collection) for collection in config.metadata_resources],
        can_subset=True,
        required_resource_keys={translator.sync_resource_key},
        pool=translator.import_pool,
        retry_policy=translator.retry_policy,
    )
    def sync_metadata(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        yield from _sync(context, translator).sync_metadata(context, config)

    return sync_metadata


def _metadata_checks(config: SyncConfig, translator: DHIS2Translator) -> AssetChecksDefinition:
    @multi_asset_check(
        name=translator.identifier + METADATA_CHECK_STEP,
        specs=[translator.uid_check_spec(collection) for collection in config.metadata_resources],
        can_subset=True,
        required_resource_keys={translator.sync_resource_key},
        pool=translator.import_pool,  # it heals, so it writes
        retry_policy=translator.retry_policy,
    )
    def verify_metadata(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        yield from _sync(context, translator).verify_metadata(context, config)

    return verify_metadata


def _data_set(config: SyncConfig, translator: DHIS2Translator, data_set: str) -> AssetsDefinition:
    return _writing_asset(translator, translator.data_spec(data_set),
                          partial(DHIS2SyncResource.sync_data_set, config=config, data_set=data_set))


def _data_set_check(config: SyncConfig, translator: DHIS2Translator, data_set: str) -> AssetChecksDefinition:
    return _blocking_check(translator, translator.values_check_spec(data_set), VALUES_CHECK,
                           partial(DHIS2SyncResource.verify_data_set, config=config, data_set=data_set),
                           writes=True)  # it heals, so it writes


def _program(config: SyncConfig, translator: DHIS2Translator, program: str) -> AssetsDefinition:
    return _writing_asset(translator, translator.tracker_spec(program),
                          partial(DHIS2SyncResource.sync_tracker, config=config, program=program))


def _program_check(config: SyncConfig, translator: DHIS2Translator, program: str) -> AssetChecksDefinition:
    return _blocking_check(translator, translator.tracker_check_spec(program), TRACKER_CHECK,
                           partial(DHIS2SyncResource.verify_tracker, config=config, program=program),
                           writes=False)


def _writing_asset(translator: DHIS2Translator, spec: AssetSpec,
                   body: Callable[[DHIS2SyncResource, AssetExecutionContext], MaterializeResult]) -> AssetsDefinition:
    """One asset of its own step: `body(sync resource, context)`, in the destination's pool."""

    @asset(
        key=spec.key,
        group_name=spec.group_name,
        deps=spec.deps,
        kinds=spec.kinds,
        tags=spec.tags,
        description=spec.description,
        required_resource_keys={translator.sync_resource_key},
        pool=translator.import_pool,
        retry_policy=translator.retry_policy,
    )
    def sync_one(context: AssetExecutionContext) -> MaterializeResult:
        return body(_sync(context, translator), context)

    return sync_one


def _blocking_check(translator: DHIS2Translator, spec: AssetCheckSpec, name: str,
                    body: Callable[[DHIS2SyncResource, AssetCheckExecutionContext], AssetCheckResult],
                    *, writes: bool) -> AssetChecksDefinition:
    """A check of its own step after its asset: `body(sync resource, context)`; in the destination's
    pool when it writes."""

    @asset_check(
        asset=spec.asset_key,
        name=name,
        blocking=spec.blocking,
        description=spec.description,
        required_resource_keys={translator.sync_resource_key},
        pool=translator.import_pool if writes else None,
        retry_policy=translator.retry_policy,
    )
    def verify_one(context: AssetCheckExecutionContext) -> AssetCheckResult:
        return body(_sync(context, translator), context)

    return verify_one
