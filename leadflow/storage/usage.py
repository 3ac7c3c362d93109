"""The token ledger and the cache-hit audits in the warehouse: written by each LLM stage of a run,
read by the run's later stages (what the run already spent of its token budget), by the audit
check and by `leadflow usage`."""

import json
from typing import Any

import duckdb
import pandas as pd

from leadflow.llm.cache_audit import AuditResult
from leadflow.storage.warehouse import append, ensure_schema, has_schema, transaction

USAGE_COLUMNS = (
    "requests",
    "engine_calls",
    "cache_hits",
    "tokens_in",
    "tokens_in_cached",
    "tokens_out",
    "replayed_in",
    "replayed_out",
    "hosted_cost",
    "replayed_cost",
)


def write_usage(
    conn: duckdb.DuckDBPyConnection, run_id: str, partitions: str, stage: str, rows: list[dict[str, Any]]
) -> None:
    """A stage's ledger rows (`leadflow.llm.ledger.usage_rows`), under `partitions` (the run's
    span) unless a row names its own (a day of a range run: `partition_usage_rows`); a
    re-executed stage of the same run replaces its rows."""
    ensure_schema(conn)
    with transaction(conn):
        conn.execute("DELETE FROM llm_usage WHERE run_id = ? AND stage = ?", [run_id, stage])
        for row in rows:
            append(conn, "llm_usage", {"run_id": run_id, "partitions": partitions, "stage": stage, **row})


def run_tokens(conn: duckdb.DuckDBPyConnection, run_id: str, before_stage: str) -> int:
    """Engine tokens the run's other stages recorded (what its token budget has lost already)."""
    if not has_schema(conn):
        return 0
    spent = conn.execute(
        "SELECT sum(tokens_in + tokens_out) FROM llm_usage WHERE run_id = ? AND stage <> ?", [run_id, before_stage]
    ).fetchone()
    return int(spent[0] or 0) if spent else 0


def write_audit(conn: duckdb.DuckDBPyConnection, run_id: str, partitions: str, stage: str, audit: AuditResult) -> None:
    append(
        conn,
        "cache_audits",
        {
            "run_id": run_id,
            "partitions": partitions,
            "stage": stage,
            "hits": audit.hits,
            "audited": audit.audited,
            "changed": audit.changed,
            "unstable": audit.unstable,
            "failed": audit.failed,
            "examples": json.dumps(audit.examples),
        },
    )


def usage_report(conn: duckdb.DuckDBPyConnection, runs: int, run_id: str | None = None) -> pd.DataFrame:
    """Ledger rows summed per run, partition span and stage, the latest `runs` runs (or `run_id`)."""
    if not has_schema(conn):
        return pd.DataFrame()
    sums = ", ".join(f"sum({c}) AS {c}" for c in USAGE_COLUMNS)
    where, params = ("run_id = ?", [run_id]) if run_id else ("TRUE", [])
    return conn.execute(
        f"""
        WITH latest AS (
            SELECT run_id, max(recorded_at) AS latest_at FROM llm_usage WHERE {where} GROUP BY run_id
            ORDER BY latest_at DESC LIMIT ?
        )
        SELECT u.run_id, min(u.recorded_at) AS started, u.partitions, u.stage, {sums}
        FROM llm_usage u JOIN latest USING (run_id)
        GROUP BY u.run_id, u.partitions, u.stage ORDER BY started, u.run_id, min(u.seq)
        """,
        [*params, runs],
    ).df()
