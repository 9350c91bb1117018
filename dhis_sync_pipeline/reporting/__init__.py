"""What sync runs did over the last days, read from Dagster's own run and event records, and its
exports (CSV, JSON) for `dhis-sync report` and the dashboard's history page."""
