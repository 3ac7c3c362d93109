"""Priority and business value: documented formula, hiring above news, spam never nurture."""

import datetime

import pytest

from leadflow.analysis.features import email_vectors
from leadflow.analysis.priority import SPAM_PRIORITY_CAP, business_value, priority
from leadflow.scoring.cascade import Thresholds

NONE = {"employment": 0.0, "buying_intent": 0.0, "spam": 0.0}


def test_the_formula():
    scores = {**NONE, "employment": 0.8}
    assert business_value(scores) == (0.8, "employment")
    plain = priority(scores, reply_expected=False, money_usd=None, sent=None, as_of=None)
    assert plain.score == 56 and plain.business_value == 0.8  # 100 * 0.7 * 0.8
    day = datetime.date(2001, 6, 1)
    full = priority(scores, reply_expected=True, money_usd=1e7, sent=day, as_of=day)
    assert full.score == 86 and full.reasons == ("employment 0.80", "reply expected", "money $10,000,000")
    month = priority(scores, reply_expected=False, money_usd=None, sent=day, as_of=day + datetime.timedelta(days=30))
    assert month.score == 61  # recency halves after 30 days


def test_spam_is_never_nurture_or_above():
    spam = {**NONE, "employment": 1.0, "spam": 0.64}
    ranked = priority(spam, reply_expected=True, money_usd=1e9, sent=None, as_of=None)
    assert ranked.score <= SPAM_PRIORITY_CAP < Thresholds().nurture
    assert ranked.business_value == pytest.approx(0.36)


def test_a_hiring_email_outranks_a_newsletter(typer, client, sample_mails):
    mails = [sample_mails["employment"], sample_mails["newsletter"]]
    hiring, news = typer.type_scores(mails, email_vectors(client, mails))
    rank = {
        name: priority(s, reply_expected=False, money_usd=None, sent=None, as_of=None).score
        for name, s in (("hiring", hiring), ("news", news))
    }
    assert rank["hiring"] > rank["news"] + 20
