"""The groundedness check catches each planted defect, and a composed dossier passes it."""

import copy
import dataclasses

import pytest

from leadflow.dossier.accounts import Account, group_accounts
from leadflow.dossier.compose import compose, evidence
from leadflow.dossier.facts import FactSheet, rule_facts
from leadflow.dossier.grounding import Evidence, check_dossier, fit_polarity, icp_text
from tests.dossier.conftest import as_lead, posting


@pytest.fixture(scope="module")
def account() -> Account:
    lead = as_lead(posting("372"), role_function="marketing", seniority="senior")  # Bluebridge, Marketing Director
    [found] = group_accounts([FactSheet(lead, rule_facts(lead))])
    return found


@pytest.fixture(scope="module")
def checked(account, profiles) -> Evidence:
    return evidence(account, icp_text(profiles))


@pytest.fixture
def dossier(account, checked) -> dict:
    return copy.deepcopy(compose(account, checked))


def kinds(value: dict, checked: Evidence) -> set[str]:
    return {d.kind for d in check_dossier(value, checked)}


def test_the_composed_dossier_is_clean_and_names_the_company(dossier, checked):
    assert checked.company == "Bluebridge"
    assert check_dossier(dossier, checked) == []
    assert "Bluebridge" in dossier["company_summary"]


def test_an_entity_absent_from_the_signal_is_caught(dossier, checked):
    dossier["company_summary"] += " It is backed by Sequoia Capital."
    assert kinds(dossier, checked) == {"unsupported_entity"}
    dossier["icp_fit"] = "Good fit: the ICP (Innovative Company Profile) matches."
    assert "unsupported_entity" in kinds(dossier, checked)


def test_a_number_absent_from_the_signal_is_caught_but_the_score_is_allowed(dossier, checked):
    assert str(round(checked.scores[0])) in dossier["icp_fit"]  # "scored 78"
    dossier["risks"] = ["Large organisation with 5,000 employees."]
    assert kinds(dossier, checked) == {"unsupported_number"}


@pytest.mark.parametrize(
    ("bucket", "fit", "contradiction"),
    [
        ("warm", "The company does not fit the ICP: it is not a software business.", True),
        ("red_hot", "Poor fit for our profile.", True),
        ("filtered", "Strong fit: a small software company hiring marketing.", True),
        ("nurture", "A perfect fit, strong ICP fit.", True),
        ("warm", "Good fit: a marketing hire at a small company.", False),
        ("nurture", "Possible fit: the size is unknown.", False),
    ],
)
def test_icp_fit_contradicting_the_bucket_is_caught(dossier, checked, bucket, fit, contradiction):
    dossier["icp_fit"] = fit
    assert ("score_contradiction" in kinds(dossier, dataclasses.replace(checked, bucket=bucket))) is contradiction


def test_fit_polarity_reads_negation_first():
    assert fit_polarity("not a good fit") == "negative"
    assert fit_polarity("Strong fit: scored 85") == "strong"
    assert fit_polarity("The company fits the ICP") == "positive"
    assert fit_polarity("Possible fit") == "neutral"


def test_a_copied_run_of_twelve_words_is_caught(dossier, checked, account):
    text = account.lead.text
    twelve = " ".join(text[text.index("Bluebridge was created") :].split()[:12])
    dossier["suggested_opener"] = f"Hi, {twelve}."
    assert kinds(dossier, checked) == {"copied_run"}
    eleven = " ".join(twelve.split()[:11])
    dossier["suggested_opener"] = f"Hi, {eleven}."
    assert "copied_run" not in kinds(dossier, checked)


def test_icp_echoes_are_caught(dossier, checked):
    dossier["risks"] = ["Poor fit: large enterprises, non-software businesses, roles outside marketing."]
    assert "icp_echo" in kinds(dossier, checked)
    clean = copy.deepcopy(dossier)
    clean["risks"] = ["No concrete risk in the signal."]
    clean["decision_makers"] = ["Founder or CEO", "content or social media marketer"]  # the ICP's example roles
    assert kinds(clean, checked) == {"icp_echo"}
    clean["decision_makers"] = ["Founder or CEO"]
    clean["company_summary"] += " Bluebridge is hiring their first marketing, advertising or PR person now."
    assert kinds(clean, checked) == {"icp_echo"}  # an 8-word run of the ICP description


def test_a_missing_company_name_is_caught(dossier, checked):
    for section in ("company_summary", "suggested_opener"):
        dossier[section] = dossier[section].replace("Bluebridge", "the company")
    assert kinds(dossier, checked) == {"missing_company"}


def test_the_hired_role_listed_as_decision_maker_is_caught(dossier, checked):
    dossier["decision_makers"] = ["Marketing Director", "Founder or CEO"]
    assert kinds(dossier, checked) == {"hire_as_decision_maker"}


def test_citations_must_hold_their_quotes(dossier, checked, account):
    text = account.lead.text
    for spans in dossier["citations"].values():
        for span in spans:
            assert text[span["start"] : span["end"]] == span["quote"]
    assert dossier["citations"]["company_summary"], "the summary cites the company it names"
    span = dossier["citations"]["company_summary"][0]
    span["start"] += 1
    assert kinds(dossier, checked) == {"bad_citation"}


def test_an_empty_section_is_caught(dossier, checked):
    dossier["risks"] = []
    assert kinds(dossier, checked) == {"missing_section"}


def test_a_summary_cut_off_mid_sentence_is_caught(dossier, checked):
    dossier["company_summary"] = "Bluebridge builds mobile tools that help organizations"
    assert kinds(dossier, checked) == {"unfinished_sentence"}


def test_contractions_and_greetings_are_not_entities(dossier, checked):
    dossier["suggested_opener"] = "Hey Bluebridge, I'm glad we're talking: what's next for the Marketing Director role?"
    assert kinds(dossier, checked) == set()


def test_an_opener_in_the_hiring_company_voice_is_caught(dossier, checked):
    dossier["suggested_opener"] = "We're looking for a Marketing Director to help us grow our team."
    assert kinds(dossier, checked) == {"candidate_voice"}
