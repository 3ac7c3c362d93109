"""`leadflow usage`: the token ledger of the latest runs from the warehouse, engine tokens and
cache-replayed tokens apart, with their hosted cost."""

import duckdb

from leadflow.cli import main
from leadflow.storage.usage import usage_report, write_usage

ROW = {
    "role": "prefilter",
    "model": "qwen2.5-coder-0.5b-instruct-q4_k_m",
    "requests": 10,
    "engine_calls": 4,
    "cache_hits": 6,
    "tokens_in": 1200,
    "tokens_in_cached": 800,
    "tokens_out": 150,
    "replayed_in": 1800,
    "replayed_out": 240,
    "hosted_model": "gpt-4o-mini",
    "hosted_cost": 0.00027,
    "replayed_cost": 0.000414,
}


def test_usage_sums_each_stage_and_a_rerun_of_a_stage_replaces_its_rows(no_leadflow_env, tmp_path, capsys):
    database = tmp_path / "leadflow.duckdb"
    no_leadflow_env.setenv("LEADFLOW_HOME", str(tmp_path))
    no_leadflow_env.setenv("LEADFLOW_DUCKDB_PATH", str(database))
    with duckdb.connect(str(database)) as conn:
        write_usage(conn, "run-aaaaaaaa", "2026-11-20", "prefilter_scores", [ROW, {**ROW, "role": "dossier"}])
        write_usage(conn, "run-aaaaaaaa", "2026-11-20", "signal_embeddings", [{**ROW, "role": "embed"}])
        write_usage(conn, "run-aaaaaaaa", "2026-11-20", "signal_embeddings", [{**ROW, "role": "embed"}])  # retried
        report = usage_report(conn, runs=5)
    assert list(report["stage"]) == ["prefilter_scores", "signal_embeddings"]
    assert list(report["tokens_in"]) == [2400, 1200] and list(report["replayed_in"]) == [3600, 1800]
    main(["usage"])
    out = capsys.readouterr().out
    assert "prefilter_scores" in out and "signal_embeddings" in out
    assert "4050 engine tokens" in out and "6120 tokens replayed from the cache, not spent" in out
