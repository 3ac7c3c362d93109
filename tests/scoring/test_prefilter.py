"""One cascade run without Dagster: cheap scores, the candidates the small model is asked about,
and the prefilter_scores rows built from its answers."""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from leadflow.llm.client import Completion
from leadflow.llm.metrics import CallRecord
from leadflow.llm.types import InvalidOutput
from leadflow.scoring.cascade import IcpScorer, Thresholds, fit_scorer
from leadflow.scoring.prefilter import answer, candidates, score_rows, with_cheap_scores, with_email_leads
from leadflow.storage import schema
from tests.scoring.conftest import synthetic_golden

DAY = date(2026, 11, 20)
LABEL = "classify_signal@v1"


@pytest.fixture(scope="module")
def scorer() -> IcpScorer:
    vecs, rules, sims, labels = synthetic_golden()
    return fit_scorer(vecs, rules, sims, labels, Thresholds())[0]


def _signals() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    vecs = rng.normal(size=(4, 8))
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return pd.DataFrame(
        {
            "partition_date": [DAY] * 4,
            "signal_id": ["s1", "s2", "s3", "s4"],
            "kind": ["job_posting", "job_posting", "email", "account"],
            "title": ["Marketing Manager", "Backend Engineer", "Re: brand campaign", "Acme Corp"],
            "text": ["We are hiring a marketing manager.", "Go services.", "Budget for Q3.", "Retail chain."],
            "content_hash": ["h1", "h2", "h3", "h4"],
            "title_vec": list(vecs),
            "icp_similarity": [0.6, 0.1, 0.45, 0.2],
        }
    )


def test_candidates_are_the_highest_cheap_scores_first_once_per_content():
    frame = pd.DataFrame({"cheap_score": [10.0, 50.0, 90.0, 50.0, 30.0], "content_hash": list("abcbd")})
    assert list(candidates(frame, 30)["content_hash"]) == ["c", "b", "d"]
    assert candidates(frame, 95).empty


def test_cheap_scores_use_the_keyword_rule_and_stay_in_range(scorer):
    scored = with_cheap_scores(scorer, _signals())
    assert list(scored["rule_hit"]) == [True, False, True, False]
    assert scored["cheap_score"].between(0, 100).all()
    empty = with_cheap_scores(scorer, _signals().iloc[:0])
    assert empty.empty and {"rule_hit", "cheap_score"} <= set(empty.columns)


def test_rows_blend_the_answer_record_failures_and_fill_every_column(scorer):
    scored = with_email_leads(scorer, with_cheap_scores(scorer, _signals()), {})  # no email analysed
    record = CallRecord(role="prefilter", template="classify_signal", model="m", engine_calls=1, latency_s=0.4)
    value = {"score": 90, "hiring": True, "role_function": "marketing", "seniority": "senior", "reasons": ["title"]}
    answers: dict[str, Completion | Exception] = {
        "h1": Completion(value=value, model="m", template="classify_signal", record=record),
        "h3": InvalidOutput("not JSON", "{"),
    }
    rows = score_rows(scorer, scored, answers, LABEL, "run-1")
    frame = schema.frame("prefilter_scores", rows)  # every table column is present
    assert len(frame) == 4 and set(frame["run_id"]) == {"run-1"}

    answered, asked_and_failed, not_asked = rows[0], rows[2], rows[1]
    assert answered["llm_used"] and answered["llm_score"] == 90 and answered["model"] == "m"
    assert answered["final_score"] == scorer.blend(answered["cheap_score"], 90)
    assert answered["bucket"] == Thresholds().bucket(answered["final_score"])
    # every lead says why: the cheap stage's reasons, then the small model's
    assert json.loads(answered["reasons"]) == [*scored["cheap_reasons"][0], "title"]
    assert answered["prompt_version"] == LABEL
    assert (answered["llm_calls"], answered["latency_s"]) == (1, 0.4)

    assert not asked_and_failed["llm_used"] and asked_and_failed["llm_error"] == "not JSON"
    assert asked_and_failed["final_score"] == asked_and_failed["cheap_score"]
    assert asked_and_failed["model"] is None and asked_and_failed["prompt_version"] == LABEL
    assert asked_and_failed["llm_calls"] == 0

    assert not_asked["prompt_version"] is None and not_asked["llm_error"] is None
    assert json.loads(not_asked["reasons"]) == scored["cheap_reasons"][1] and json.loads(not_asked["reasons"])
    assert not_asked["final_score"] == not_asked["cheap_score"]
    assert answer(None) == ({}, None) and answer(answers["h3"]) == ({}, None)
