"""Per-partition orchestration overhead of a single-run range: the Dagster instance's
bookkeeping per day, on the local profile's SQLite storage and on the cluster profile's
PostgreSQL, with no work in the steps.

The job has the pipeline's shape, built from the pipeline's own pieces: a chain of
`pipeline_asset`s (daily partitions, single-run backfills, the writer pool) that each record a
row count per day (`partition_rows`), and partitioned checks that each yield one evaluation per
day (`daily_check` + `judged`), as many as the pipeline has. A range of N days is materialized
in one run; the overhead per partition is the slope between a short and a long range, so what
a run costs whatever its length (process start, code loading) drops out.

    .venv/bin/python -m bench.orchestration_overhead [--days 3,23] [--postgres-url URL] [--out bench/results]

Target (issue 15): <= 50 ms per partition on PostgreSQL. Rows: the local profile (the issue
measured 154-180 ms per partition on the real pipeline); dagster-postgres as shipped (a new
connection per storage call), events in batches; the pooled storages with dagster-postgres's
own event writes (each event its own statements, committed one by one: the cluster profile
before its event log wrote them together), events in batches; the cluster profile
(leadflow/instance_storage.py) with events one by one and in batches (what the worker sets);
and the cluster profile on a database URL asking `synchronous_commit=off`, a deployment's
choice (docs/scaling.md). Each figure is the best of `--repeats` (a shared machine only ever
slows a run down), with the load average after its runs, and the SQL statements per partition
(every storage's, counted: independent of load).
"""

import argparse
import datetime
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import yaml
from dagster_postgres.event_log import PostgresEventLogStorage
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.results_file import save_results
from leadflow.defs.checks import Verdict, daily_check, judged
from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
from leadflow.defs.metadata import partition_rows
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.instance import EVENT_BATCH_ENV as BATCH_ENV
from leadflow.instance import EVENT_BATCH_SIZE, HEADER, instance_settings
from leadflow.instance_storage import PooledPostgresEventLogStorage

ASSETS = 8  # raw_signals .. published_leads, export, lead_report
CHECKS = 13  # checks per run of the pipeline (blocking and warnings)
FIRST_DAY = datetime.date(2001, 1, 1)
TARGET_MS = 50.0
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
URL_ENV = "LEADFLOW_DAGSTER_POSTGRES_URL"
NO_COMMIT_WAIT = "?options=-c%20synchronous_commit%3Doff"  # commits do not wait for the WAL flush
POOLED = ("run_storage", "event_log_storage", "schedule_storage")
WORKER_ROW = "cluster, events in batches"  # the cluster profile as leadflow.cluster_worker runs it


class StockEventWrites(PooledPostgresEventLogStorage):
    """The pooled event log with dagster-postgres's own event writes (a row to compare with)."""

    store_event = PostgresEventLogStorage.store_event
    store_event_batch = PostgresEventLogStorage.store_event_batch


STOCK_WRITES = {"module": __spec__.name if __spec__ else __name__, "class": StockEventWrites.__name__}
# (row label, profile, pooled storages, events per batch, URL suffix, event log storage class)
VARIANTS: list[tuple[str, str, bool, int, str, dict[str, str] | None]] = [
    ("local (SQLite)", "local", False, 0, "", None),
    ("cluster, dagster-postgres as shipped, events in batches", "cluster", False, EVENT_BATCH_SIZE, "", None),
    (
        "cluster, dagster-postgres's event writes, events in batches",
        "cluster",
        True,
        EVENT_BATCH_SIZE,
        "",
        STOCK_WRITES,
    ),
    ("cluster", "cluster", True, 0, "", None),
    (WORKER_ROW, "cluster", True, EVENT_BATCH_SIZE, "", None),
    ("cluster, events in batches, synchronous_commit=off", "cluster", True, EVENT_BATCH_SIZE, NO_COMMIT_WAIT, None),
]
STATEMENTS = [0]  # SQL statements run so far, by every storage of this process


@event.listens_for(Engine, "before_cursor_execute")
def _count_statement(*_: Any) -> None:
    STATEMENTS[0] += 1


def pipeline_shaped_job() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    assets: list[dg.AssetsDefinition] = []
    for n in range(ASSETS):

        def stage(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            return dg.MaterializeResult(metadata=partition_rows(context, dict.fromkeys(partition_dates(context), 1)))

        stage.__name__ = f"stage_{n}"
        deps = (f"stage_{n - 1}",) if n else ()
        assets.append(pipeline_asset(group_name="bench", kinds={"python"}, description="no work", deps=deps)(stage))
    checks = []
    for n in range(CHECKS):

        def check(context: dg.AssetCheckExecutionContext):
            days = [datetime.date.fromisoformat(key) for key in context.partition_keys]
            yield from judged(context, {day: Verdict(True, {"rows": 1}) for day in days})

        check.__name__ = f"check_{n}"
        checks.append(daily_check(asset=f"stage_{n % ASSETS}", description="always passes", blocking=True)(check))
    return assets, checks


def _instance(profile: str, pooled: bool, home: Path, event_log: dict[str, str] | None) -> dg.DagsterInstance:
    settings = instance_settings(home, profile)
    if event_log:
        settings["event_log_storage"] = {**settings["event_log_storage"], **event_log}
    if profile == "cluster" and not pooled:
        for section in POOLED:
            del settings[section]
        settings["storage"] = {"postgres": {"postgres_url": {"env": URL_ENV}}}
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(HEADER + yaml.safe_dump(settings, sort_keys=False))
    return dg.DagsterInstance.from_config(str(home))


def _run_seconds(instance: dg.DagsterInstance, assets, checks, days: int) -> tuple[float, float, int]:
    """(wall, CPU of this process) seconds and SQL statements of one single-run range of `days` days."""
    last = FIRST_DAY + datetime.timedelta(days=days - 1)
    tags = {RANGE_START_TAG: FIRST_DAY.isoformat(), RANGE_END_TAG: last.isoformat()}
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # events are stored, not printed
    wall, cpu, statements = time.perf_counter(), time.process_time(), STATEMENTS[0]
    result = dg.materialize([*assets, *checks], instance=instance, tags=tags, run_config=quiet)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert result.success
    return wall, cpu, STATEMENTS[0] - statements


def measure(profile: str, instance: dg.DagsterInstance, spans: list[int], repeats: int) -> dict[str, Any]:
    """Wall and CPU per partition: the slope from the shortest to the longest range. The CPU
    figure (this process's: Dagster's work, SQLite's writes; not the PostgreSQL server's) is
    what a machine shared with other work distorts least."""
    assets, checks = pipeline_shaped_job()
    _run_seconds(instance, assets, checks, spans[0])  # warm: tables, imports, the first run's setup
    timed = {days: [_run_seconds(instance, assets, checks, days) for _ in range(repeats)] for days in spans}
    runs = {days: tuple(min(column) for column in zip(*times, strict=True)) for days, times in timed.items()}
    short, long = spans[0], spans[-1]

    def slope(i: int, scale: float = 1000) -> float:
        return round((runs[long][i] - runs[short][i]) / (long - short) * scale, 1)

    return {
        "profile": profile,
        "load_average": round(os.getloadavg()[0], 2),
        "run_seconds": {str(days): round(wall, 3) for days, (wall, _, _) in runs.items()},
        "per_partition_ms": slope(0),
        "per_partition_cpu_ms": slope(1),
        "sql_statements_per_partition": slope(2, scale=1),
        "events_per_partition": ASSETS * 2 + CHECKS,  # planned + materialized per asset, one evaluation per check
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orchestration_overhead", description=__doc__)
    parser.add_argument("--days", default="3,23", help="the short and the long range, in days")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres-url", default=os.environ.get("LEADFLOW_BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    spans = [int(d) for d in args.days.split(",")]
    name = f"leadflow_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(args.postgres_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    base = args.postgres_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1)
    os.environ.setdefault("LEADFLOW_CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")  # not used here
    try:
        with tempfile.TemporaryDirectory(prefix="leadflow-overhead-") as work:
            rows = []
            for n, (label, profile, pooled, batch, options, event_log) in enumerate(VARIANTS):
                os.environ[BATCH_ENV] = str(batch)
                os.environ[URL_ENV] = f"{base}/{name}{options}"
                with _instance(profile, pooled, Path(work) / str(n), event_log) as instance:
                    row = measure(profile, instance, spans, args.repeats)
                rows.append({"variant": label, **row, BATCH_ENV: batch})
            os.environ.pop(BATCH_ENV)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    [cluster] = [row for row in rows if row["variant"] == WORKER_ROW]
    results = {
        "job": {"assets": ASSETS, "checks": CHECKS},
        "rows": rows,
        "target_ms": TARGET_MS,
        "target_met": cluster["per_partition_ms"] <= TARGET_MS,
    }
    for row in rows:
        print(row)
    print(save_results(results, args.out, "orchestration_overhead"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
