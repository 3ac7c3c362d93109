"""Every score's explanation: parts that sum to the stored score, for postings (Shapley parts
of the head), accounts (the similarity terms), emails (intent x ICP fit) and the small model's
share of the blend."""

import json

import numpy as np
import pandas as pd
import pytest

from leadflow.analysis.taxonomy import SPAM
from leadflow.llm.client import Completion
from leadflow.llm.metrics import CallRecord
from leadflow.scoring.cascade import IcpScorer, Thresholds, fit_scorer
from leadflow.scoring.email_leads import LEAD_TYPES, email_lead
from leadflow.scoring.explanation import MODEL_PART, explanation_text
from leadflow.scoring.prefilter import score_rows, with_cheap_scores, with_email_leads
from tests.scoring.conftest import synthetic_golden
from tests.scoring.test_prefilter import _signals

CUTS = {**{key: 0.5 for key in LEAD_TYPES}, SPAM.key: 0.5}


@pytest.fixture(scope="module")
def scorer() -> IcpScorer:
    vecs, rules, sims, labels = synthetic_golden()
    return fit_scorer(vecs, rules, sims, labels, Thresholds())[0]


def test_the_parts_of_a_posting_sum_to_its_cheap_score(scorer):
    vecs, rules, sims, _ = synthetic_golden(20)
    scores = scorer.job_scores(vecs, rules, sims)
    for parts, score in zip(scorer.job_parts(vecs, rules, sims), scores, strict=True):
        assert sum(p.points for p in parts) == pytest.approx(score, abs=1e-9)
        assert [p.name for p in parts] == ["baseline", "title (ICP head)", "keyword rule", "ICP similarity"]
    hits = [parts[2].points for parts, hit in zip(scorer.job_parts(vecs, rules, sims), rules, strict=True) if hit]
    assert hits and min(hits) > 0  # the rule raises every posting it fires on
    assert all(
        parts[2].points == 0 for parts, hit in zip(scorer.job_parts(vecs, rules, sims), rules, strict=True) if not hit
    )


def test_an_emails_parts_sum_to_its_score_spam_cap_included(scorer):
    text = "We are hiring a marketing manager for our brand team."
    for spam in (0.1, 0.9):
        lead = email_lead(scorer, {"employment": 0.95, "buying_intent": 0.2, SPAM.key: spam}, CUTS, text, 0.4)
        assert sum(p.points for p in lead.parts) == pytest.approx(lead.score, abs=0.005)
        assert lead.parts[0].name == "intent (employment)" and lead.intents["employment"] == 0.95
    assert lead.score < Thresholds().parked and lead.parts[-1].name == "bulk/spam cap" and lead.parts[-1].points < 0


def test_every_stored_explanation_sums_to_the_final_score(scorer):
    analysis = pd.Series([None, None, json.dumps({"employment": 0.9, SPAM.key: 0.0}), None], dtype=object)
    signals = _signals().assign(type_scores=analysis)
    scored = with_email_leads(scorer, with_cheap_scores(scorer, signals), CUTS)
    record = CallRecord(role="prefilter", template="classify_signal", model="m", engine_calls=1, latency_s=0.4)
    answered = Completion(value={"score": 90, "reasons": ["a marketing role"]}, model="m", template="t", record=record)
    rows = score_rows(scorer, scored, {"h1": answered, "h4": answered}, "classify_signal@v1", "run-1")
    for row in rows:
        explanation = json.loads(row["explanation"])
        assert explanation["score"] == row["final_score"]
        assert round(sum(p["points"] for p in explanation["parts"]), 2) == row["final_score"], explanation
        assert explanation_text(explanation)
    posting, _, email, account = (json.loads(row["explanation"]) for row in rows)
    assert posting["model"]["score"] == 90 and posting["model"]["reasons"] == ["a marketing role"]
    model_part = next(p for p in posting["parts"] if p["name"] == MODEL_PART)
    assert model_part["points"] == pytest.approx(Thresholds().llm_weight * 90, abs=0.02)
    assert email["intents"]["employment"] == 0.9 and email["model"] is None
    assert {p["name"] for p in account["parts"]} >= {"ICP similarity", "keyword rule"}
    assert np.isclose(rows[0]["final_score"], scorer.blend(rows[0]["cheap_score"], 90))
