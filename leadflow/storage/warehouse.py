"""DuckDB writes, both one transaction per call, over the tables of `leadflow.storage.schema`.

- Replaced tables (raw_signals, quarantined_signals, signal_embeddings, quality_metrics):
  deterministic functions of their input; a write replaces whole partitions.
- Versioned tables (prefilter_scores, dossiers): write-audit-publish. Each run writes its own
  version (rows tagged with run_id); readers use the `leads` and `published_dossiers` views,
  which follow a per-partition publication pointer (see `leadflow.storage.publication`).

A re-run yields the same rows and a crash mid-run leaves earlier rows intact. DuckDB allows
one writer process: callers open short connections (never across LLM calls) and run inside
the Dagster writer pool. The schema is created by the first write of a process to a database
file; read paths never run DDL and treat a database without it as empty.
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from leadflow.storage.schema import VERSIONED, VIEWS, statements, table

_ready: set[str] = set()  # database files whose schema this process created


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The one value of a query that always returns one row."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def has_schema(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the schema exists: reads on a database nobody wrote to yet find nothing."""
    last_view = list(VIEWS)[-1]  # created last
    query = "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database() AND view_name = ?"
    return bool(_scalar(conn, query, [last_view]))


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every sequence, table and view, once per process and database file (so tables
    added to the schema reach an existing file); again only if the file lost them since."""
    path = _scalar(conn, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    if has_schema(conn) and (path is None or path in _ready):  # None: in-memory
        return
    for statement in statements():
        conn.execute(statement)
    if path is not None:
        _ready.add(path)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB transaction: committed on success, rolled back on any error or interrupt."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _insert(conn: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    if len(frame):
        conn.register("incoming_rows", frame)
        conn.execute(f"INSERT INTO {name} BY NAME SELECT * FROM incoming_rows")
        conn.unregister("incoming_rows")


def replace_partitions(
    conn: duckdb.DuckDBPyConnection, name: str, partition_dates: Sequence[date], frame: pd.DataFrame
) -> int:
    """Atomically replace `partition_dates` of table `name` with `frame`'s rows; returns rows written."""
    replace_together(conn, partition_dates, {name: frame})
    return len(frame)


def replace_together(
    conn: duckdb.DuckDBPyConnection,
    partition_dates: Sequence[date],
    frames: Mapping[str, pd.DataFrame],
    appended: Sequence[tuple[str, Mapping[str, Any]]] = (),
) -> None:
    """Replace `partition_dates` of several tables and append rows to append-only ones in ONE
    transaction, so a crash leaves either every old row or every new one (raw_signals writes
    its signals, their rejects and its counts this way: the counts always describe the rows)."""
    for name in (*frames, *(name for name, _ in appended)):
        table(name)  # an unknown table fails before anything is written
    ensure_schema(conn)
    days = list(partition_dates)
    with transaction(conn):
        for name, frame in frames.items():
            conn.execute(f"DELETE FROM {name} WHERE partition_date = ANY(?::DATE[])", [days])
            _insert(conn, name, frame)
        for name, row in appended:
            _append_row(conn, name, row)


def write_version(
    conn: duckdb.DuckDBPyConnection, name: str, partition_dates: Sequence[date], run_id: str, frame: pd.DataFrame
) -> int:
    """Atomically (re)write `run_id`'s version of `partition_dates`; other versions stay."""
    if name not in VERSIONED:
        raise ValueError(f"{name!r} is not a versioned table")
    ensure_schema(conn)
    days = list(partition_dates)
    with transaction(conn):
        conn.execute(f"DELETE FROM {name} WHERE partition_date = ANY(?::DATE[]) AND run_id = ?", [days, run_id])
        _insert(conn, name, frame)
        if name == VERSIONED[0]:
            conn.execute(
                """DELETE FROM version_status
                   WHERE partition_date = ANY(?::DATE[]) AND run_id = ? AND status = 'written'""",
                [days, run_id],
            )
            conn.executemany(
                "INSERT INTO version_status (partition_date, run_id, status) VALUES (?, ?, 'written')",
                [[day, run_id] for day in days],
            )
    return len(frame)


def append(conn: duckdb.DuckDBPyConnection, name: str, row: Mapping[str, Any]) -> None:
    """Insert one row of an append-only table (incidents, evaluations); unknown columns fail."""
    ensure_schema(conn)
    _append_row(conn, name, row)


def _append_row(conn: duckdb.DuckDBPyConnection, name: str, row: Mapping[str, Any]) -> None:
    unknown = set(row) - set(table(name).written)
    if unknown:
        raise ValueError(f"{name} has no columns {sorted(unknown)}")
    conn.execute(
        f"INSERT INTO {name} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )


def read_partitions(conn: duckdb.DuckDBPyConnection, name: str, partition_dates: Sequence[date]) -> pd.DataFrame:
    """Every row of `partition_dates`; a database without the schema has none."""
    if not has_schema(conn):
        return pd.DataFrame(columns=[c.name for c in table(name).columns])
    return conn.execute(f"SELECT * FROM {name} WHERE partition_date = ANY(?::DATE[])", [list(partition_dates)]).df()
