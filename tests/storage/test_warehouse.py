"""Partition writes are idempotent and atomic on a real DuckDB file."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from leadflow.storage.warehouse import read_partitions, replace_partitions

D1, D2 = date(2001, 5, 1), date(2001, 5, 2)


def _rows(day, n, run="r1"):
    return pd.DataFrame(
        {
            "partition_date": [day] * n,
            "source": "s",
            "kind": "email",
            "position": [f"p#{i}" for i in range(n)],
            "reason": "empty_body",
            "excerpt": "",
            "run_id": run,
        }
    )


def test_replace_is_idempotent_and_leaves_other_partitions(tmp_path):
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as conn:
        replace_partitions(conn, "quarantined_signals", [D1], _rows(D1, 3))
        replace_partitions(conn, "quarantined_signals", [D2], _rows(D2, 2))
        replace_partitions(conn, "quarantined_signals", [D1], _rows(D1, 3, run="r2"))
        replace_partitions(conn, "quarantined_signals", [D1], _rows(D1, 3, run="r2"))
        assert len(read_partitions(conn, "quarantined_signals", [D1])) == 3
        assert len(read_partitions(conn, "quarantined_signals", [D2])) == 2
        replace_partitions(conn, "quarantined_signals", [D1, D2], _rows(D1, 0))
        assert len(read_partitions(conn, "quarantined_signals", [D1, D2])) == 0


def test_a_failed_write_keeps_the_previous_rows(tmp_path):
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as conn:
        replace_partitions(conn, "quarantined_signals", [D1], _rows(D1, 3))
        broken = _rows(D1, 2).assign(partition_date=["not a date", "x"])
        with pytest.raises(duckdb.Error):
            replace_partitions(conn, "quarantined_signals", [D1], broken)
        kept = read_partitions(conn, "quarantined_signals", [D1])
        assert len(kept) == 3 and set(kept["run_id"]) == {"r1"}
