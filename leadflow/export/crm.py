"""CRM import rows: one row per account, keyed by its web domain, in the column names HubSpot's
and Salesforce's import tools map on their own.

A CRM holds companies and people, not signals, so an account's leads become one row: its best
lead's score, bucket and explanation, its dossier, how many signals and the last one's date.
HubSpot deduplicates companies on "Company Domain Name"; for Salesforce leads the domain goes
to "Website" (the Data Import Wizard matches leads on Email; a domain upsert needs a Data Loader
external id). An account without a domain is keyed by its name and lands as a new record.

A field leadflow does not know is an empty cell, never a placeholder, except where the CRM
requires a value to create a record (Salesforce's Last Name: `[not provided]`, the value its
own Web-to-Lead uses). Both tools leave the existing value of an empty cell alone with their
defaults (HubSpot's import; Salesforce's Data Import Wizard and Data Loader with "Insert null
values" off); a column empty in every row is left out of the file.
"""

from collections import Counter
from dataclasses import dataclass

from leadflow.export.leads import ExportedLead

NOT_PROVIDED = "[not provided]"
SKIPPED_BUCKET = "filtered"  # below `parked`: the cascade judged it no lead

# HubSpot company import: the default properties' labels, then custom leadflow properties
# (the import offers to create them). Lifecycle stages by their internal values.
HUBSPOT_REQUIRED = ("Company Domain Name", "Company name")
HUBSPOT_COLUMNS = (
    *HUBSPOT_REQUIRED,
    "Lifecycle Stage",
    "City",
    "Country/Region",
    "Description",
    "leadflow Score",
    "leadflow Bucket",
    "leadflow Explanation",
    "leadflow Top Signal",
    "leadflow Signals",
    "leadflow Last Signal Date",
)
LIFECYCLE_STAGES = {"red_hot": "salesqualifiedlead", "warm": "marketingqualifiedlead"}  # else "lead"

# Salesforce Lead import (field labels): Last Name, Company and Lead Status are required.
SALESFORCE_REQUIRED = ("Company", "Last Name", "Lead Status")
SALESFORCE_COLUMNS = (
    *SALESFORCE_REQUIRED,
    "Website",
    "Email",
    "Lead Source",
    "Rating",
    "City",
    "Country",
    "Description",
)
LEAD_SOURCE = "leadflow"
LEAD_STATUS = "Open - Not Contacted"  # the default first status of a Salesforce org
RATINGS = {"red_hot": "Hot", "warm": "Warm"}  # else "Cold"


@dataclass
class Account:
    key: str  # the domain, else "name:<account key>"
    leads: list[ExportedLead]  # best score first

    @property
    def best(self) -> ExportedLead:
        return self.leads[0]

    @property
    def domain(self) -> str:
        return self.key if not self.key.startswith("name:") else ""

    def first(self, field: str) -> str:
        """The first non-empty value of a lead field, best lead first."""
        return next((value for lead in self.leads if (value := getattr(lead, field))), "")

    @property
    def dossier_text(self) -> str:
        return next((text for lead in self.leads if (text := lead.dossier_text())), "")

    @property
    def last_seen(self) -> str:
        return max(lead.signal_date for lead in self.leads).isoformat()

    @property
    def top_signal(self) -> str:
        best = self.best
        return f"{best.title} ({best.kind}, {best.signal_date})"

    def description(self) -> str:
        """The dossier, then the best lead and its explanation."""
        parts = (self.dossier_text, f"Top signal: {self.top_signal}", self.best.explanation())
        return "\n\n".join(part for part in parts if part)


def accounts(leads: list[ExportedLead]) -> tuple[list[Account], int]:
    """The accounts of leads that name a company, best first, with the number of leads left out
    (no company, or an account whose best lead is `filtered`). Leads of one account share the
    domain most of its leads have, so a posting and an email about one company meet."""
    domains: dict[str, Counter[str]] = {}
    for lead in leads:
        if lead.account and lead.domain:
            domains.setdefault(lead.account, Counter())[lead.domain] += 1
    grouped: dict[str, list[ExportedLead]] = {}
    skipped = 0
    for lead in leads:
        domain = lead.domain or (domains[lead.account].most_common(1)[0][0] if lead.account in domains else "")
        if not domain and not lead.account:
            skipped += 1
            continue
        grouped.setdefault(domain or f"name:{lead.account}", []).append(lead)
    found = []
    for key, members in grouped.items():
        members.sort(key=lambda lead: (-lead.final_score, lead.signal_id))
        if members[0].bucket == SKIPPED_BUCKET:
            skipped += len(members)
        else:
            found.append(Account(key, members))
    found.sort(key=lambda account: (-account.best.final_score, account.key))
    return found, skipped


def hubspot_row(account: Account) -> dict[str, str]:
    best = account.best
    return {
        "Company Domain Name": account.domain,
        "Company name": account.first("company"),
        "Lifecycle Stage": LIFECYCLE_STAGES.get(best.bucket, "lead"),
        "City": account.first("city"),
        "Country/Region": account.first("country"),
        "Description": account.dossier_text,
        "leadflow Score": f"{best.final_score:.1f}",
        "leadflow Bucket": best.bucket,
        "leadflow Explanation": best.explanation(),
        "leadflow Top Signal": account.top_signal,
        "leadflow Signals": str(len(account.leads)),
        "leadflow Last Signal Date": account.last_seen,
    }


def salesforce_row(account: Account) -> dict[str, str]:
    best = account.best
    return {
        "Company": account.first("company") or NOT_PROVIDED,
        "Last Name": NOT_PROVIDED,  # leadflow knows addresses, not people's names
        "Lead Status": LEAD_STATUS,
        "Website": account.domain,
        "Email": account.first("contact_email"),
        "Lead Source": LEAD_SOURCE,
        "Rating": RATINGS.get(best.bucket, "Cold"),
        "City": account.first("city"),
        "Country": account.first("country"),
        "Description": account.description(),
    }
