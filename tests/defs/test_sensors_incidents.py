"""Every failed run becomes an incident, whenever it failed: the sensor's first tick scans the
whole history (a run that failed while no daemon ran is recorded when one starts), later ticks
what failed since, and a run is never recorded twice (the CLI records its own failures with the
same function)."""

import dagster as dg
import pytest
from dagster_duckdb import DuckDBResource

from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
from leadflow.defs.sensors import incident_sensor, record_incidents


@dg.op
def read_signals() -> None:
    raise ValueError("source file jobs.jsonl is missing")


@dg.op
def fine() -> None:
    pass


@dg.job
def broken_pipeline():
    read_signals()


@dg.job
def healthy():
    fine()


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def _incidents(duckdb: DuckDBResource) -> list[tuple]:
    with duckdb.get_connection() as conn:
        return conn.execute("SELECT run_id, job, partitions, error FROM incidents ORDER BY recorded_at").fetchall()


def _tick(instance, duckdb, cursor=None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, resources={"duckdb": duckdb}, cursor=cursor) as context:
        result = incident_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_runs_failed_before_the_first_tick_and_after_are_each_recorded_once(instance, tmp_path):
    duckdb = DuckDBResource(database=str(tmp_path / "leadflow.duckdb"))
    tags = {RANGE_START_TAG: "2001-07-02", RANGE_END_TAG: "2001-07-04"}
    early = broken_pipeline.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
    assert healthy.execute_in_process(instance=instance).success  # not an incident

    first = _tick(instance, duckdb)  # a daemon starts after the failure
    [(run_id, job, partitions, error)] = _incidents(duckdb)
    assert (run_id, job, partitions) == (early.run_id, "broken_pipeline", "2001-07-02..2001-07-04")
    assert error == "read_signals: ValueError: source file jobs.jsonl is missing"  # the step and why

    again = _tick(instance, duckdb, first.cursor)
    assert again.cursor == first.cursor and len(_incidents(duckdb)) == 1

    late = broken_pipeline.execute_in_process(instance=instance, raise_on_error=False)
    _tick(instance, duckdb, first.cursor)
    assert [row[0] for row in _incidents(duckdb)] == [early.run_id, late.run_id]
    assert _incidents(duckdb)[1][2] is None  # an unpartitioned run

    # The CLI's call, and a sensor whose cursor was lost, find nothing new: no duplicate.
    assert record_incidents(instance, duckdb.get_connection)[0] == []
    _tick(instance, duckdb)
    assert len(_incidents(duckdb)) == 2


def test_a_quiet_tick_does_not_open_the_warehouse(instance, tmp_path):
    """No failed run: DuckDB is not touched (a tick must not wait on a running job's write lock)."""
    database = tmp_path / "leadflow.duckdb"
    result = _tick(instance, DuckDBResource(database=str(database)))
    assert result.cursor is None and not database.exists()
