"""The run token budget across the LLM stages of a real run (embedded engine, real DuckDB): a run
whose budget is spent before its dossiers defers them (no row, said in the metadata and log,
`budget/deferred`) and still succeeds with every blocking check passed and the rest published;
the next run writes them."""

import dagster as dg
import pytest

from leadflow.defs.resources import LLMResource, PipelineSettings
from tests.conftest import SMALL_MODEL
from tests.defs.conftest import IMPORT_DAY, make_workspace, materialize, table

DOSSIER_THRESHOLD = 65


def _with(workspace: dict, run_token_budget: int, dossier_threshold: int) -> dict:
    """The workspace with another budget and dossier threshold (the same files and cache)."""
    llm, pipeline = workspace["resources"]["llm"], workspace["resources"]["pipeline"]
    resources = {
        **workspace["resources"],
        "llm": LLMResource(
            model_dir=llm.model_dir,
            cache_path=llm.cache_path,
            prompts_dir=llm.prompts_dir,
            dossier_model=SMALL_MODEL,
            run_token_budget=run_token_budget,
        ),
        "pipeline": PipelineSettings(sources_path=pipeline.sources_path, dossier_threshold=dossier_threshold),
    }
    return {**workspace, "resources": resources}


def _metadata(result, asset: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in materialization.metadata.items()}


def _blocking_failures(result) -> list[str]:
    return [
        e.check_name
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, model_dir, shared_llm_cache):
    workspace = make_workspace(tmp_path_factory.mktemp("budget"), model_dir, shared_llm_cache)
    # The classifications, cached (and no dossier yet): the next runs' prefilter is served from the cache.
    assert materialize(_with(workspace, 0, 101), IMPORT_DAY.isoformat()).success
    return workspace


def test_a_spent_budget_defers_the_dossiers_and_the_next_run_writes_them(workspace):
    spent = materialize(_with(workspace, 1, DOSSIER_THRESHOLD), IMPORT_DAY.isoformat())
    assert spent.success and _blocking_failures(spent) == []
    dossiers = _metadata(spent, "dossiers")
    # The budget is spent before the dossiers (the cache-hit audit's re-asks alone cost more than 1).
    assert dossiers["budget/limit"] == 1 and dossiers["budget/spent"] >= 1
    deferred = dossiers["dossiers_deferred_leads"]
    assert deferred >= 1 and dossiers["budget/deferred"] >= 1 and dossiers["dossiers_written"] == 0
    assert _metadata(spent, "prefilter_scores")["budget/deferred"] == 0  # every classification a cache hit
    rows = table(workspace, "dossiers")
    assert rows[rows["run_id"] == spent.run_id].empty  # nothing deferred is stored as if complete
    leads = table(workspace, "leads")  # this run's scores are published nonetheless
    assert set(leads["run_id"]) == {spent.run_id}
    assert int((leads["final_score"] >= DOSSIER_THRESHOLD).sum()) == deferred
    usage = table(workspace, "llm_usage")
    ledgered = usage[usage["run_id"] == spent.run_id]
    assert set(ledgered["partitions"]) == {IMPORT_DAY.isoformat()}  # one day: every call is that day's
    # What the budget had lost before the dossiers is what the run's other stages ledgered.
    before = ledgered[ledgered["stage"] != "dossiers"]
    assert dossiers["budget/spent"] == int((before["tokens_in"] + before["tokens_out"]).sum())

    following = materialize(_with(workspace, 0, DOSSIER_THRESHOLD), IMPORT_DAY.isoformat())
    assert following.success and _blocking_failures(following) == []
    assert _metadata(following, "dossiers")["dossiers_deferred_leads"] == 0
    published = table(workspace, "published_dossiers")
    assert len(published) == deferred and set(published["run_id"]) == {following.run_id}
