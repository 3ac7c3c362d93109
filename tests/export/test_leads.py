"""Published leads as export records, read from a real DuckDB file: only the published version,
the --since filter, and each lead's account, domain, explanation and dossier."""

from leadflow.export.leads import published_leads
from tests.export.conftest import DAY, DOSSIER, LATER, LEADS, fill


def test_a_database_without_the_schema_has_no_leads(warehouse):
    with warehouse.get_connection() as conn:
        assert published_leads(conn) == []


def test_every_lead_carries_its_account_domain_explanation_and_dossier(warehouse):
    fill(warehouse, DAY, "run-a", LEADS)
    with warehouse.get_connection() as conn:
        leads = {lead.signal_id: lead for lead in published_leads(conn)}
    assert [lead.final_score for lead in leads.values()] == [85.0, 65.0, 50.0, 45.0, 5.0]  # best first
    posting, mail, account = leads["job-acme"], leads["mail-acme"], leads["acct-globex"]
    assert (posting.account, posting.company, posting.domain) == ("acme", "Acme Inc", "")
    assert (mail.account, mail.company, mail.domain, mail.contact_email) == (
        "acme",
        "acme.com",
        "acme.com",
        "bob@acme.com",
    )
    assert (account.account, account.company, account.domain) == ("globex", "Globex Corporation", "globex.com")
    assert (account.city, account.country) == ("Springfield", "USA")
    assert leads["mail-gmail"].account == "" and leads["mail-gmail"].domain == ""  # free mail names no company
    assert posting.reasons == ("mentions a data team",) and posting.version == "run-a"
    assert posting.explanation() == (
        "score 65.0 (warm); cheap score 60.0; keyword rule hit; ICP similarity 0.50. Reasons: mentions a data team"
    )
    assert posting.dossier is not None and posting.dossier["decision_makers"] == "Head of Data"
    assert "citations" not in posting.dossier
    text = posting.dossier_text()
    assert text.splitlines()[0] == f"Company summary: {DOSSIER['company_summary']}"
    assert len(text.splitlines()) == 6
    assert mail.dossier is None and mail.dossier_text() == ""


def test_only_the_published_version_is_exported(warehouse):
    fill(warehouse, DAY, "run-a", LEADS)
    newer = [replace_score(lead, 99.0) for lead in LEADS]
    fill(warehouse, DAY, "run-b", newer, published=False)  # written, checks pending: not published
    with warehouse.get_connection() as conn:
        leads = published_leads(conn)
    assert {lead.version for lead in leads} == {"run-a"}
    assert max(lead.final_score for lead in leads) == 85.0


def test_since_keeps_the_leads_dated_that_day_or_later(warehouse):
    fill(warehouse, DAY, "run-a", LEADS)
    fill(warehouse, LATER, "run-c", [LEADS[2] | {"signal_id": "acct-globex-2"}])
    with warehouse.get_connection() as conn:
        assert len(published_leads(conn)) == len(LEADS) + 1
        later = published_leads(conn, since=LATER)
        assert [(lead.signal_id, lead.signal_date) for lead in later] == [("acct-globex-2", LATER)]
        assert len(published_leads(conn, days=[DAY])) == len(LEADS)


def replace_score(lead: dict, score: float) -> dict:
    return lead | {"final_score": score, "bucket": "red_hot"}
