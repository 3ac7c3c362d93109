"""The cluster profile on the machine's real PostgreSQL and RabbitMQ: `dagster-daemon` takes
queued runs from the PostgreSQL instance to two Celery workers (separate processes, each with a
data home of its own, as two hosts), which write one warehouse through the PostgreSQL writer
lease. Two runs over disjoint partition ranges at once: no record lost or written twice, every
check passed, one run on each worker; a worker killed mid-run has its run failed by the
daemon's run monitoring and leaves its range re-runnable. Each test run has a RabbitMQ queue and a
PostgreSQL database of its own, deleted afterwards."""

import datetime
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.events import DagsterEventType

from leadflow.defs.partitions import daily_partitions
from leadflow.defs.resources import DuckDBWarehouse
from leadflow.ingest.placement import place_records
from leadflow.ingest.sources import SourceSpec
from leadflow.paths import PROJECT_ROOT, RESOURCES_DIR
from tests.cluster_services import POSTGRES_URL, RABBITMQ_URL, ensure_services, scratch_database, scratch_queue

MBOX = RESOURCES_DIR / "samples" / "enron_sample.mbox"
IMPORT = datetime.date(2026, 11, 20)
# A week each: the run's bookkeeping grows with its days (events per partition), not the point here.
RANGES = [
    (datetime.date(2001, 7, 1), datetime.date(2001, 7, 7)),
    (datetime.date(2001, 7, 8), datetime.date(2001, 7, 14)),
]
KILLED_RANGE = (datetime.date(2001, 7, 15), datetime.date(2001, 7, 21))
RUN_TIMEOUT_S = 180


class Cluster:
    def __init__(self, root: Path, env: dict[str, str], queue: str, workers: list[subprocess.Popen]) -> None:
        self.root, self.env, self.queue, self.workers = root, env, queue, workers

    def launch(self, *ranges: tuple[datetime.date, datetime.date]) -> list[str]:
        """Queue one cluster_ingest run per range (each a single-run range), all at once; their run ids."""
        run_ids = [str(uuid.uuid4()) for _ in ranges]
        command = [sys.executable, "-m", "dagster", "job", "launch", "-w", str(self.root / "workspace.yaml")]
        launches = [
            subprocess.Popen(
                [*command, "-j", "cluster_ingest", "--tags", json.dumps(self._tags(*span)), "--run-id", run_id],
                env=self.env,
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for span, run_id in zip(ranges, run_ids, strict=True)
        ]
        for launch in launches:
            _, errors = launch.communicate(timeout=120)
            assert launch.returncode == 0, errors[-3000:]
        return run_ids

    def _tags(self, first: datetime.date, last: datetime.date) -> dict[str, str]:
        return {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
            "dagster-celery/queue": self.queue,
        }

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(self.env["DAGSTER_HOME"])

    def wait(self, run_ids: list[str], statuses=(dg.DagsterRunStatus.SUCCESS,)) -> dict[str, dg.DagsterRunStatus]:
        done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
        deadline = time.monotonic() + RUN_TIMEOUT_S
        with self.instance() as instance:
            while time.monotonic() < deadline:
                found = {run_id: instance.get_run_by_id(run_id).status for run_id in run_ids}  # type: ignore[union-attr]
                if all(status in done or status in statuses for status in found.values()):
                    return found
                time.sleep(0.5)
        raise AssertionError(f"runs still not done: {found}")


def _sources(root: Path, *extra: Path) -> Path:
    """The sources file every run reads: the sample mbox, and `extra` mboxes."""
    entries = [
        {"name": f"mail{n}", "format": "mbox", "path": str(path), "import_date": IMPORT}
        for n, path in enumerate((MBOX, *extra))
    ]
    (root / "sources.yaml").write_text(yaml.safe_dump({"sources": entries}))
    return root / "sources.yaml"


def _worker(env: dict[str, str], home: Path, queue: str, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "leadflow.cluster_worker", "-Q", queue, "-n", f"{name}@%h"],
        env={**env, "LEADFLOW_HOME": str(home)},
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(home.parent / f"{name}.log", "w"),
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    """The process and its children, at once: nothing of theirs is checked after the tests."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    ensure_services()
    root = tmp_path_factory.mktemp("cluster")
    with scratch_database("leadflow_cluster") as instance_url, scratch_queue() as queue:
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "LEADFLOW_INSTANCE_PROFILE": "cluster",
            "LEADFLOW_DAGSTER_POSTGRES_URL": instance_url,
            "LEADFLOW_CELERY_BROKER_URL": RABBITMQ_URL,
            "LEADFLOW_WAREHOUSE_LEASE_URL": POSTGRES_URL,
            "LEADFLOW_DUCKDB_PATH": str(root / "shared" / "leadflow.duckdb"),
            "LEADFLOW_SOURCES_PATH": str(_sources(root)),
            "LEADFLOW_IMPORTS_DIR": str(root / "imports"),
            "LEADFLOW_HOME": str(root / "submitter"),
        }
        home = subprocess.run(
            [sys.executable, "-m", "leadflow.instance"], env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        env["DAGSTER_HOME"] = home
        # the tables are created once, before any process uses the instance (as a deployment does)
        subprocess.run(
            [sys.executable, "-m", "dagster", "instance", "migrate"], env=env, check=True, capture_output=True
        )
        (root / "workspace.yaml").write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {"python_module": {"module_name": "tests.cluster.location", "location_name": "cluster"}}
                    ]
                }
            )
        )
        daemon = subprocess.Popen(
            [sys.executable, "-m", "dagster._daemon", "run", "-w", str(root / "workspace.yaml")],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(root / "daemon.log", "w"),  # noqa: SIM115 (closed with the process)
            start_new_session=True,
        )
        workers = [_worker(env, root / f"host{n}", queue, f"worker{n}") for n in range(2)]
        try:
            with pytest.MonkeyPatch.context() as patch:  # this process reads the instance too
                patch.setenv("LEADFLOW_DAGSTER_POSTGRES_URL", instance_url)
                yield Cluster(root, env, queue, workers)
        finally:
            for proc in (*workers, daemon):
                _stop(proc)


def _expected(first: datetime.date, last: datetime.date) -> int:
    """Signals of first..last, from a full parse without the index."""
    spec = SourceSpec(name="mail0", format="mbox", path=str(MBOX), import_date=IMPORT)
    days = {first + datetime.timedelta(days=n) for n in range((last - first).days + 1)}
    return len(place_records([(spec, IMPORT)], PROJECT_ROOT, days, daily_partitions.start.date()).signals)


def _one(conn, sql: str, params: list) -> tuple:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row


def _checks_passed(instance: dg.DagsterInstance, run_id: str) -> list[bool]:
    records = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    return [record.dagster_event.event_specific_data.passed for record in records]  # type: ignore[union-attr]


def test_two_workers_run_disjoint_ranges_at_once(cluster):
    run_ids = cluster.launch(*RANGES)
    assert set(cluster.wait(run_ids).values()) == {dg.DagsterRunStatus.SUCCESS}
    with cluster.instance() as instance:
        for run_id in run_ids:
            passed = _checks_passed(instance, run_id)
            assert passed and all(passed)
    # each "host" ran one: the ingest index lives in the data home of the worker that read
    assert all((cluster.root / f"host{n}" / "ingest-index.sqlite").is_file() for n in range(2))
    warehouse = DuckDBWarehouse(database=cluster.env["LEADFLOW_DUCKDB_PATH"])
    with warehouse.get_connection() as conn:
        for first, last in RANGES:
            rows, distinct, runs = _one(
                conn,
                "SELECT count(*), count(DISTINCT signal_id), count(DISTINCT run_id) FROM raw_signals "
                "WHERE partition_date BETWEEN ? AND ?",
                [first, last],
            )
            assert rows == distinct == _expected(first, last) > 0 and runs == 1


def test_a_worker_killed_mid_run_leaves_its_range_re_runnable(cluster):
    """The run reads a source that blocks (a FIFO nobody writes yet), so its worker is killed
    mid-run for sure; the daemon's run monitoring finds no worker holding its task and fails it
    (no worker runs at that moment, so nothing else can); then the FIFO becomes the file and the
    range runs again on a new worker."""
    late = cluster.root / "late.mbox"
    os.mkfifo(late)
    _sources(cluster.root, late)
    _stop(cluster.workers[1])  # one worker left: it takes the run
    [killed] = cluster.launch(KILLED_RANGE)
    assert cluster.wait([killed], statuses=(dg.DagsterRunStatus.STARTED,))[killed] == dg.DagsterRunStatus.STARTED
    time.sleep(2)  # well inside raw_signals, reading the FIFO
    _stop(cluster.workers[0])
    assert cluster.wait([killed])[killed] == dg.DagsterRunStatus.FAILURE
    with cluster.instance() as instance:
        [failure] = instance.all_logs(killed, of_type=DagsterEventType.RUN_FAILURE)
        assert "no live Celery worker holds task" in (failure.message or "")
    late.unlink()
    late.write_bytes(MBOX.read_bytes().replace(b"Message-ID: <", b"Message-ID: <late."))
    cluster.workers.append(_worker(cluster.env, cluster.root / "host2", cluster.queue, "worker2"))
    [again] = cluster.launch(KILLED_RANGE)
    assert cluster.wait([again])[again] == dg.DagsterRunStatus.SUCCESS
    with cluster.instance() as instance:
        passed = _checks_passed(instance, again)
        assert passed and all(passed)
    with DuckDBWarehouse(database=cluster.env["LEADFLOW_DUCKDB_PATH"]).get_connection() as conn:
        rows, distinct, runs = _one(
            conn,
            "SELECT count(*), count(DISTINCT signal_id), list(DISTINCT run_id) FROM raw_signals "
            "WHERE partition_date BETWEEN ? AND ?",
            list(KILLED_RANGE),
        )
    assert rows == distinct == 2 * _expected(*KILLED_RANGE) > 0 and runs == [again]
