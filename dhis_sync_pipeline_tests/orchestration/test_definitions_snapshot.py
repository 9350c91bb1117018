"""What a configuration file becomes in Dagster, compared with a reviewed snapshot.

The snapshot (snapshots/sample_definitions.json) lists every asset with its deps, group, kinds,
tags and check specs, every job with its tags and assets, every sensor and schedule. A change to
the translator or the factory that alters any of it fails here, in a second, with the difference;
when the change is meant, rewrite the snapshot with `DHIS_SYNC_UPDATE_SNAPSHOTS=1 pytest <this file>`
and review its diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dhis_sync_pipeline.code_location import build_definitions
from dhis_sync_pipeline.config import load_config

HERE = Path(__file__).parent / "snapshots"
SNAPSHOT = HERE / "sample_definitions.json"


def structure(defs) -> dict:
    repository = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/kind/")},
            "step": node.assets_def.node_def.name,
            "pool": node.assets_def.node_def.pool,
            "retries": node.assets_def.node_def.retry_policy.max_retries if node.assets_def.node_def.retry_policy else 0,
            "checks": sorted(
                f"{check.name}{' (blocking)' if check.blocking else ''}"
                for check in map(graph.get_check_spec, graph.get_check_keys_for_assets({key}))
            ),
        }
    jobs = {}
    for job in sorted(repository.get_all_jobs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "tags": dict(sorted(job.tags.items())),
            "assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
        }
    return {
        "assets": assets,
        "jobs": jobs,
        "sensors": sorted(
            f"{sensor.name} ({type(sensor).__name__}, every {sensor.minimum_interval_seconds} s, "
            f"{sensor.default_status.value})" for sensor in repository.sensor_defs),
        "schedules": sorted(f"{s.name}: {s.cron_schedule} → {s.job_name}" for s in repository.schedule_defs),
        "resources": sorted(defs.resources),
    }


def test_the_sample_file_builds_the_reviewed_definitions(monkeypatch):
    monkeypatch.delenv("DHIS_SYNC_EXECUTOR", raising=False)
    built = structure(build_definitions(load_config(HERE / "sample_sync.yaml")))
    if os.environ.get("DHIS_SYNC_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(built, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert built == json.loads(SNAPSHOT.read_text(encoding="utf-8"))
