"""Dagster's run, event-log and schedule storages, keeping what their stock versions rebuild
on every call.

- **PostgreSQL** (the cluster profile): dagster-postgres opens a new PostgreSQL connection for
  every storage call (SQLAlchemy's NullPool) unless the process is the webserver, and a
  backfilled partition makes dozens of calls: each event stored, its asset or check index row,
  the check table's existence test. A connection costs ~10 ms of PostgreSQL backend start here,
  which was most of a partition's bookkeeping (bench.orchestration_overhead, docs/scaling.md).
  These classes are the same storages with the pooling Dagster gives its webserver
  (`optimize_for_webserver`: one connection kept per storage and process, overflow connections
  closed when returned, no statement timeout), released when the instance is disposed. The
  event log also writes in one transaction what dagster-postgres writes one autocommitted
  statement at a time: a range run's planned materializations and a step's check evaluations
  (one per day each), which were the rest of a partition's bookkeeping.
- **SQLite** (the local profile): the stock storages create a new SQLAlchemy engine for every
  call, and SQLAlchemy's compiled-statement cache lives in the engine, so each of a partition's
  ~190 storage calls compiled its statements afresh (a third of the bookkeeping's CPU,
  profiled). These keep one engine per database file; connections are still opened and closed
  per call (NullPool), so locking and what other processes see are unchanged.

The profiles name these classes in dagster.yaml (leadflow/instance.py).
"""

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster._check as check
import sqlalchemy as db
from dagster import AssetKey
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, BATCH_WRITABLE_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import SqlEventLogStorageTable
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

NO_STATEMENT_TIMEOUT = 0
POOL_RECYCLE_S = 3600  # a kept connection older than this is replaced (what the webserver uses)
POOL_MAX_OVERFLOW = 20  # connections beyond the kept one, for threads (the webserver's default)
MAX_SQLITE_ENGINES = 64  # engines kept per storage: the event log has one database file per run
MAX_HELD_EVENTS = 1000  # check evaluations held at most before they are stored


class _Pooled:
    """Built from dagster.yaml like its dagster-postgres base, then pooled; disposing the
    instance closes the kept connections."""

    _engine: Any

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        storage = cls(  # type: ignore[call-arg]
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
        storage.optimize_for_webserver(NO_STATEMENT_TIMEOUT, POOL_RECYCLE_S, POOL_MAX_OVERFLOW)  # type: ignore[attr-defined]
        return storage

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine.dispose()


class PooledPostgresRunStorage(_Pooled, PostgresRunStorage):
    pass


class PooledPostgresEventLogStorage(_Pooled, PostgresEventLogStorage):
    """Also writes together what Dagster hands over one event at a time, and remembers that the
    asset-check table exists (a migration never removes it), which dagster-postgres otherwise
    asks the catalog before storing each check evaluation.

    - **Check evaluations** (one per check and day of a range run) are held and stored before
      the storage is next used for anything, a read included, in this process: a step's
      evaluations go in one transaction just before its next event (its output, its success or
      failure), so every one is stored, in order, before the step ends, and whatever the process
      reads sees them. A process killed mid-step loses that step's held evaluations only (its
      checks stay planned, as for any unfinished step; the range is re-run); a finished step's
      are stored.
    - **Batches Dagster itself hands over** (`DAGSTER_EVENT_BATCH_SIZE`), other than the
      materializations and observations dagster-postgres already writes together (the planned
      materializations and checks of a run: one per asset and day), go in one transaction, with
      one insert for their event rows and, as dagster-postgres does for a batch of
      materializations, the asset table updated from each asset's last event.

    The rows written are dagster-postgres's own; what changes is how many transactions and
    statements carry them: a step's evaluations take one insert of event rows and one update of
    their planned check rows (dagster-postgres: three statements each, each committed), and each
    evaluation is serialized once for both. The NOTIFY that dagster-postgres still sends for each
    single event (no Dagster reader listens since its event watcher polls) is not sent for these,
    as for its own batches."""

    _has_check_table = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._held: list[EventLogEntry] = []
        self._held_lock = threading.Lock()
        self._writing = threading.local()  # the connection of the transaction this thread is writing in
        super().__init__(*args, **kwargs)

    @property
    def supports_asset_checks(self) -> bool:
        self._has_check_table = self._has_check_table or super().supports_asset_checks
        return self._has_check_table

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """Every storage call's connection: the one of the transaction being written, else the
        kept one, once the held evaluations are stored."""
        conn = getattr(self._writing, "conn", None)
        if conn is not None:
            yield conn
            return
        self.store_held_events()
        with super()._connect() as conn:
            yield conn

    def store_event(self, event: EventLogEntry) -> None:
        if event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION and event.run_id:
            with self._held_lock:
                self._held.append(event)
                if len(self._held) < MAX_HELD_EVENTS:
                    return
            self.store_held_events()
            return
        super().store_event(event)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        kinds = {event.dagster_event_type for event in events}
        if kinds in ({DagsterEventType.ASSET_MATERIALIZATION}, {DagsterEventType.ASSET_OBSERVATION}):
            super().store_event_batch(events)  # dagster-postgres's own bulk write
            return
        check.invariant(kinds <= BATCH_WRITABLE_EVENTS, f"{BATCH_WRITABLE_EVENTS} are the only events for batch writes")
        self.store_held_events()  # stored in the order they came
        self._store_together(
            [event for event in events if not event.get_dagster_event().is_asset_failed_to_materialize]
        )

    def store_held_events(self) -> None:
        """Store the held check evaluations now (each storage call does first)."""
        if not self._held:
            return
        with self._held_lock:  # held until they are in: another thread's call waits, then reads them
            try:
                self._store_together(self._held)
            finally:
                self._held = []  # stored, or lost with the step their failure fails

    def _store_together(self, events: Sequence[EventLogEntry]) -> None:
        """`events` in one transaction: one insert of their rows, then what dagster-postgres
        indexes for them (asset and asset-check tables), on the same connection."""
        if not events:
            return
        rows = [self._event_to_row(event) for event in events]
        with super()._connect() as conn:
            conn = conn.execution_options(isolation_level="READ COMMITTED")
            with conn.begin():
                self._writing.conn = conn
                try:
                    insert = SqlEventLogStorageTable.insert().values(rows).returning(SqlEventLogStorageTable.c.id)
                    stored = list(zip(events, conn.execute(insert).scalars().all(), strict=True))
                    assets = [(e, n) for e, n in stored if e.dagster_event_type in ASSET_EVENTS and _asset_key(e)]
                    if assets:
                        self._store_asset_event_tags(conn, [e for e, _ in assets], [n for _, n in assets])
                        for event, event_id in {_asset_key(e): (e, n) for e, n in assets}.values():
                            self._store_asset_event(conn, event, event_id)  # each asset's last event
                    evaluations = []
                    for (event, event_id), row in zip(stored, rows, strict=True):
                        if event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION and event.run_id:
                            evaluations.append((event, event_id, row["event"]))
                        elif event.dagster_event_type in ASSET_CHECK_EVENTS:
                            self.store_asset_check_event(event, event_id)
                    if evaluations:
                        self._fill_check_executions(conn, evaluations)
                finally:
                    self._writing.conn = None

    def _fill_check_executions(self, conn: Connection, evaluations: list[tuple[EventLogEntry, int, str]]) -> None:
        """dagster-postgres's `_update_asset_check_evaluation` for many evaluations at once (it
        takes two statements for each): each fills the row its run planned for its check and
        partition (one update for all), or, where none was planned, a new one (one insert)."""
        check.invariant(self.supports_asset_checks, "Asset checks require `dagster instance migrate`.")
        table = AssetCheckExecutionsTable
        filled = []
        for event, event_id, serialized in evaluations:
            evaluation = event.get_dagster_event().asset_check_evaluation_data
            target = evaluation.target_materialization_data
            status = (
                AssetCheckExecutionRecordStatus.SUCCEEDED
                if evaluation.passed
                else AssetCheckExecutionRecordStatus.FAILED
            )
            filled.append(
                {
                    "asset_key": evaluation.asset_key.to_string(),
                    "check_name": evaluation.check_name,
                    "run_id": event.run_id,
                    "partition": evaluation.partition,
                    "execution_status": status.value,
                    "evaluation_event": serialized,  # the event row's own serialization
                    "evaluation_event_timestamp": self._event_insert_timestamp(event),
                    "evaluation_event_storage_id": event_id,
                    "materialization_event_storage_id": target.storage_id if target else None,
                }
            )
        names = list(filled[0])
        given = db.values(db.column("n", db.Integer), *(db.column(name) for name in names), name="given")
        given = given.data([(n, *row.values()) for n, row in enumerate(filled)])
        update = (
            table.update()
            .where(
                table.c.asset_key == given.c.asset_key,
                table.c.check_name == given.c.check_name,
                table.c.run_id == given.c.run_id,
                db.or_(
                    table.c.partition == given.c.partition,
                    db.and_(table.c.partition.is_(None), given.c.partition.is_(None)),
                ),
            )
            .values({name: db.cast(given.c[name], table.c[name].type) for name in names})
            .returning(given.c.n)
        )
        done = Counter(conn.execute(update).scalars().all())
        if any(count > 1 for count in done.values()):
            raise DagsterInvariantViolationError("an asset check evaluation updated several planned rows")
        unplanned = [row for n, row in enumerate(filled) if n not in done]
        if unplanned:
            conn.execute(table.insert(), unplanned)

    def dispose(self) -> None:
        self.store_held_events()
        super().dispose()


def _asset_key(event: EventLogEntry) -> AssetKey | None:
    return event.dagster_event.asset_key if event.dagster_event else None


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    pass


class _Engines:
    """One SQLAlchemy engine per SQLite database URL, the least recently used dropped past
    `MAX_SQLITE_ENGINES`; each connection is opened and closed per use (NullPool)."""

    def __init__(self, **engine_args: Any) -> None:
        self._engine_args = engine_args
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> Engine:
        with self._lock:
            engine = self._engines.get(url)
            if engine is None:
                engine = self._engines[url] = create_engine(url, poolclass=NullPool, **self._engine_args)
                if len(self._engines) > MAX_SQLITE_ENGINES:
                    self._engines.popitem(last=False)[1].dispose()
            self._engines.move_to_end(url)
            return engine


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


class _KeptEngine:
    """A stock SQLite run or schedule storage whose `connect` keeps its engine."""

    _engines = _Engines()
    _conn_string: str

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # the stock one builds its own class
        return cls.from_local(inst_data=inst_data, **config_value)  # type: ignore[attr-defined]

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with _transaction(self._engines.get(self._conn_string)) as conn:
            yield conn


class KeptEngineSqliteRunStorage(_KeptEngine, SqliteRunStorage):
    pass


class KeptEngineSqliteScheduleStorage(_KeptEngine, SqliteScheduleStorage):
    pass


class KeptEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """One engine per shard (the index and each run's file); also remembers that the
    asset-check table exists, which the stock storage asks before each check evaluation."""

    _engines = _Engines(connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    _has_check_table = False

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:  # as the stock _connect: one storage call at a time per process
            engine = self._engines.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with _transaction(engine) as conn:
                yield conn

    def has_table(self, table_name: str) -> bool:
        engine = self._engines.get(self.conn_string_for_shard(INDEX_SHARD_NAME))
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))

    @property
    def supports_asset_checks(self) -> bool:
        self._has_check_table = self._has_check_table or super().supports_asset_checks
        return self._has_check_table
