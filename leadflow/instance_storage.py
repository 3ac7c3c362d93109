"""dagster-postgres's run, event-log and schedule storages, holding their connections open.

dagster-postgres opens a new PostgreSQL connection for every storage call (SQLAlchemy's
NullPool) unless the process is the webserver, and a backfilled partition makes dozens of
calls: each event stored, its asset or check index row, the check table's existence test. A
connection costs ~10 ms of PostgreSQL backend start here, which was most of a partition's
bookkeeping (bench.orchestration_overhead, docs/scaling.md). These classes are the same
storages with the pooling Dagster gives its webserver (`optimize_for_webserver`: one connection
kept per storage and process, overflow connections closed when returned, no statement timeout),
released when the instance is disposed. The cluster profile names them in dagster.yaml.
"""

from typing import Any

from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

NO_STATEMENT_TIMEOUT = 0
POOL_RECYCLE_S = 3600  # a kept connection older than this is replaced (what the webserver uses)
POOL_MAX_OVERFLOW = 20  # connections beyond the kept one, for threads (the webserver's default)


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
    """Also remembers that the asset-check table exists (a migration never removes it), which
    dagster-postgres otherwise asks the catalog before storing each check evaluation."""

    _has_check_table = False

    @property
    def supports_asset_checks(self) -> bool:
        self._has_check_table = self._has_check_table or super().supports_asset_checks
        return self._has_check_table


class PooledPostgresScheduleStorage(_Pooled, PostgresScheduleStorage):
    pass
