"""Short DuckDB connections that wait for the writer instead of failing.

DuckDB lets one process write a file, and while it does no other process may open it, not
even read-only (`Could not set lock on file`). The pipeline holds its connections only for a
write (never across LLM calls), so a reader or a label written beside a run (the lead browser,
`leadflow label`) polls for the lock at a short, jittered interval until `wait_s`, and gets
the file as soon as the run lets go: dagster-duckdb's exponential backoff would sleep up to
51 s past the release. Inside one process DuckDB also refuses a read-only and a read-write
connection to the same file at once; that conflict is waited out the same way. With a
cluster-wide writer lease (`leadflow.storage.writer_lease`, several hosts on one file) the
connection is opened under the lease, as every pipeline connection is.
"""

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import duckdb
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random

from leadflow.storage.private import private_file
from leadflow.storage.writer_lease import writer_lease

LOCK_WAIT_S = 120.0  # longer than any single write of a run
DUCKDB_WAL = ".wal"  # DuckDB's write-ahead log: the database file's name plus this
_CONFLICTS = ("Could not set lock on file", "different configuration than existing connections")


class WarehouseMissing(FileNotFoundError):
    """No warehouse file yet: nothing was materialized."""


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether `exc` is another connection holding the file (worth waiting for), not a real error."""
    return isinstance(exc, duckdb.Error) and any(text in str(exc) for text in _CONFLICTS)


@contextmanager
def waiting_connection(
    database: str | Path, read_only: bool = False, wait_s: float = LOCK_WAIT_S, lease_url: str = ""
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to an existing warehouse file, opened once no writer holds it (at most
    `wait_s` seconds, then the lock error is raised) and, with `lease_url`, under the cluster's
    writer lease; closed, and the file kept owner-only, at exit."""
    path = str(database)
    if not Path(path).is_file():
        raise WarehouseMissing(f"no warehouse at {path}: run the pipeline first (`leadflow demo` or `leadflow import`)")
    retrying = Retrying(
        retry=retry_if_exception(is_lock_conflict),
        wait=wait_random(0.05, 0.25),
        stop=stop_after_delay(wait_s),
        reraise=True,
    )
    with writer_lease(lease_url, path) if lease_url else nullcontext():
        conn = retrying(duckdb.connect, path, read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()
            if not read_only:
                private_file(path, DUCKDB_WAL)
