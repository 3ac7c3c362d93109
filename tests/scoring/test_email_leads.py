"""Email lead scores from the analysis (intent x ICP fit), on the real typer and cascade."""

import numpy as np
import pytest

from leadflow.analysis.classifier import shared_typer
from leadflow.analysis.features import email_vectors
from leadflow.analysis.mail import Mail
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.scoring import prefilter
from leadflow.scoring.email_leads import NO_LEAD_TYPE, calibrated, email_lead, lead_ceiling, lead_intents
from leadflow.scoring.embedding import embed_texts, icp_similarities
from leadflow.scoring.golden import load_golden
from leadflow.scoring.icp import load_icp

HIRING = Mail(
    "Hiring our first PR manager",
    "Hi Sam,\n\nWe are a 15-person B2B software startup (Series A, analytics for retailers) and we are "
    "hiring our first PR and communications manager. The role reports to me, the CEO. Do you know "
    "anyone good? I attached the job description; interviews start next week.\n\nThanks,\nDana",
    "dana@example.com",
)
NEWSLETTER = Mail(
    "Weekly energy news digest",
    "Top stories this week: natural gas prices rose 4% as California utilities asked regulators for "
    "relief. Click here to unsubscribe from this newsletter.",
    "news@example.com",
)
LUNCH = Mail("Lunch Thursday?", "Are you free for lunch on Thursday at noon? Let me know.", "bob@example.com")


def test_calibration_puts_the_decision_cut_at_warm():
    assert calibrated(0.3, 0.3, 60) == pytest.approx(60)
    assert calibrated(0.0, 0.3, 60) == 0 and calibrated(1.0, 0.3, 60) == pytest.approx(100)
    assert calibrated(0.15, 0.3, 60) == pytest.approx(30)


def test_only_lead_types_with_a_cut_count():
    """The typer's `lead_cuts` leaves out a type it decides too poorly: no intent from it."""
    scores = {"employment": 0.1, "deal_partnership": 0.9}
    assert set(lead_intents(scores, {"employment": 0.4, "deal_partnership": 0.1}, 60)) == {
        "employment",
        "deal_partnership",
    }
    assert set(lead_intents(scores, {"employment": 0.4}, 60)) == {"employment"}
    assert lead_intents(scores, {}, 60) == {NO_LEAD_TYPE: 0.0}


@pytest.fixture(scope="module")
def leads(model_dir, tmp_path_factory):
    llm = LLMResource(model_dir=str(model_dir), cache_path=str(tmp_path_factory.mktemp("cache") / "c.sqlite"))
    client = llm.client()
    pipeline = PipelineSettings()
    profiles = load_icp(pipeline.icp_file())
    cascade = prefilter.fit_cascade(
        client, load_golden(pipeline.golden_file()), profiles, pipeline.thresholds(), pipeline.max_text_chars
    )
    typer = shared_typer(client)
    mails = [HIRING, NEWSLETTER, LUNCH]
    scores = typer.type_scores(mails, email_vectors(client, mails))
    vectors = embed_texts(client, [m.text for m in mails])
    sims = np.vstack(list(icp_similarities(client, profiles, vectors).values())).max(axis=0)
    out = {}
    for mail, type_scores, sim in zip(mails, scores, sims, strict=True):
        lead = email_lead(cascade.scorer, type_scores, typer.lead_cuts, mail.text, float(sim))
        ceiling = lead_ceiling(type_scores, typer.lead_cuts, cascade.scorer.thresholds)
        out[mail.subject] = (lead, cascade.scorer.thresholds.bucket(lead.score), ceiling)
    return out


def test_a_marketing_hire_at_a_small_software_company_reaches_the_top_buckets(leads):
    lead, bucket, _ = leads[HIRING.subject]
    assert bucket in ("red_hot", "warm"), lead
    assert lead.reasons[0].startswith("employment") and "marketing/PR role" in lead.reasons[1]


def test_newsletters_and_meeting_notes_stay_below_nurture(leads):
    for mail in (NEWSLETTER, LUNCH):
        lead, bucket, _ = leads[mail.subject]
        assert bucket in ("parked", "filtered"), (mail.subject, lead)
        assert lead.reasons  # every lead says why


def test_the_ceiling_known_before_the_icp_stage_bounds_every_lead_score(leads):
    """The analysis spends the small model only where the ceiling reaches `nurture`: it must
    never be below the score the email then gets."""
    for lead, _, ceiling in leads.values():
        assert lead.score <= round(ceiling, 2)  # the score is rounded to cents
    assert leads[HIRING.subject][2] >= PipelineSettings().thresholds().nurture
