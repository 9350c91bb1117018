"""What each DHIS2 resource of a sync configuration becomes in Dagster: the one place to look.

As in Dagster's own integrations (dagster-sling's `DagsterSlingTranslator`, dagster-fivetran's
translator), one class answers, for the preflight step, a metadata type, a dataSet (and a
tracker program): its asset key, group, dependencies, kinds, tags, description and check specs,
and the pool and retry policy of the steps that write to the destination. The asset modules
only put these specs on `multi_asset`/`asset` and call the sync resource.

Keys: `[<config_id>, "preflight"]`, `[<config_id>, "metadata", <type>]`,
`[<config_id>, "data", <dataSet uid>]`, `[<config_id>, "tracker", <program uid>]`.
"""

from __future__ import annotations

import re

from dagster import AssetCheckKey, AssetCheckSpec, AssetKey, AssetSpec, Backoff, Jitter, RetryPolicy

from dhis_sync_pipeline.config import DATA_VALUES_RESOURCE, SyncConfig
from dhis_sync_pipeline.dhis2.metadata_types import upstream_types

UID_CHECK = "destination_has_all_source_uids"
VALUES_CHECK = "destination_holds_source_values"
TRACKER_CHECK = "destination_holds_source_tracker"
# The metadata data values refer to: a dataSet's asset runs after these types (when synced).
DATA_REFERENCES = ("organisationUnits", "categoryOptionCombos", "dataElements", "dataSets")
# The metadata tracker objects refer to: a programme's asset runs after these types (when synced).
TRACKER_REFERENCES = ("organisationUnits", "options", "optionSets", "dataElements", "trackedEntityAttributes",
                      "trackedEntityTypes", "programStages", "programs")
KIND_TAG = "dhis_sync/kind"
# Op names of the metadata step and its UID check step: <config id>__metadata[_uids].
METADATA_STEP = "__metadata"
METADATA_CHECK_STEP = "__metadata_uids"


class DHIS2Translator:
    """Specs of one sync configuration's assets and checks."""

    def __init__(self, config: SyncConfig):
        self.config = config

    # ---------------------------------------------------------------------------- keys

    def preflight_key(self) -> AssetKey:
        return AssetKey([self.config.id, "preflight"])

    def metadata_key(self, collection: str) -> AssetKey:
        return AssetKey([self.config.id, "metadata", collection])

    def data_key(self, data_set: str) -> AssetKey:
        return AssetKey([self.config.id, "data", data_set])

    def tracker_key(self, program: str) -> AssetKey:
        return AssetKey([self.config.id, "tracker", program])

    def uid_check_key(self, collection: str) -> AssetCheckKey:
        return AssetCheckKey(self.metadata_key(collection), UID_CHECK)

    def values_check_key(self, data_set: str) -> AssetCheckKey:
        return AssetCheckKey(self.data_key(data_set), VALUES_CHECK)

    def keys_for_resource(self, resource: str) -> list[AssetKey]:
        """The assets that sync a monitored resource (dataValues: every data asset)."""
        if resource == DATA_VALUES_RESOURCE:
            data_sets = self.config.data.data_sets if self.config.data else ()
            return [self.data_key(data_set) for data_set in data_sets]
        if resource in self.config.metadata_resources:
            return [self.metadata_key(resource)]
        return []

    # ---------------------------------------------------------------------------- specs

    def metadata_spec(self, collection: str) -> AssetSpec:
        config = self.config
        upstream = sorted(upstream_types(collection, frozenset(config.metadata_resources)))
        return AssetSpec(
            key=self.metadata_key(collection),
            group_name=config.id,
            deps=[self.preflight_key(), *(self.metadata_key(name) for name in upstream)],
            kinds={"dhis2"},
            tags={KIND_TAG: "metadata"},
            description=f"DHIS2 {collection} from {config.source} to {config.destination}.",
            skippable=True,  # the step syncs only the selected types (sensors pick what changed)
        )

    def uid_check_spec(self, collection: str) -> AssetCheckSpec:
        return AssetCheckSpec(
            UID_CHECK,
            asset=self.metadata_key(collection),
            description="Every source UID of the type exists on the destination (what lacks is sent again "
            "first); fails the run, after every type and dataSet was attempted, when one is still missing "
            "or the type's rejections exceed the tolerance.",
        )

    def data_spec(self, data_set: str) -> AssetSpec:
        config = self.config
        referenced = [self.metadata_key(name) for name in DATA_REFERENCES if name in config.metadata_resources]
        return AssetSpec(
            key=self.data_key(data_set),
            group_name=config.id,
            deps=[self.preflight_key(), *referenced],
            kinds={"dhis2"},
            tags={KIND_TAG: "data"},
            description=f"Aggregate data values of dataSet {data_set} from {config.source} to {config.destination}.",
        )

    def values_check_spec(self, data_set: str) -> AssetCheckSpec:
        return AssetCheckSpec(
            VALUES_CHECK,
            asset=self.data_key(data_set),
            blocking=True,
            description="The destination holds exactly the source's values of the dataSet in scope (counts and "
            "checksums of key + value per org unit and period); what differs is sent again first.",
        )

    def tracker_spec(self, program: str) -> AssetSpec:
        config = self.config
        referenced = [self.metadata_key(name) for name in TRACKER_REFERENCES if name in config.metadata_resources]
        return AssetSpec(
            key=self.tracker_key(program),
            group_name=config.id,
            deps=[self.preflight_key(), *referenced],
            kinds={"dhis2"},
            tags={KIND_TAG: "tracker"},
            description=f"Tracker data (tracked entities, enrollments, events, relationships) of programme "
            f"{program} from {config.source} to {config.destination}.",
        )

    def tracker_check_spec(self, program: str) -> AssetCheckSpec:
        return AssetCheckSpec(
            TRACKER_CHECK,
            asset=self.tracker_key(program),
            blocking=True,
            description="The destination holds the source's tracked entities, enrollments and events of the "
            "programme in scope, org unit by org unit.",
        )

    def preflight_description(self) -> str:
        config = self.config
        return (
            f"Checks that {config.source} (source) and {config.destination} (destination) answer "
            "and accept our credentials, and that the configured dataSets, programmes and org unit "
            "roots exist on the source, before anything is written."
        )

    # ---------------------------------------------------------------------------- limits

    @property
    def identifier(self) -> str:
        """The configuration id as a Python identifier, for op and resource names."""
        return _identifier(self.config.id)

    @property
    def sync_resource_key(self) -> str:
        """The resource that does this configuration's work (see sync_resource.py)."""
        return "dhis2_sync_" + self.identifier

    @property
    def import_pool(self) -> str:
        """Steps that write to one destination share a pool: with the instance's default limit of 1
        (dagster.yaml `concurrency.pools.default_limit`), one import at a time per server, unless an
        operator raises it (`dagster instance concurrency set <pool> <n>`)."""
        return "dhis2_import_" + _identifier(self.config.destination)

    @property
    def retry_policy(self) -> RetryPolicy | None:
        """Step retries for errors that may pass (server down, 5xx): exponential, with jitter so that
        configurations retrying against one server do not come back in step."""
        retries = self.config.step_retries
        if retries.max_retries <= 0:
            return None
        return RetryPolicy(
            max_retries=retries.max_retries,
            delay=retries.delay_seconds,
            backoff=Backoff.EXPONENTIAL,
            jitter=Jitter.PLUS_MINUS,
        )


def _identifier(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).lower()
