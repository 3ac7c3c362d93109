"""The run token budget in the email analysis, with the real small model, on a real DuckDB file:
once the budget is spent, a candidate whose extraction still needs the engine keeps its cheap
analysis, marked deferred (never an LLM error, never `llm_used`), and the next run completes it,
taking what the first run finished from the cache."""

import datetime

import duckdb
import pytest

from leadflow.analysis.analyze import EmailAnalysis, analyze_mails
from leadflow.defs.resources import LLMResource
from leadflow.llm.budget import TokenBudget
from leadflow.llm.client import LLMClient
from leadflow.storage import schema
from leadflow.storage.warehouse import replace_partitions

DAY = datetime.date(2026, 11, 20)
CANDIDATES = ("employment", "buying_intent")  # both go to the small model (lead types, high priority)


@pytest.fixture(scope="module")
def one_at_a_time(model_dir, tmp_path_factory) -> LLMClient:
    """One request in flight at a time: the budget is checked before each."""
    cache = tmp_path_factory.mktemp("email-budget") / "llm_cache.sqlite"
    return LLMResource(model_dir=str(model_dir), cache_path=str(cache), max_concurrency=1, warm_up=False).client()


def _store(conn: duckdb.DuckDBPyConnection, analyses: list[EmailAnalysis], run_id: str) -> None:
    rows = [
        {"partition_date": DAY, "signal_id": key, **a.as_row(), **schema.llm_cost(a.record), "run_id": run_id}
        for key, a in zip(CANDIDATES, analyses, strict=True)
    ]
    replace_partitions(conn, "email_analysis", [DAY], schema.frame("email_analysis", rows))


def test_a_spent_budget_leaves_extractions_for_the_next_run(tmp_path, one_at_a_time, typer, sample_mails):
    mails = [sample_mails[key] for key in CANDIDATES]
    totals: list[int] = []
    budget = TokenBudget(limit=1)
    first = analyze_mails(one_at_a_time, typer, mails, llm_min_priority=0, on_total=totals.append, budget=budget)
    assert totals == [2]
    done = [a for a in first if a.record is not None]
    deferred = [a for a in first if a.deferred]
    assert len(done) == len(deferred) == 1 and budget.report()["deferred"] == 1  # the higher priority went first
    assert done[0].record is not None and done[0].record.cache_tier is None
    row = deferred[0].as_row()
    assert (row["llm_deferred"], row["llm_used"], row["llm_error"]) == (True, False, None)
    assert deferred[0].types and deferred[0].summary  # the cheap analysis stands meanwhile

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        _store(conn, first, "run-1")
        counts = (
            "SELECT count(*) FILTER (llm_deferred), count(*) FILTER (llm_used), "
            "count(*) FILTER (llm_error IS NOT NULL) FROM email_analysis"
        )
        assert conn.execute(counts).fetchone() == (1, 1, 0)

        second = analyze_mails(one_at_a_time, typer, mails, llm_min_priority=0)  # the next run
        assert not any(a.deferred for a in second) and all(a.record is not None for a in second)
        again = second[first.index(done[0])].record
        assert again is not None and again.cache_tier is not None  # from the cache
        _store(conn, second, "run-2")
        assert conn.execute(counts).fetchone() == (0, 2, 0)
