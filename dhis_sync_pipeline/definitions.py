"""The Dagster code location: everything is built from the configuration file.

The file is `./dhis_sync.yaml` unless `DHIS_SYNC_CONFIG` names another. A mistake in it stops the
code location from loading with a message naming the file, the key and the fix, which Dagster
shows in the UI and in `dagster definitions validate`. A secret variable the file names but this
process lacks only warns (on the process's stderr, where `dagster definitions validate`, the
daemon and the webserver print it): the location still loads, and runs fail until it is set.
"""

from dagster import get_dagster_logger

from dhis_sync_pipeline.config import load_config
from dhis_sync_pipeline.code_location import build_definitions

_sync_file = load_config()
for _warning in _sync_file.unset_secrets():
    get_dagster_logger("dhis_sync").warning(_warning)

defs = build_definitions(_sync_file)
