"""One schema source: the DDL, the frames the assets write and the LLM columns all come from
`leadflow.storage.schema`, and the schema is created by the first write, never by a read."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from leadflow.llm.metrics import CallRecord
from leadflow.storage import schema
from leadflow.storage.publication import mark_failed, published_versions, working_versions
from leadflow.storage.warehouse import append, ensure_schema, has_schema, read_partitions, replace_partitions

DAY = date(2001, 5, 1)


def _objects(conn) -> set[str]:
    tables = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    views = {name for (name,) in conn.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    return tables | views


def test_the_ddl_is_the_table_definitions(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        ensure_schema(conn)
        for table in schema.TABLES.values():
            described = conn.execute(f"DESCRIBE {table.name}").fetchall()
            assert [row[0] for row in described] == [c.name for c in table.columns], table.name
        assert _objects(conn) == set(schema.TABLES) | set(schema.VIEWS)


def test_both_llm_tables_carry_the_same_accounting_columns():
    cost = [c.name for c in schema.LLM_COST]
    for name, error in (("prefilter_scores", "llm_error"), ("dossiers", "error")):
        written = schema.table(name).written
        start = written.index("model")
        assert written[start : start + 3 + len(cost)] == ["model", "prompt_version", error, *cost]
    record = CallRecord(role="prefilter", template="t", model="m", engine_calls=2, prompt_tokens=30)
    assert list(schema.llm_cost(record)) == list(schema.llm_cost(None)) == cost
    assert schema.llm_cost(record)["tokens_in"] == 30 and schema.llm_cost(None)["llm_calls"] == 0


def test_frame_orders_rows_by_the_table_and_rejects_a_missing_column():
    row = {
        "run_id": "r1",
        "excerpt": "",
        "reason": "empty_body",
        "position": "p#0",
        "kind": "email",
        "source": "s",
        "record_date": None,
        "partition_date": DAY,
    }
    frame = schema.frame("quarantined_signals", [{**row, "not_a_column": 1}])
    assert list(frame.columns) == schema.table("quarantined_signals").written
    assert frame.iloc[0]["reason"] == "empty_body"
    assert list(schema.frame("quarantined_signals", []).columns) == list(frame.columns)
    with pytest.raises(ValueError, match="lack columns \\['reason'\\]"):
        schema.frame("quarantined_signals", [{k: v for k, v in row.items() if k != "reason"}])
    with pytest.raises(ValueError, match="unknown table"):
        schema.frame("no_such_table", [row])


def test_a_fresh_database_reads_as_empty_without_creating_anything(tmp_path):
    with duckdb.connect(str(tmp_path / "fresh.duckdb")) as conn:
        assert not has_schema(conn)
        assert working_versions(conn, [DAY], "run-a") == {}
        assert published_versions(conn, [DAY]) == {}
        empty = read_partitions(conn, "signal_embeddings", [DAY])
        assert len(empty) == 0 and list(empty.columns) == [c.name for c in schema.table("signal_embeddings").columns]
        assert _objects(conn) == set()  # reads ran no DDL


def test_the_schema_is_created_once_per_process_and_again_if_the_file_lost_it(tmp_path):
    rows = pd.DataFrame(columns=schema.table("quality_metrics").written)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        replace_partitions(conn, "quality_metrics", [DAY], rows)  # the first write creates it
        assert has_schema(conn)
        conn.execute("DROP TABLE incidents")
        mark_failed(conn, [DAY], "run-a", "a write after the first: no DDL again")
        assert "incidents" not in _objects(conn)
        conn.execute("DROP VIEW published_dossiers")  # the file lost its schema
        append(conn, "incidents", {"run_id": "run-a", "job": "daily_pipeline", "partitions": None, "error": "x"})
        assert _objects(conn) == set(schema.TABLES) | set(schema.VIEWS)
        assert conn.execute("SELECT job, partitions FROM incidents").fetchall() == [("daily_pipeline", None)]
        with pytest.raises(ValueError, match="no columns \\['nope'\\]"):
            append(conn, "incidents", {"run_id": "run-b", "nope": 1})
