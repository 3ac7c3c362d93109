"""The run token budget in the dossiers, with the real small model, on a real DuckDB file: once
the budget is spent, an account whose extraction or prose still needs the engine gets no dossier
(no row, no failure, never one from the rule facts alone or with the composed fallback), and the
next run writes it, taking what the first run finished from the cache."""

import duckdb
import pandas as pd
import pytest

from leadflow.defs.assets.dossiers import dossier_rows
from leadflow.defs.resources import LLMResource
from leadflow.dossier.lead import LeadInput
from leadflow.dossier.writer import DossierResult, write_dossiers
from leadflow.llm.budget import TokenBudget
from leadflow.llm.client import LLMClient
from leadflow.storage import schema
from leadflow.storage.warehouse import write_version
from tests.conftest import SMALL_MODEL
from tests.dossier.conftest import DAY, as_lead, icp_posting_ids, posting

MAX_CHARS = 1200


@pytest.fixture(scope="module")
def client(model_dir, tmp_path_factory) -> LLMClient:
    """One request in flight at a time: the budget is checked before each."""
    cache = tmp_path_factory.mktemp("dossier-budget") / "llm_cache.sqlite"
    resource = LLMResource(
        model_dir=str(model_dir), cache_path=str(cache), dossier_model=SMALL_MODEL, max_concurrency=1, warm_up=False
    )
    return resource.client()


@pytest.fixture(scope="module")
def leads() -> list[LeadInput]:
    """Two postings of two companies: two accounts."""
    return [
        as_lead(posting(job_id), 80.0 - i, "warm", role_function="marketing", seniority="mid")
        for i, job_id in enumerate(icp_posting_ids()[:2])
    ]


def _store(conn: duckdb.DuckDBPyConnection, leads: list[LeadInput], written: list[DossierResult], run_id: str) -> None:
    frame = pd.DataFrame(
        {
            "signal_id": [lead.signal_id for lead in leads],
            "title": [lead.title for lead in leads],
            "final_score": [lead.final_score for lead in leads],
            "bucket": [lead.bucket for lead in leads],
        }
    )
    write_version(conn, "dossiers", [DAY], run_id, schema.frame("dossiers", dossier_rows(DAY, frame, written, run_id)))


def test_a_spent_budget_defers_an_account_to_the_next_run(tmp_path, client, leads, profiles):
    budget = TokenBudget(limit=1)
    first = write_dossiers(client, leads, profiles, MAX_CHARS, budget=budget)  # the first lead is admitted: 0 < 1
    assert [r.signal_ids for r in first] == [(leads[0].signal_id,)]
    assert first[0].records[0].cache_tier is None and first[0].defects == []
    assert budget.report()["deferred"] == 1  # the second lead's extraction

    second = write_dossiers(client, leads, profiles, MAX_CHARS)  # the next run
    assert sorted(r.signal_ids for r in second) == sorted((lead.signal_id,) for lead in leads)
    again = next(r for r in second if r.signal_ids == first[0].signal_ids)
    assert again.records[0].cache_tier is not None and again.value == first[0].value  # from the cache

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        _store(conn, leads, first, "run-1")
        _store(conn, leads, second, "run-2")
        stored = conn.execute(
            "SELECT run_id, list(signal_id ORDER BY signal_id), count(*) FILTER (error IS NOT NULL OR dossier IS NULL) "
            "FROM dossiers GROUP BY run_id ORDER BY run_id"
        ).fetchall()
    assert stored == [
        ("run-1", [leads[0].signal_id], 0),  # the deferred lead has no row, the written one is complete
        ("run-2", sorted(lead.signal_id for lead in leads), 0),
    ]


def test_prose_the_budget_refuses_defers_the_account_instead_of_composing_it(client, leads, profiles):
    write_dossiers(client, leads[:1], profiles, MAX_CHARS)  # its extraction cached (by the test above already)
    spent = TokenBudget(limit=1, spent=1)  # every request that would reach the engine is refused
    with client.metrics.track() as recorder:
        written = write_dossiers(client, leads[:1], profiles, MAX_CHARS, prose="small", budget=spent)
    assert written == [] and spent.report()["deferred"] == 1  # the prose, not the composed fallback
    assert [r.cache_tier is not None for r in recorder.records] == [True]  # the extraction, from the cache
