"""Signals about one company meet as one account: by normalized name and by email domain."""

from dataclasses import replace

from leadflow.dossier.accounts import group_accounts
from leadflow.dossier.companies import company_key, domain_label
from leadflow.dossier.facts import FactSheet, rule_facts
from leadflow.dossier.lead import LeadInput


def _sheet(signal_id: str, text: str, score: float, kind: str = "job_posting", company: str = "", sender: str = ""):
    title = text.split("\n")[0]
    lead = LeadInput(signal_id, kind, title, text, score, "warm", company=company, sender=sender)
    return FactSheet(lead, rule_facts(lead))


def test_names_and_domains_reduce_to_one_key():
    assert company_key("Acme, Inc.") == company_key("ACME Inc") == company_key("acme") == "acme"
    assert company_key("Maker\u2019s Row") == "makersrow" == domain_label("jobs@makersrow.com")
    assert domain_label("mail.acme.co.uk") == "acme"
    assert domain_label("someone@gmail.com") is None


def test_two_postings_and_an_email_of_one_company_are_one_account():
    first = _sheet("p1", "Marketing Manager\n\nAcme, Inc. is a startup selling payroll software.", 72)
    second = _sheet("p2", "Content Writer\n\nACME Inc builds payroll software for bakeries.", 85)
    email = _sheet("e1", "Our launch\n\nAcme plans a launch in May.", 60, kind="email", company="acme.com")
    other = _sheet("p3", "Sales Lead\n\nGlobex is a logistics firm.", 90)
    free_mail = _sheet("e2", "Hello\n\nI want a quote.", 65, kind="email", company="gmail.com", sender="x@gmail.com")
    accounts = group_accounts([first, second, email, other, free_mail])
    by_ids = {account.signal_ids for account in accounts}
    assert ("p2", "p1", "e1") in by_ids  # highest score first
    assert ("p3",) in by_ids and ("e2",) in by_ids
    acme = next(a for a in accounts if "p1" in a.signal_ids)
    assert acme.key == "acme" and acme.lead.signal_id == "p2"
    assert {f.value for f in acme.all("role")} == {"Content Writer", "Marketing Manager"}  # facts merged
    assert [a.lead.final_score for a in accounts] == sorted((a.lead.final_score for a in accounts), reverse=True)


def test_signals_the_accounts_stage_resolved_to_one_company_share_its_dossier():
    """A misspelt company ("Acme Marketting", a fuzzy match) meets its master record's signals."""
    typo = _sheet("p1", "Brand Manager\n\nAcme Marketting hires.", 70)
    typo = FactSheet(replace(typo.lead, account_id="acmemarketing"), typo.facts)
    mail = _sheet("e1", "Spring campaign\n\nPricing please.", 60, kind="email", company="acmemarketing.com")
    other = _sheet("p2", "Sales Lead\n\nGlobex is a logistics firm.", 90)
    accounts = group_accounts([typo, mail, other])
    assert {account.signal_ids for account in accounts} == {("p1", "e1"), ("p2",)}
