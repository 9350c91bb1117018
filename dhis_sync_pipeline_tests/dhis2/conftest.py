"""Shared fixtures for the DHIS2 client tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ../shared/dhis2_fixtures next to the repository (never copied into it).
FIXTURES_DIR = Path(os.environ.get("DHIS2_FIXTURES", Path(__file__).resolve().parents[3] / "shared" / "dhis2_fixtures"))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"DHIS2 fixtures not found at {FIXTURES_DIR} (set DHIS2_FIXTURES)")
    return FIXTURES_DIR
