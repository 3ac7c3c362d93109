"""Stated rules for buying intent and spam, on real mail."""

import dataclasses

import pytest

from leadflow.analysis.rules import RULE_DECISION, rule_points, rule_probability
from leadflow.analysis.taxonomy import BUYING_INTENT, EMPLOYMENT, SPAM


def test_an_rfi_is_buying_intent(sample_mails):
    mail = sample_mails["buying_intent"]
    assert rule_points(BUYING_INTENT, mail) == 1
    assert rule_probability(BUYING_INTENT, mail) == pytest.approx(0.6)
    assert rule_probability(BUYING_INTENT, mail) >= RULE_DECISION  # one explicit RFI decides it
    assert rule_probability(BUYING_INTENT, sample_mails["personal"]) == 0.0


def test_one_bulk_marker_is_not_spam_but_a_bulk_sender_makes_it(sample_mails):
    alert = sample_mails["news_alert"]  # a real news alert: one unsubscribe-style footer
    assert rule_points(SPAM, alert) == 1 and rule_probability(SPAM, alert) < RULE_DECISION
    # The same real text from a bulk-looking sender: two kinds of marker.
    bulk = dataclasses.replace(alert, sender="newsletter@alerts.example.com")
    assert rule_points(SPAM, bulk) == 2 and rule_probability(SPAM, bulk) == pytest.approx(0.64)


def test_bulk_mail_headers_are_a_kind_of_bulk_marker(sample_mails):
    alert = sample_mails["news_alert"]
    listed = dataclasses.replace(alert, bulk_headers=("list-unsubscribe",))
    assert rule_points(SPAM, listed) == 2 and rule_probability(SPAM, listed) >= RULE_DECISION
    assert rule_points(SPAM, dataclasses.replace(sample_mails["personal"], bulk_headers=("list-id",))) == 1


def test_trained_types_have_no_rule(sample_mails):
    with pytest.raises(ValueError, match="trained"):
        rule_probability(EMPLOYMENT, sample_mails["employment"])
