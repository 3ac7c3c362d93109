"""The warehouse resource opens a real DuckDB file owner-only, its write-ahead log included."""

import os
import stat
from pathlib import Path

import pytest

from leadflow.defs.resources import DuckDBWarehouse


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    previous = os.umask(0)  # the most permissive umask: the modes must not come from it
    yield
    os.umask(previous)


def test_a_new_warehouse_file_and_its_folder_are_owner_only(tmp_path, open_umask):
    path = tmp_path / "warehouse" / "leadflow.duckdb"
    with DuckDBWarehouse(database=str(path)).get_connection() as conn:
        conn.execute("CREATE TABLE mail AS SELECT 'a subject' AS subject")
        assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert {p.name: mode(p) for p in path.parent.iterdir()} == {"leadflow.duckdb": 0o600}


def test_an_existing_world_readable_warehouse_and_its_log_are_tightened_on_open(tmp_path):
    path = tmp_path / "leadflow.duckdb"
    wal = tmp_path / "leadflow.duckdb.wal"
    warehouse = DuckDBWarehouse(database=str(path))
    with warehouse.get_connection() as writer:  # a connection mid-write: its log exists
        writer.execute("CREATE TABLE mail AS SELECT 'a subject' AS subject")
        path.chmod(0o644)  # as an earlier leadflow left it
        wal.chmod(0o644)  # as DuckDB creates it, with the umask's mode
        with warehouse.get_connection() as reader:  # another step of the same process
            assert mode(path) == mode(wal) == 0o600
            assert reader.execute("SELECT subject FROM mail").fetchone() == ("a subject",)


def test_an_in_memory_warehouse_touches_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with DuckDBWarehouse(database=":memory:").get_connection() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert list(tmp_path.iterdir()) == []
