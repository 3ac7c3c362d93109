"""DuckDB tables and the one write path: replace whole partitions in a single transaction.

Every writer deletes the partitions it owns and inserts their new rows in one transaction,
so a re-run yields the same rows and a crash mid-run leaves the previous rows intact.
DuckDB allows one writer process: callers open short connections (never across LLM calls)
and run inside the `duckdb_write` Dagster pool.
"""

from collections.abc import Sequence
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
}


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    for name, columns in TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")


def replace_partitions(
    conn: duckdb.DuckDBPyConnection, table: str, partition_dates: Sequence[date], frame: pd.DataFrame
) -> int:
    """Atomically replace `partition_dates` of `table` with `frame`'s rows; returns rows written."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    ensure_tables(conn)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {table} WHERE partition_date = ANY(?::DATE[])", [list(partition_dates)])
        if len(frame):
            conn.register("incoming_rows", frame)
            conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
            conn.unregister("incoming_rows")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(frame)


def read_partitions(conn: duckdb.DuckDBPyConnection, table: str, partition_dates: Sequence[date]) -> pd.DataFrame:
    ensure_tables(conn)
    return conn.execute(
        f"SELECT * FROM {table} WHERE partition_date = ANY(?::DATE[])", [list(partition_dates)]
    ).df()
