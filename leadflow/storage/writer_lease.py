"""A cluster-wide lease on the warehouse: a PostgreSQL advisory lock held for the life of each
warehouse connection, so workers on several hosts share one DuckDB file (on storage every host
mounts at the same path) one connection at a time.

Why a lease and not another warehouse: DuckDB's lakehouse format (DuckLake, PostgreSQL catalog
plus Parquet on shared storage) ships on PyPI only for DuckDB <= 1.5.5, and its extension
refuses to load into the DuckDB 2.0.1 leadflow pins (tried: "built specifically for DuckDB
version 'v1.5.5'"); DuckDB's postgres extension likewise. Every write of leadflow is already a
short connection (never held across an LLM call) and one transaction, so serializing connections
costs milliseconds per write while the LLM work of the workers runs in parallel, and every
write-audit-publish step (a version written, a pointer moved, a rollback) runs alone, as on one
host. The lock is the PostgreSQL session's: a worker killed mid-write loses it with its
connection, and DuckDB's write-ahead log undoes the transaction it left open.
"""

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2

CONNECT_TIMEOUT_S = 10


def lease_key(name: str) -> int:
    """The advisory-lock key of a warehouse (its path as configured): 64 signed bits."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


@contextmanager
def writer_lease(url: str, name: str) -> Iterator[float]:
    """Hold the lease of warehouse `name` on the PostgreSQL server at `url` (waiting for it as
    long as another worker holds it); yields the seconds waited."""
    libpq_url = url.replace("postgresql+psycopg2://", "postgresql://", 1)  # the Dagster instance's form works too
    conn = psycopg2.connect(libpq_url, connect_timeout=CONNECT_TIMEOUT_S, application_name="leadflow-writer-lease")
    try:
        conn.autocommit = True
        started = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [lease_key(name)])
        yield time.perf_counter() - started
    finally:
        conn.close()  # ends the session, which releases its advisory locks
