"""The fault suite's fixture: scenarios append their verdict rows (printed by faults/report.py)."""

from __future__ import annotations

import pytest

from dhis_sync_pipeline_tests.faults.report import COLUMNS, ROWS  # noqa: F401 (COLUMNS: the row keys)


@pytest.fixture(scope="session")
def fault_table(request) -> list[dict]:
    """Append one dict per scenario, with the keys of COLUMNS."""
    return request.config.stash.setdefault(ROWS, [])
