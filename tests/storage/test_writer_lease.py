"""Several workers writing one warehouse through the PostgreSQL writer lease (real PostgreSQL,
real worker processes, one real DuckDB file): write-audit-publish keeps its guarantees, and a
worker killed inside a write transaction leaves nothing of it and frees the lease."""

import multiprocessing
import os
import signal
import time
from datetime import date, timedelta
from multiprocessing.synchronize import Barrier, Event

import pandas as pd
import psycopg2
import pytest

from leadflow.defs.resources import DuckDBWarehouse
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import transaction, write_version
from leadflow.storage.writer_lease import lease_key, writer_lease
from tests.cluster_services import POSTGRES_URL, ensure_services

FIRST = date(2001, 5, 1)
DAYS_PER_WORKER = 8
SIGNALS_PER_DAY = 3


def _frame(day: date, run_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partition_date": [day] * SIGNALS_PER_DAY,
            "signal_id": [f"{day}-{n}" for n in range(SIGNALS_PER_DAY)],
            "final_score": [50.0 + n for n in range(SIGNALS_PER_DAY)],
            "bucket": ["warm"] * SIGNALS_PER_DAY,
            "run_id": [run_id] * SIGNALS_PER_DAY,
        }
    )


def _worker(database: str, days: list[date], run_id: str, start: Barrier) -> None:
    """A worker's share: each day's version written, then published, each its own connection;
    both workers start together."""
    warehouse = DuckDBWarehouse(database=database, writer_lease_url=POSTGRES_URL)
    start.wait(timeout=60)
    for day in days:
        with warehouse.get_connection() as conn:
            write_version(conn, "prefilter_scores", [day], run_id, _frame(day, run_id))
        with warehouse.get_connection() as conn:
            publish(conn, {day: run_id})


def _killed_mid_write(database: str, day: date, ready: Event) -> None:
    """Holds the lease inside an open write transaction until it is killed."""
    warehouse = DuckDBWarehouse(database=database, writer_lease_url=POSTGRES_URL)
    with warehouse.get_connection() as conn:
        write_version(conn, "prefilter_scores", [day], "run-first", _frame(day, "run-first"))
        with transaction(conn):
            conn.execute("DELETE FROM prefilter_scores WHERE partition_date = ?", [day])
            ready.set()
            time.sleep(600)


@pytest.fixture(scope="module", autouse=True)
def _services():
    ensure_services()


def _spawn():
    return multiprocessing.get_context("spawn")


def test_two_workers_write_disjoint_days_of_one_warehouse_at_once(tmp_path):
    database = str(tmp_path / "shared.duckdb")
    ctx = _spawn()
    shares = {
        "run-a": [FIRST + timedelta(days=n) for n in range(0, 2 * DAYS_PER_WORKER, 2)],
        "run-b": [FIRST + timedelta(days=n) for n in range(1, 2 * DAYS_PER_WORKER, 2)],
    }
    start = ctx.Barrier(len(shares))
    workers = [ctx.Process(target=_worker, args=(database, days, run, start)) for run, days in shares.items()]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with DuckDBWarehouse(database=database).get_connection() as conn:
        rows = conn.execute("SELECT run_id, count(*), count(DISTINCT signal_id) FROM prefilter_scores GROUP BY ALL")
        per_run = len(shares["run-a"]) * SIGNALS_PER_DAY  # every row once: none lost, none twice
        assert sorted(rows.fetchall()) == [("run-a", per_run, per_run), ("run-b", per_run, per_run)]
        publications = conn.execute(
            "SELECT partition_date, run_id, count(*) FROM publications WHERE action = 'publish' GROUP BY ALL"
        ).fetchall()
        leads = conn.execute("SELECT partition_date, run_id, count(*) FROM leads GROUP BY ALL").fetchall()
    expected = {(day, run) for run, days in shares.items() for day in days}
    assert {(day, run) for day, run, _ in publications} == expected and all(n == 1 for *_, n in publications)
    assert {(day, run) for day, run, _ in leads} == expected and all(n == SIGNALS_PER_DAY for *_, n in leads)


def test_a_worker_killed_inside_a_write_frees_the_lease_and_loses_nothing(tmp_path):
    database = str(tmp_path / "shared.duckdb")
    ctx = _spawn()
    ready = ctx.Event()
    victim = ctx.Process(target=_killed_mid_write, args=(database, FIRST, ready))
    victim.start()
    assert ready.wait(timeout=60)
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(timeout=30)
    started = time.perf_counter()
    warehouse = DuckDBWarehouse(database=database, writer_lease_url=POSTGRES_URL)
    with warehouse.get_connection() as conn:
        waited = time.perf_counter() - started
        kept = conn.execute("SELECT run_id, count(*) FROM prefilter_scores GROUP BY ALL").fetchall()
        # its partition is re-runnable: the re-run writes and publishes as a first run would
        write_version(conn, "prefilter_scores", [FIRST], "run-again", _frame(FIRST, "run-again"))
        publish(conn, {FIRST: "run-again"})
        published = conn.execute("SELECT run_id, count(*) FROM leads GROUP BY ALL").fetchall()
    assert waited < 10, "the lease of a killed worker is released with its PostgreSQL session"
    assert kept == [("run-first", SIGNALS_PER_DAY)], "the delete of the killed transaction is undone"
    assert published == [("run-again", SIGNALS_PER_DAY)]


def test_the_lease_excludes_a_second_holder_until_released():
    name = f"/shared/warehouse-{os.getpid()}.duckdb"
    with writer_lease(POSTGRES_URL, name):
        other = psycopg2.connect(POSTGRES_URL)
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [lease_key(name)])
                assert cursor.fetchone() == (False,)
        finally:
            other.close()
    with writer_lease(POSTGRES_URL, name) as waited:
        assert waited < 1
