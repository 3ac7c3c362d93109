"""Write-audit-publish on a real DuckDB file: versions, publication pointer, rollback, pruning."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from leadflow.storage.publication import (
    KEEP_VERSIONS,
    mark_failed,
    publish,
    published_versions,
    rollback,
    working_versions,
)
from leadflow.storage.warehouse import write_version

DAY, OTHER = date(2001, 5, 1), date(2001, 5, 2)


def _write(conn, run_id: str, score: float, day: date = DAY) -> None:
    frame = pd.DataFrame(
        {"partition_date": [day], "signal_id": ["s1"], "final_score": [score], "bucket": ["warm"], "run_id": [run_id]}
    )
    write_version(conn, "prefilter_scores", [day], run_id, frame)


def _leads(conn) -> list[tuple]:
    return conn.execute("SELECT run_id, final_score FROM leads ORDER BY partition_date").fetchall()


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        yield connection


def test_unpublished_versions_are_invisible_and_publish_moves_the_pointer(conn):
    _write(conn, "run-a", 61.0)
    assert _leads(conn) == []
    assert publish(conn, {DAY: "run-a"}) == {DAY: None}
    _write(conn, "run-b", 75.0)
    assert _leads(conn) == [("run-a", 61.0)]  # run-b is written but not published
    assert working_versions(conn, [DAY], "run-b") == {DAY: "run-b"}  # its own run reads it
    assert working_versions(conn, [DAY], "run-x") == {DAY: "run-a"}  # others read the published one
    assert publish(conn, {DAY: "run-b"}) == {DAY: "run-a"}
    assert _leads(conn) == [("run-b", 75.0)]


def test_rewriting_a_version_within_its_run_is_idempotent(conn):
    _write(conn, "run-a", 61.0)
    _write(conn, "run-a", 61.0)
    assert conn.execute("SELECT count(*) FROM prefilter_scores").fetchone()[0] == 1


def test_rollback_steps_back_through_the_history(conn):
    for run, score in (("run-a", 50.0), ("run-b", 60.0), ("run-c", 70.0)):
        _write(conn, run, score)
        publish(conn, {DAY: run})
    assert rollback(conn, DAY) == ("run-c", "run-b")
    assert _leads(conn) == [("run-b", 60.0)]
    assert rollback(conn, DAY) == ("run-b", "run-a")
    assert _leads(conn) == [("run-a", 50.0)]
    with pytest.raises(ValueError, match="no published version"):
        rollback(conn, OTHER)


def test_failed_versions_are_kept_but_never_read_downstream(conn):
    _write(conn, "run-a", 61.0)
    publish(conn, {DAY: "run-a"})
    _write(conn, "run-bad", 99.0)
    mark_failed(conn, [DAY], "run-bad", "check prefilter_golden_set failed")
    assert working_versions(conn, [DAY], "later-run") == {DAY: "run-a"}
    assert published_versions(conn, [DAY]) == {DAY: "run-a"}
    assert conn.execute("SELECT count(*) FROM prefilter_scores WHERE run_id = 'run-bad'").fetchone()[0] == 1


def test_old_unreachable_versions_are_pruned(conn):
    runs = [f"run-{i}" for i in range(KEEP_VERSIONS + 3)]
    _write(conn, runs[0], 10.0)
    publish(conn, {DAY: runs[0]})
    for run in runs[1:]:
        _write(conn, run, 20.0)
    publish(conn, {DAY: runs[-1]})
    kept = {r for (r,) in conn.execute("SELECT DISTINCT run_id FROM prefilter_scores").fetchall()}
    assert runs[0] in kept and runs[-1] in kept  # in the publication history
    assert len(kept) == KEEP_VERSIONS + 1
