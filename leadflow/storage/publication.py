"""Write-audit-publish over the versioned tables: which version a reader sees, publishing,
rollback and failure marking. Every change is one row appended, so history is kept and a
rollback is a one-row pointer move.
"""

from collections.abc import Sequence
from datetime import date

import duckdb

from leadflow.storage.schema import VERSIONED
from leadflow.storage.warehouse import ensure_schema, has_schema, transaction

KEEP_VERSIONS = 3  # unpublished versions kept per partition (failed ones stay for inspection)


def working_versions(conn: duckdb.DuckDBPyConnection, partition_dates: Sequence[date], run_id: str) -> dict[date, str]:
    """The version each partition's downstream stages read: this run's if it wrote one, else
    the published one, else the newest version that has not failed."""
    if not has_schema(conn):
        return {}
    rows = conn.execute(
        """
        WITH days AS (SELECT UNNEST(?::DATE[]) AS partition_date),
        mine AS (SELECT DISTINCT partition_date, run_id FROM version_status WHERE run_id = ? AND status = 'written'),
        failed AS (SELECT partition_date, run_id FROM version_status WHERE status = 'failed'),
        newest AS (
            SELECT w.partition_date, w.run_id FROM version_status w
            WHERE w.status = 'written' AND NOT EXISTS (
                SELECT 1 FROM failed f WHERE f.partition_date = w.partition_date AND f.run_id = w.run_id)
            QUALIFY row_number() OVER (PARTITION BY w.partition_date ORDER BY w.seq DESC) = 1)
        SELECT d.partition_date, coalesce(m.run_id, c.run_id, n.run_id)
        FROM days d
        LEFT JOIN mine m USING (partition_date)
        LEFT JOIN current_publications c USING (partition_date)
        LEFT JOIN newest n USING (partition_date)
        """,
        [list(partition_dates), run_id],
    ).fetchall()
    return {day: version for day, version in rows if version is not None}


def version_filter(versions: dict[date, str]) -> tuple[str, list]:
    """A WHERE fragment (and its parameters) selecting exactly these (partition, version) pairs."""
    if not versions:
        return "FALSE", []
    clause = " OR ".join("(partition_date = ? AND run_id = ?)" for _ in versions)
    return f"({clause})", [value for pair in versions.items() for value in pair]


def published_versions(conn: duckdb.DuckDBPyConnection, partition_dates: Sequence[date]) -> dict[date, str]:
    if not has_schema(conn):
        return {}
    rows = conn.execute(
        "SELECT partition_date, run_id FROM current_publications WHERE partition_date = ANY(?::DATE[])",
        [list(partition_dates)],
    ).fetchall()
    return {day: run for day, run in rows if run is not None}


def publish(conn: duckdb.DuckDBPyConnection, versions: dict[date, str], note: str = "") -> dict[date, str | None]:
    """Point each partition at its version; returns the versions they replaced."""
    ensure_schema(conn)
    previous = published_versions(conn, list(versions))
    with transaction(conn):
        for day, run_id in versions.items():
            if previous.get(day) == run_id:
                continue
            conn.execute(
                """INSERT INTO publications (partition_date, run_id, prev_run_id, action, note)
                   VALUES (?, ?, ?, 'publish', ?)""",
                [day, run_id, previous.get(day), note],
            )
            conn.execute(
                "INSERT INTO version_status (partition_date, run_id, status) VALUES (?, ?, 'published')", [day, run_id]
            )
    _prune(conn, list(versions))
    return {day: previous.get(day) for day in versions}


def rollback(conn: duckdb.DuckDBPyConnection, day: date, note: str = "") -> tuple[str | None, str | None]:
    """Restore the version published before the current one; returns (from, to).

    Repeated rollbacks keep stepping back through the publication history.
    """
    ensure_schema(conn)
    current = conn.execute(
        "SELECT run_id, prev_run_id FROM current_publications WHERE partition_date = ?", [day]
    ).fetchone()
    if current is None or current[0] is None:
        raise ValueError(f"partition {day} has no published version to roll back")
    from_run, to_run = current
    before_target = None
    if to_run is not None:
        row = conn.execute(
            """SELECT prev_run_id FROM publications WHERE partition_date = ? AND run_id = ? AND action = 'publish'
               ORDER BY seq DESC LIMIT 1""",
            [day, to_run],
        ).fetchone()
        before_target = row[0] if row else None
    with transaction(conn):
        conn.execute(
            """INSERT INTO publications (partition_date, run_id, prev_run_id, action, note)
               VALUES (?, ?, ?, 'rollback', ?)""",
            [day, to_run, before_target, note or f"rolled back from {from_run}"],
        )
        conn.execute(
            "INSERT INTO version_status (partition_date, run_id, status, detail) VALUES (?, ?, 'rolled_back', ?)",
            [day, from_run, note],
        )
    return from_run, to_run


def mark_failed(conn: duckdb.DuckDBPyConnection, partition_dates: Sequence[date], run_id: str, reason: str) -> None:
    """Quarantine a version: it is kept for inspection but never read downstream or published."""
    ensure_schema(conn)
    conn.executemany(
        "INSERT INTO version_status (partition_date, run_id, status, detail) VALUES (?, ?, 'failed', ?)",
        [[day, run_id, reason] for day in partition_dates],
    )


def _prune(conn: duckdb.DuckDBPyConnection, partition_dates: list[date]) -> None:
    """Drop old versions nobody can reach: not in the publication history, not failed, and
    not among the newest KEEP_VERSIONS written. One transaction: a crash midway leaves no
    version whose status rows outlive its rows."""
    with transaction(conn):
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE prunable AS
            SELECT w.partition_date, w.run_id FROM (
                SELECT partition_date, run_id,
                       row_number() OVER (PARTITION BY partition_date ORDER BY last_seq DESC) AS age
                FROM (SELECT partition_date, run_id, max(seq) AS last_seq FROM version_status
                      WHERE status = 'written' AND partition_date = ANY(?::DATE[]) GROUP BY partition_date, run_id)) w
            WHERE w.age > {KEEP_VERSIONS}
              AND NOT EXISTS (SELECT 1 FROM publications p WHERE p.partition_date = w.partition_date AND
                              (p.run_id = w.run_id OR p.prev_run_id = w.run_id))
              AND NOT EXISTS (SELECT 1 FROM version_status f WHERE f.partition_date = w.partition_date AND
                              f.run_id = w.run_id AND f.status = 'failed')
            """,
            [partition_dates],
        )
        for table in (*VERSIONED, "version_status"):
            conn.execute(
                f"DELETE FROM {table} t USING prunable x "
                "WHERE t.partition_date = x.partition_date AND t.run_id = x.run_id"
            )
