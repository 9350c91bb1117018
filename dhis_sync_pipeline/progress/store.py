"""Where sync steps record how far they have got: one row per (Dagster run, DHIS2 resource).

Steps run in their own processes, so progress lives in a database every process can reach: the
PostgreSQL database of dagster-postgres when the Dagster instance uses it (tables prefixed
`dhis_sync_`), else an SQLite file beside the instance in `$DAGSTER_HOME`. Only counts live here;
whether a run is queued, running, finished or failed is always read from the Dagster instance.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

SQLITE_FILE = "dhis_sync_progress.db"
TABLE_PREFIX = "dhis_sync_"

metadata_obj = sa.MetaData()

progress_table = sa.Table(
    f"{TABLE_PREFIX}progress",
    metadata_obj,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("resource", sa.String(255), primary_key=True),
    sa.Column("config_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # metadata | data
    sa.Column("synced", sa.Integer, nullable=False, default=0),
    sa.Column("errors", sa.Integer, nullable=False, default=0),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("current_step", sa.String(255), nullable=True),
    sa.Column("started_at", sa.DateTime, nullable=False),  # naive UTC
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime, nullable=True),
    sa.Index(f"{TABLE_PREFIX}progress_config_updated", "config_id", "updated_at"),
)


@dataclass(frozen=True)
class ResourceProgress:
    run_id: str
    config_id: str
    resource: str
    kind: str
    synced: int
    errors: int
    total: int
    current_step: str | None
    started_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def processed(self) -> int:
        return self.synced + self.errors

    @property
    def fraction(self) -> float:
        """How much of this resource is done, 0..1 (a resource with nothing to do is done)."""
        if self.finished_at is not None:
            return 1.0
        if self.total <= 0:
            return 0.0
        return min(1.0, self.processed / self.total)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class ProgressStore:
    """Reads and writes progress rows with SQLAlchemy Core; safe to share between threads."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        _create_tables(self.engine)

    # --- writing (sync steps) ----------------------------------------------------------------

    def record(
        self,
        *,
        run_id: str,
        config_id: str,
        resource: str,
        kind: str,
        synced: int,
        errors: int,
        total: int,
        current_step: str | None,
        finished: bool = False,
    ) -> None:
        now = utcnow()
        values = dict(
            config_id=config_id,
            kind=kind,
            synced=int(synced),
            errors=int(errors),
            total=int(total),
            current_step=current_step,
            updated_at=now,
        )
        if finished:
            values["finished_at"] = now
        key = (progress_table.c.run_id == run_id) & (progress_table.c.resource == resource)
        with self.engine.begin() as conn:
            updated = conn.execute(sa.update(progress_table).where(key).values(**values)).rowcount
            if not updated:
                try:
                    conn.execute(
                        sa.insert(progress_table).values(run_id=run_id, resource=resource, started_at=now, **values)
                    )
                except sa.exc.IntegrityError:  # another process inserted it first
                    conn.execute(sa.update(progress_table).where(key).values(**values))

    # --- reading (API and dashboard) ---------------------------------------------------------

    def run_progress(self, run_id: str) -> list[ResourceProgress]:
        query = sa.select(progress_table).where(progress_table.c.run_id == run_id).order_by(progress_table.c.started_at)
        with self.engine.connect() as conn:
            return [ResourceProgress(**row._mapping) for row in conn.execute(query)]

    def totals_by_run(self, run_ids: list[str]) -> dict[str, tuple[int, int]]:
        """(synced, errors) summed over resources, per run."""
        if not run_ids:
            return {}
        query = (
            sa.select(
                progress_table.c.run_id,
                sa.func.sum(progress_table.c.synced),
                sa.func.sum(progress_table.c.errors),
            )
            .where(progress_table.c.run_id.in_(run_ids))
            .group_by(progress_table.c.run_id)
        )
        with self.engine.connect() as conn:
            return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in conn.execute(query)}

    def total_synced(self, config_ids: list[str] | None = None) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(progress_table.c.synced), 0))
        if config_ids is not None:
            query = query.where(progress_table.c.config_id.in_(config_ids))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def dispose(self) -> None:
        self.engine.dispose()


# --- where the store lives ------------------------------------------------------------------


def store_url_for_instance(instance: Any) -> str:
    """The progress database that belongs with this Dagster instance."""
    postgres_url = getattr(instance.run_storage, "postgres_url", None)
    if postgres_url:
        return sqlalchemy_postgres_url(postgres_url)
    root = _root_directory(instance)
    return f"sqlite:///{Path(root) / SQLITE_FILE}"


def sqlalchemy_postgres_url(url: str) -> str:
    """dagster-postgres URLs as SQLAlchemy 2.1 wants them (the psycopg2 driver named)."""
    for scheme in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


def _root_directory(instance: Any) -> str:
    try:
        return instance.root_directory
    except Exception:  # an ephemeral instance has none  # noqa: BLE001
        import tempfile

        return tempfile.gettempdir()


_ENGINES: dict[str, Engine] = {}
_CREATED: set[str] = set()
_LOCK = threading.Lock()


def _engine(url: str) -> Engine:
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = sa.create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4)
            _ENGINES[url] = engine
        return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the steps writing
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _create_tables(engine: Engine) -> None:
    key = str(engine.url)
    if key in _CREATED:
        return
    try:
        metadata_obj.create_all(engine, checkfirst=True)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError, sa.exc.OperationalError):
        # Two processes creating the table at once: the loser finds it there.
        if not sa.inspect(engine).has_table(progress_table.name):
            raise
    _CREATED.add(key)


_STORES: dict[str, ProgressStore] = {}


def get_store(url: str) -> ProgressStore:
    with _LOCK:
        store = _STORES.get(url)
    if store is None:
        store = ProgressStore(url)
        with _LOCK:
            _STORES.setdefault(url, store)
    return store
