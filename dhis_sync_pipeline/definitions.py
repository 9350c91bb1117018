"""The Dagster code location: everything is built from the configuration file.

The file is `./dhis_sync.yaml` unless `DHIS_SYNC_CONFIG` names another. A mistake in it stops the
code location from loading with a message naming the file, the key and the fix, which Dagster
shows in the UI and in `dagster definitions validate`.
"""

from dhis_sync_pipeline.config import load_config
from dhis_sync_pipeline.orchestration.build import build_definitions

defs = build_definitions(load_config())
