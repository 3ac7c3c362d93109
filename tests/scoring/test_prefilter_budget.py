"""The run token budget in the cascade, with the real small model: once the budget is spent the
signals still needing the engine are left unscored (no row, no failure), and the next run scores
them, taking what the first run finished from the cache."""

import pandas as pd

from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.llm.budget import BudgetExhausted, TokenBudget
from leadflow.scoring import prefilter
from leadflow.scoring.cascade import Thresholds
from leadflow.scoring.embedding import embedding_columns
from leadflow.scoring.golden import load_golden
from leadflow.scoring.icp import load_icp
from tests.conftest import SMALL_MODEL

POSTINGS = (
    ("Marketing Manager", "Marketing Manager. We are a SaaS company hiring a marketing manager."),
    ("PR Specialist", "PR Specialist. Our agency needs a PR specialist for B2B clients."),
    ("Content Writer", "Content Writer. Write blog posts for our marketing team."),
)


def test_a_spent_budget_leaves_signals_for_the_next_run(tmp_path, model_dir):
    # One request in flight at a time: the budget is checked before each.
    llm = LLMResource(
        model_dir=str(model_dir),
        cache_path=str(tmp_path / "llm_cache.sqlite"),
        dossier_model=SMALL_MODEL,
        max_concurrency=1,
        warm_up=False,
    )
    client, pipeline = llm.client(), PipelineSettings()
    profiles = load_icp(pipeline.icp_file())
    cascade = prefilter.fit_cascade(
        client, load_golden(pipeline.golden_file()), profiles, Thresholds(), pipeline.max_text_chars
    )
    signals = pd.DataFrame(
        {
            "partition_date": pd.Timestamp("2026-11-20"),
            "signal_id": [f"s{i}" for i in range(len(POSTINGS))],
            "kind": "job_posting",
            "title": [title for title, _ in POSTINGS],
            "text": [text for _, text in POSTINGS],
            "content_hash": [f"h{i}" for i in range(len(POSTINGS))],
        }
    )
    columns = embedding_columns(client, profiles, signals)
    scored = prefilter.with_email_leads(
        cascade.scorer,
        prefilter.with_cheap_scores(
            cascade.scorer, signals.assign(title_vec=columns["title_vec"], icp_similarity=columns["icp_similarity"])
        ),
        {},
    )
    todo = prefilter.candidates(scored, 0)  # every posting asks the model

    budget = TokenBudget(limit=1)
    first = prefilter.classify(cascade, todo, budget=budget)
    finished = [h for h, a in first.items() if isinstance(a, prefilter.Completion)]
    assert len(finished) == 1 and sum(isinstance(a, BudgetExhausted) for a in first.values()) == 2
    rows = prefilter.score_rows(cascade.scorer, scored, first, "classify_signal@v1", "run-1")
    assert [r["content_hash"] for r in rows] == finished and rows[0]["llm_used"]

    second = prefilter.classify(cascade, todo)  # the next run, no budget left to spend
    assert all(isinstance(a, prefilter.Completion) for a in second.values())
    again = second[finished[0]]
    assert isinstance(again, prefilter.Completion) and again.cache_tier is not None  # from the cache
    rows = prefilter.score_rows(cascade.scorer, scored, second, "classify_signal@v1", "run-2")
    assert sorted(r["content_hash"] for r in rows) == sorted(signals["content_hash"])
