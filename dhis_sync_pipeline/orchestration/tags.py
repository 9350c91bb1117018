"""Run tags that sync runs carry; the CLI, sensors, dagster.yaml and dashboard select runs by them."""

CONFIG_TAG = "dhis_sync/config"  # the configuration id; dagster.yaml allows one run per value
DESTINATION_TAG = "dhis_sync/destination"  # the destination instance name; dagster.yaml limits runs per server
FULL_SYNC_TAG = "dhis_sync/full_sync"  # "true": ignore watermarks and resend everything in scope
STARTED_BY_TAG = "dhis_sync/started_by"  # sensor, schedule, cli, demo, dashboard, in_process
TRIGGER_TAG = "dhis_sync/trigger_id"  # lets `dhis-sync trigger` find the run it launched
