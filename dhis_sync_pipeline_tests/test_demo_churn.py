"""The demo's automatic configuration sees what the demo's churn changes on a real emulated source:
one round of changes is exactly what the sensor's change check then finds."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from dhis_sync_pipeline import demo
from dhis_sync_pipeline.automation.changes import has_changed
from dhis_sync_pipeline.config import load_config
from dhis_sync_pipeline.dhis2 import BasicAuth, DHIS2Client

emulator = pytest.importorskip("dhis_sync_pipeline.emulator")


def test_one_round_of_churn_is_seen_by_the_automatic_configurations_change_check(tmp_path):
    from dhis_sync_pipeline.emulator import EmulatorServer

    with EmulatorServer(seed="generated") as source:
        data_sets, org_units = demo.discover_data_scope(source.base_url)
        setup = demo.write_demo_files(tmp_path, 1, 2, data_sets, org_units)
        sync_file = load_config(setup.config_file)
        assert [c.execution_mode for c in sync_file.sync_configurations] == ["manual", "automatic"]
        auto = sync_file.sync_config(demo.DEMO_AUTO_CONFIG_ID)
        assert auto.auto.enabled and auto.auto.check_interval == 60

        with DHIS2Client(source.base_url, auth=BasicAuth("admin", demo.DEMO_PASSWORD)) as client:
            # DHIS2 keeps data values' lastUpdated to the second: compare from the next whole second.
            since = client.system_info().server_date.replace(microsecond=0) + dt.timedelta(seconds=1)
            assert not has_changed(client, auto, "dataElements", since)
            time.sleep(1.1)
            churn = demo.SourceChurn(source.base_url, data_sets, org_units, every=3600)
            try:
                churn.change_once()
            finally:
                churn.stop()
            assert has_changed(client, auto, "dataElements", since)
            assert has_changed(client, auto, "dataValues", since)
            assert not has_changed(client, auto, "organisationUnits", since)
