"""Dagster's own cost of the metadata step: the same asset specs, a body that does no work.

Started by bench/run.py as its own process (`python -m bench.dagster_floor …`) on a fresh Dagster
home like the sync's. It builds the metadata `multi_asset` of the bench's configuration from the
translator (same keys, deps, kinds, tags) with a body that only yields one `MaterializeResult` per
type, runs it twice (first into a home with no materializations, then again) and prints the two
step times as one JSON line. Whatever the sync step takes beyond this is the sync's own work.
"""

import argparse
import json
import sys
from collections.abc import Iterator

from dagster import AssetExecutionContext, DagsterInstance, MaterializeResult, materialize, multi_asset

from dhis_sync_pipeline.config import load_config
from dhis_sync_pipeline.orchestration.translator import DHIS2Translator
from dhis_sync_pipeline.sync.metadata import dependency_order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dagster_floor")
    parser.add_argument("--config", required=True, help="the dhis_sync.yaml written by the bench")
    parser.add_argument("--config-id", required=True)
    args = parser.parse_args(argv)

    config = load_config(args.config).sync_config(args.config_id)
    translator = DHIS2Translator(config)

    @multi_asset(name="empty_metadata_step", can_subset=True,
                 specs=[translator.metadata_spec(c) for c in config.metadata_resources])
    def empty_metadata_step(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        for collection in dependency_order(list(config.metadata_resources)):  # as the sync yields them
            # About as many metadata entries as a real type's materialization carries.
            yield MaterializeResult(asset_key=translator.metadata_key(collection),
                                    metadata={f"count_{i}": i for i in range(12)})

    seconds = []
    with DagsterInstance.get() as instance:
        for _ in range(2):
            result = materialize([empty_metadata_step], instance=instance, raise_on_error=True)
            stats = instance.get_run_step_stats(result.run_id)
            seconds.append(round(sum((s.end_time or 0) - (s.start_time or 0) for s in stats), 3))
    print(json.dumps({"types": len(config.metadata_resources), "first_step_seconds": seconds[0],
                      "again_step_seconds": seconds[1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
