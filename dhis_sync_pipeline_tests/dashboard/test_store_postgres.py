"""The progress store follows the Dagster instance: SQLite in DAGSTER_HOME, or dagster-postgres' database."""

from __future__ import annotations

import uuid

import pytest
from dagster import DagsterInstance

from dhis_sync_pipeline.config import load_config
from dhis_sync_pipeline.launch import execute_in_process
from dhis_sync_pipeline.dashboard.status import StatusService
from dhis_sync_pipeline.progress.store import SQLITE_FILE, get_store, store_url_for_instance
from dhis_sync_pipeline_tests.dashboard.conftest import SYNCED

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


def test_sqlite_store_lives_in_dagster_home(live_env):
    instance = DagsterInstance.get()
    assert store_url_for_instance(instance) == f"sqlite:///{live_env.home / SQLITE_FILE}"


@pytest.fixture
def postgres_database():
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(f"{PG_SERVER}/postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 (user postgres): {exc}")
    admin.autocommit = True
    name = f"dhis_sync_progress_test_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        from dhis_sync_pipeline.progress import store as store_module

        for url in [u for u in store_module._STORES if name in u]:
            store_module._STORES.pop(url).dispose()
            store_module._ENGINES.pop(url, None)
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_postgres_instance_keeps_progress_in_its_own_database(live_env, postgres_database, tmp_path, monkeypatch):
    import psycopg2

    home = tmp_path / "pg_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        f"storage:\n  postgres:\n    postgres_url: postgresql+psycopg2://postgres@127.0.0.1:5432/{postgres_database}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        url = store_url_for_instance(instance)
        assert url == f"postgresql+psycopg2://postgres@127.0.0.1:5432/{postgres_database}"
        live_env.source.faults.clear()
        try:
            sync_file = load_config(live_env.config_file)
            run_id = execute_in_process(sync_file, "local_97_94", instance, full_sync=True)
        finally:
            live_env.source.faults.configure(latency=0.25)
        assert instance.get_run_by_id(run_id).status.value == "SUCCESS"

        # Read back with plain psycopg2 from the instance's own database, beside Dagster's tables.
        with psycopg2.connect(f"{PG_SERVER}/{postgres_database}") as conn, conn.cursor() as cursor:
            cursor.execute("SELECT resource, synced + errors, total FROM dhis_sync_progress WHERE run_id = %s "
                           "ORDER BY resource", (run_id,))
            rows = cursor.fetchall()
            cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'")
            assert cursor.fetchone()[0] == 1
        assert [r[0] for r in rows] == sorted(SYNCED)
        assert all(processed == total and total > 0 for _, processed, total in rows)
        assert not (home / SQLITE_FILE).exists()

        last = StatusService(instance, get_store(url), sync_file).progress("local_97_94")["last_job"]
        assert last["id"] == run_id and last["status"] == "completed"
        assert last["total_synced"] + last["total_errors"] == sum(r[1] for r in rows)
