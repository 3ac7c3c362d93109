"""The DuckDB warehouse's faults, with real processes: the file locked by another process, and a
run SIGKILLed in the middle of a partition write (a real raw_signals materialization) or of the
write-audit-publish path (write_version, publish and its pruning). A killed run leaves every
table whole, the published version still served, a file that opens and takes writes, and a
re-run that lands on exactly the rows of an uninterrupted run.

Covered elsewhere, not repeated here: a write that fails with an error keeps the previous rows
(tests/storage/test_warehouse.py::test_a_failed_write_keeps_the_previous_rows), the publication
pointer, rollback and pruning themselves (tests/storage/test_publication.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings
from leadflow.paths import PROJECT_ROOT
from leadflow.storage.publication import KEEP_VERSIONS
from leadflow.storage.warehouse import write_version
from tests.faults.crash import PREFILTER, prefilter_version, publish_version

DAY = date(2026, 11, 20)
LARGE = 130_000  # more than one DuckDB row group (122,880 rows): written to the file before the commit


def _crash(job: str, database: Path, kill_at: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.faults.crash", job, "--database", str(database), "--kill-at", kill_at]
    return subprocess.run([*command, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)


def _assert_killed(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert "DONE" not in done.stdout  # killed mid-write, not after it


def _rows(database: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(database)) as conn:
        return conn.execute(sql).df()


# ---- the file locked by another process --------------------------------------------------------


HOLDER = """
import duckdb, sys
conn = duckdb.connect(sys.argv[1])
conn.execute("CREATE TABLE IF NOT EXISTS kept AS SELECT 1 AS x")
conn.execute("BEGIN TRANSACTION")
conn.execute("INSERT INTO kept VALUES (2)")  # never committed
print("HELD", flush=True)
sys.stdin.readline()
"""


def _hold(database: Path) -> subprocess.Popen[str]:
    """A second Python process with the warehouse open for writing and a transaction in flight."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "HELD"
    return holder


def test_a_locked_warehouse_is_a_clear_error_then_a_bounded_wait_that_connects(tmp_path):
    database = tmp_path / "leadflow.duckdb"
    holder = _hold(database)
    try:
        # DuckDB refuses a second writer at once, naming it; the warehouse (dagster-duckdb's
        # get_connection) retries with backoff and re-raises this once its wait is over.
        with pytest.raises(duckdb.IOException) as locked:
            duckdb.connect(str(database))
        assert "Could not set lock" in str(locked.value) and f"PID {holder.pid}" in str(locked.value)

        assert holder.stdin is not None
        release = threading.Timer(1.0, holder.stdin.close)  # the holder lets go a second into the wait
        release.start()
        started = time.monotonic()
        with DuckDBWarehouse(database=str(database)).get_connection() as conn:
            waited = time.monotonic() - started
            assert conn.execute("SELECT x FROM kept").fetchall() == [(1,)]  # its uncommitted row is gone
            conn.execute("INSERT INTO kept VALUES (3)")
        release.join()
        assert 1.0 <= waited < 5.0  # waited for the lock, then connected
    finally:
        holder.kill()
        holder.wait()
    assert _rows(database, "SELECT x FROM kept ORDER BY x")["x"].tolist() == [1, 3]


def test_a_lock_holder_killed_mid_transaction_frees_the_file_intact(tmp_path):
    database = tmp_path / "leadflow.duckdb"
    holder = _hold(database)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with DuckDBWarehouse(database=str(database)).get_connection() as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(1,)]


# ---- kill -9 during a raw_signals materialization --------------------------------------------------


def _sources(root: Path, jobs: int, bad: int, tag: str) -> Path:
    """A jobs file of `jobs` postings (and `bad` broken lines) dated by the import date."""
    lines = [
        json.dumps(
            {
                "job_id": f"{tag}-{i}",
                "title": f"Data Engineer {i} ({tag})",
                "description": f"Build pipelines for a B2B SaaS team of {50 + i % 400} people. " * 8,
            }
        )
        for i in range(jobs)
    ]
    (root / "jobs.jsonl").write_text("\n".join(lines + ["{broken"] * bad) + "\n")
    sources = root / "sources.yaml"
    sources.write_text(
        yaml.safe_dump(
            {"sources": [{"name": "jobs", "format": "jsonl_jobs", "path": "jobs.jsonl", "import_date": DAY}]}
        )
    )
    return sources


def _materialize(database: Path, sources: Path) -> None:
    result = dg.materialize(
        [raw_signals],
        partition_key=DAY.isoformat(),
        resources={
            "duckdb": DuckDBWarehouse(database=str(database)),
            "pipeline": PipelineSettings(sources_path=str(sources), imports_dir=str(sources.parent / "imports")),
        },
    )
    assert result.success


def _partition(database: Path) -> dict[str, pd.DataFrame]:
    return {
        name: _rows(database, f"SELECT * EXCLUDE (run_id) FROM {name} ORDER BY ALL")
        for name in ("raw_signals", "quarantined_signals")
    }


@pytest.fixture(scope="module")
def new_import(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """The import a run is killed in (larger than the one before it), and what an uninterrupted
    run of it writes."""
    root = tmp_path_factory.mktemp("new-import")
    sources = _sources(root, jobs=1500, bad=3, tag="new")
    _materialize(root / "clean.duckdb", sources)
    return sources, _partition(root / "clean.duckdb")


def test_kill_9_during_the_raw_signals_write_keeps_each_table_whole_and_the_rerun_is_idempotent(tmp_path, new_import):
    sources, expected = new_import
    database = tmp_path / "leadflow.duckdb"
    _materialize(database, _sources(tmp_path, jobs=40, bad=2, tag="old"))
    before = _partition(database)
    runs_before = _rows(database, "SELECT DISTINCT run_id FROM source_counts")

    # Killed at the commit of the write: signals, quarantine and counts are one transaction.
    _assert_killed(
        _crash(
            "materialize",
            database,
            "warehouse.transaction:COMMIT:1",
            "--sources",
            str(sources),
            "--partition",
            DAY.isoformat(),
        )
    )
    after = _partition(database)
    for name, rows in after.items():  # every table holds its old rows: nothing of the killed run
        pd.testing.assert_frame_equal(rows, before[name])
    assert _rows(database, "SELECT DISTINCT run_id FROM source_counts").equals(runs_before)

    _materialize(database, sources)  # the re-run
    pd.testing.assert_frame_equal(_partition(database)["raw_signals"], expected["raw_signals"])
    _materialize(database, sources)  # and again: the same rows, no duplicates
    final = _partition(database)
    for name, rows in final.items():
        pd.testing.assert_frame_equal(rows, expected[name])
    assert final["raw_signals"]["signal_id"].is_unique


# ---- kill -9 during write-audit-publish ------------------------------------------------------------


def _leads(database: Path) -> pd.DataFrame:
    return _rows(database, "SELECT run_id, count(*) AS n, count(DISTINCT signal_id) AS ids FROM leads GROUP BY run_id")


def _versions(database: Path) -> pd.DataFrame:
    """Per stored version: its rows and its status rows."""
    return _rows(
        database,
        f"""SELECT run_id, (SELECT count(*) FROM {PREFILTER} p WHERE p.run_id = v.run_id) AS leads,
                   count(*) FILTER (status = 'written') AS written
            FROM version_status v GROUP BY run_id ORDER BY run_id""",
    )


@pytest.mark.parametrize(
    "kill_at, published",
    [
        ("warehouse.transaction:COMMIT:1", "run-a"),  # write_version of run-b, every row inserted
        ("warehouse.transaction:COMMIT:2", "run-a"),  # publish of run-b, its version written
        ("publication._prune:DELETE FROM:2", "run-b"),  # pruning after the publish, one table done
    ],
    ids=["write-commit", "publish-commit", "prune"],
)
def test_kill_9_during_a_publish_keeps_a_published_version_served_and_the_rerun_is_idempotent(
    tmp_path, kill_at, published
):
    database = tmp_path / "leadflow.duckdb"
    publish_version(str(database), DAY, "run-a", 1000)
    with duckdb.connect(str(database)) as conn:  # unpublished versions beyond those kept: prunable
        for n in range(KEEP_VERSIONS + 1):
            write_version(conn, PREFILTER, [DAY], f"run-c{n}", prefilter_version(DAY, f"run-c{n}", 10))
    versions_before = _versions(database)

    _assert_killed(
        _crash("publish", database, kill_at, "--partition", DAY.isoformat(), "--run-id", "run-b", "--rows", str(LARGE))
    )
    leads = _leads(database)
    rows = 1000 if published == "run-a" else LARGE
    assert leads.values.tolist() == [[published, rows, rows]]  # one version served, whole
    versions = _versions(database)
    for _, version in versions.iterrows():  # no version half there: rows and status agree
        assert (version["leads"] > 0) == (version["written"] > 0), version.to_dict()
    assert set(versions_before["run_id"]) <= set(versions["run_id"])  # the killed prune removed nothing

    publish_version(str(database), DAY, "run-b", LARGE)  # the re-run
    assert _leads(database).values.tolist() == [["run-b", LARGE, LARGE]]
    publish_version(str(database), DAY, "run-b", LARGE)  # and again
    assert _leads(database).values.tolist() == [["run-b", LARGE, LARGE]]
    assert _rows(database, f"SELECT count(*) AS n FROM {PREFILTER} WHERE run_id = 'run-b'")["n"][0] == LARGE
