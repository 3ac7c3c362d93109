"""DuckDB tables and their two write paths, both one transaction per call.

- Replaced tables (raw_signals, quarantined_signals, signal_embeddings, quality_metrics):
  deterministic functions of their input; a write replaces whole partitions.
- Versioned tables (prefilter_scores, dossiers): write-audit-publish. Each run writes its own
  version (rows tagged with run_id); readers use the `leads` and `published_dossiers` views,
  which follow a per-partition publication pointer (see `leadflow.storage.publication`).

A re-run yields the same rows and a crash mid-run leaves earlier rows intact. DuckDB allows
one writer process: callers open short connections (never across LLM calls) and run inside
the `duckdb_write` Dagster pool.
"""

from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date

import duckdb
import pandas as pd

TABLES: dict[str, str] = {
    "raw_signals": """
        partition_date DATE NOT NULL, signal_id VARCHAR NOT NULL, source VARCHAR, kind VARCHAR,
        position VARCHAR, external_id VARCHAR, signal_date DATE, title VARCHAR, company VARCHAR,
        text VARCHAR, content_hash VARCHAR, attributes JSON, run_id VARCHAR""",
    "quarantined_signals": """
        partition_date DATE NOT NULL, source VARCHAR, kind VARCHAR, position VARCHAR,
        reason VARCHAR, excerpt VARCHAR, run_id VARCHAR""",
    "signal_embeddings": """
        partition_date DATE NOT NULL, signal_id VARCHAR NOT NULL, model VARCHAR, dims INTEGER,
        title_vec FLOAT[], text_vec FLOAT[], best_icp VARCHAR, icp_similarity DOUBLE,
        icp_similarities JSON, run_id VARCHAR""",
    "prefilter_scores": """
        partition_date DATE NOT NULL, signal_id VARCHAR NOT NULL, kind VARCHAR, title VARCHAR,
        content_hash VARCHAR, rule_hit BOOLEAN, icp_similarity DOUBLE, cheap_score DOUBLE,
        llm_used BOOLEAN, llm_score INTEGER, hiring BOOLEAN, role_function VARCHAR,
        seniority VARCHAR, reasons JSON, final_score DOUBLE, bucket VARCHAR, model VARCHAR,
        prompt_version VARCHAR, llm_error VARCHAR, llm_calls INTEGER, cache_tier VARCHAR,
        latency_s DOUBLE, tokens_in INTEGER, tokens_out INTEGER, run_id VARCHAR""",
    "dossiers": """
        partition_date DATE NOT NULL, signal_id VARCHAR NOT NULL, title VARCHAR, final_score DOUBLE,
        bucket VARCHAR, dossier JSON, chars INTEGER, model VARCHAR, prompt_version VARCHAR,
        error VARCHAR, llm_calls INTEGER, cache_tier VARCHAR, latency_s DOUBLE, tokens_in INTEGER,
        tokens_out INTEGER, run_id VARCHAR""",
    "quality_metrics": """
        partition_date DATE NOT NULL, signals INTEGER, quarantined INTEGER, quarantine_rate DOUBLE,
        embedded INTEGER, scored INTEGER, llm_classified INTEGER, invalid_outputs INTEGER,
        invalid_rate DOUBLE, dossiers INTEGER, dossier_errors INTEGER, big_model_share DOUBLE,
        buckets JSON, llm JSON, run_id VARCHAR""",
    "version_status": """
        partition_date DATE NOT NULL, run_id VARCHAR NOT NULL, status VARCHAR NOT NULL,
        detail VARCHAR, seq BIGINT DEFAULT nextval('leadflow_seq'), recorded_at TIMESTAMP DEFAULT now()""",
    "publications": """
        partition_date DATE NOT NULL, run_id VARCHAR, prev_run_id VARCHAR, action VARCHAR NOT NULL,
        note VARCHAR, seq BIGINT DEFAULT nextval('leadflow_seq'), recorded_at TIMESTAMP DEFAULT now()""",
    "golden_evaluations": """
        run_id VARCHAR NOT NULL, model VARCHAR, prompt_version VARCHAR, golden_rows INTEGER,
        precision DOUBLE, recall DOUBLE, f1 DOUBLE, report JSON,
        seq BIGINT DEFAULT nextval('leadflow_seq'), recorded_at TIMESTAMP DEFAULT now()""",
    "incidents": """
        run_id VARCHAR NOT NULL, job VARCHAR, partitions VARCHAR, error VARCHAR,
        recorded_at TIMESTAMP DEFAULT now()""",
}
VERSIONED = ("prefilter_scores", "dossiers")

VIEWS = {
    "current_publications": """
        SELECT partition_date, run_id, prev_run_id, action, recorded_at FROM publications
        QUALIFY row_number() OVER (PARTITION BY partition_date ORDER BY seq DESC) = 1""",
    "leads": """
        SELECT p.* FROM prefilter_scores p
        JOIN current_publications c ON p.partition_date = c.partition_date AND p.run_id = c.run_id""",
    "published_dossiers": """
        SELECT d.* FROM dossiers d
        JOIN current_publications c ON d.partition_date = c.partition_date AND d.run_id = c.run_id""",
}


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("CREATE SEQUENCE IF NOT EXISTS leadflow_seq")
    for name, columns in TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
    for name, query in VIEWS.items():
        conn.execute(f"CREATE OR REPLACE VIEW {name} AS {query}")


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection):
    """One DuckDB transaction: committed on success, rolled back on any error or interrupt."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _insert(conn: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    if len(frame):
        conn.register("incoming_rows", frame)
        conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
        conn.unregister("incoming_rows")


def replace_partitions(
    conn: duckdb.DuckDBPyConnection, table: str, partition_dates: Sequence[date], frame: pd.DataFrame
) -> int:
    """Atomically replace `partition_dates` of `table` with `frame`'s rows; returns rows written."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    ensure_tables(conn)
    with transaction(conn):
        conn.execute(f"DELETE FROM {table} WHERE partition_date = ANY(?::DATE[])", [list(partition_dates)])
        _insert(conn, table, frame)
    return len(frame)


def write_version(
    conn: duckdb.DuckDBPyConnection, table: str, partition_dates: Sequence[date], run_id: str, frame: pd.DataFrame
) -> int:
    """Atomically (re)write `run_id`'s version of `partition_dates`; other versions stay."""
    if table not in VERSIONED:
        raise ValueError(f"{table!r} is not a versioned table")
    ensure_tables(conn)
    days = list(partition_dates)
    with transaction(conn):
        conn.execute(f"DELETE FROM {table} WHERE partition_date = ANY(?::DATE[]) AND run_id = ?", [days, run_id])
        _insert(conn, table, frame)
        if table == VERSIONED[0]:
            conn.execute(
                "DELETE FROM version_status WHERE partition_date = ANY(?::DATE[]) AND run_id = ? AND status = 'written'",
                [days, run_id],
            )
            conn.executemany(
                "INSERT INTO version_status (partition_date, run_id, status) VALUES (?, ?, 'written')",
                [[day, run_id] for day in days],
            )
    return len(frame)


def read_partitions(conn: duckdb.DuckDBPyConnection, table: str, partition_dates: Sequence[date]) -> pd.DataFrame:
    ensure_tables(conn)
    return conn.execute(f"SELECT * FROM {table} WHERE partition_date = ANY(?::DATE[])", [list(partition_dates)]).df()
