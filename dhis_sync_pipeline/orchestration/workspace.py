"""The workspace.yaml every Dagster process of this project loads: one code location, `dhis_sync`."""

from __future__ import annotations

from pathlib import Path

LOCATION_NAME = "dhis_sync"


def workspace_file(directory: Path) -> Path:
    path = directory / "workspace.yaml"
    path.write_text(
        "load_from:\n  - python_module:\n"
        "      module_name: dhis_sync_pipeline.definitions\n"
        f"      location_name: {LOCATION_NAME}\n",
        encoding="utf-8",
    )
    return path
