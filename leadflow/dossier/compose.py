"""The dossier composed from located facts and the cascade's verdict, with its citations.

Every section but the prose is built by rules, so it cannot contradict the score or invent a
name: the trigger from the role and trigger facts, `icp_fit` from the bucket and score and the
evidence behind them, decision makers from whom the signal says the role reports to plus role
rules (a first marketing hire at a small company is decided by the founder or CEO, at a large
one by the head of marketing), risks from concrete evidence. The summary and the opener are
the model's prose when it passed the grounding check, else composed from the facts too.
Quoted facts are the signal's own words (at most `facts.MAX_FACT_WORDS`), always with
words of the dossier between two of them, so no run reaches the copy limit.
"""

import json
import re
from typing import Any

from leadflow.dossier.accounts import Account
from leadflow.dossier.facts import BOSS, HEADCOUNT, LARGE, SMALL, Fact
from leadflow.dossier.grounding import (
    CITATIONS,
    POSITIVE_BUCKETS,
    Evidence,
    check_dossier,
    fit_polarity,
)
from leadflow.dossier.lead import LeadInput
from leadflow.dossier.spans import Span, clip, words
from leadflow.scoring.dossier_rules import SECTIONS
from leadflow.scoring.injection import neutralize
from leadflow.scoring.rules import title_keyword_hit

FIT_LABELS = {
    "red_hot": "Strong fit",
    "warm": "Good fit",
    "nurture": "Possible fit",
    "parked": "Weak fit",
    "filtered": "Not a fit",
}
KIND_NOUNS = {"job_posting": "posting", "email": "email", "account": "account record"}
SMALL_MAX_HEADCOUNT = 200  # the bundled ICP's "roughly 5-200 people"
JUNIOR = ("intern", "entry")
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)")
SENIOR_TITLE = re.compile(r"\b(?:head|director|vp|vice president|chief|cmo|lead)\b", re.IGNORECASE)
MAX_DECISION_MAKERS = 3
MAX_RISKS = 2
PROSE_SECTIONS = ("company_summary", "suggested_opener")
PROSE_FIELDS = ("company", "offering", "size", "funding", "location", "trigger")


def _noun(account: Account) -> str:
    return KIND_NOUNS.get(account.lead.kind, "signal")


def _subject(lead: LeadInput) -> str:
    """An email's subject as a dossier quotes it: its first words, never what it says to a model."""
    subject = neutralize(lead.title).strip()
    return clip(Span(0, len(subject), subject), 8).text if subject else ""


def _quote(fact: Fact) -> str:
    return f'"{fact.value}"'


def evidence(account: Account, icp: str) -> Evidence:
    """What the account's dossier is checked against."""
    company = account.best("company")
    leads = [sheet.lead for sheet in account.sheets]
    hired = [lead.title for lead in leads if lead.is_hire] + [fact.value for fact in account.all("role")]
    return Evidence(
        signals={lead.signal_id: lead.text for lead in leads},
        names=tuple(name for lead in leads for name in (lead.title, lead.company, lead.sender) if name),
        bucket=account.lead.bucket,
        scores=tuple(lead.final_score for lead in leads),
        company=company.value if company else None,
        hired_roles=tuple(hired),
        icp=icp,
    )


def _headcount(value: str) -> int | None:
    match = HEADCOUNT.search(value)
    digits = re.search(r"\d[\d,]*", match.group()) if match else None
    return int(digits.group().replace(",", "")) if digits else None


def size_class(account: Account) -> tuple[str, Fact | None]:
    """("large" | "small" | "unknown", the fact that says so): large evidence wins."""
    small = None
    for fact in account.all("size"):
        count = _headcount(fact.value)
        if LARGE.search(fact.value) or (count is not None and count > SMALL_MAX_HEADCOUNT):
            return "large", fact
        if small is None and (SMALL.search(fact.value) or count is not None):
            small = fact
    return ("small", small) if small else ("unknown", None)


def _is_marketing(account: Account) -> bool:
    lead = account.lead
    return lead.role_function == "marketing" or title_keyword_hit(lead.title)


def _role_key(title: str) -> str:
    """A role's title without its bracketed notes ("[Re-posted]", "(m/f)"), case and punctuation:
    the reposts and cosmetic variants of one posting name one role."""
    return " ".join(words(_BRACKETED.sub(" ", title)))


def _roles(account: Account) -> list[Fact]:
    """The role facts of the account's hires (a posting's title, an email's hire), one per role."""
    roles: dict[str, Fact] = {}
    for sheet in account.sheets:
        fact = sheet.best("role") if sheet.lead.is_hire else None
        if fact is not None:
            roles.setdefault(_role_key(fact.value), fact)
    return list(roles.values())


def _trigger(account: Account) -> tuple[str, list[Fact]]:
    lead, noun = account.lead, _noun(account)
    roles = _roles(account)
    used = list(roles)
    if roles:
        parts = [f"Hiring: {', '.join(fact.value for fact in roles)}."]
    elif lead.kind == "email":
        subject = _subject(lead)
        parts = [f'Email "{subject}".' if subject else "An email to the team."]
    else:
        parts = [f"{noun.capitalize()} of a company in the lead list."]
    for name, label in (("trigger", f"The {noun} says"), ("funding", "Funding"), ("reports_to", "The role works with")):
        fact = account.best(name)
        if fact is not None:
            parts.append(f"{label}: {_quote(fact)}.")
            used.append(fact)
    return " ".join(parts), used


def _reasons(account: Account, evidence: Evidence) -> list[str]:
    """The small model's reasons that are grounded, say nothing about the fit and echo no ICP."""
    kept = []
    for reason in account.lead.reasons:
        probe = {"company_summary": reason}
        if not re.search(r"\b(?:fit|match)", reason, re.I) and not check_dossier(probe, evidence, ("company_summary",)):
            kept.append(reason)
    return kept


def _icp_fit(account: Account, evidence: Evidence) -> tuple[str, list[Fact]]:
    lead = account.lead
    head = f"{FIT_LABELS[lead.bucket]}: scored {round(lead.final_score)} ({lead.bucket.replace('_', ' ')})"
    points, used = [], []
    if lead.is_hire and lead.role_function and lead.role_function != "other":
        points.append(f"a {lead.role_function.replace('_', ' ')} role")
    if lead.seniority and lead.seniority != "unknown":
        points.append(f"{lead.seniority} level")
    for name in ("size", "funding"):
        fact = account.best(name)
        if fact is not None:
            points.append(f"{name} {_quote(fact)}")
            used.append(fact)
    reasons = _reasons(account, evidence)
    if reasons:
        points.append(f"scoring reasons: {'; '.join(reasons)}")
    text = f"{head}; {', '.join(points)}." if points else f"{head}."
    # Quoted evidence must not change what the label says (a quote reading "not a good fit").
    return (text, used) if fit_polarity(text) == fit_polarity(head) else (f"{head}.", [])


def _decision_makers(account: Account) -> tuple[list[str], list[Fact]]:
    items, used = [], []
    noun = _noun(account)
    for fact in account.all("reports_to"):
        for match in BOSS.finditer(fact.value):
            term = match.group()
            items.append(f"{term[0].upper()}{term[1:]} (named in the {noun})")
            if fact.span is not None:
                start = fact.span.start + match.start()
                used.append(Fact(fact.field, term, fact.signal_id, Span(start, start + len(term), term), fact.source))
    size, _ = size_class(account)
    lead = account.lead
    senior = lead.seniority in ("senior", "executive") or bool(SENIOR_TITLE.search(lead.title))
    if lead.kind == "email":
        items.append("The sender of the email")
    if size == "large":
        items.append(
            ("CMO or CEO" if senior else "Head of Marketing or CMO")
            if _is_marketing(account)
            else "Head of the hiring team"
        )
    else:
        items.append("Founder or CEO")
    unique: dict[str, str] = {}
    for item in items:
        unique.setdefault(" ".join(words(item)), item)
    return list(unique.values())[:MAX_DECISION_MAKERS], used


def _risks(account: Account) -> tuple[list[str], list[Fact]]:
    lead, noun = account.lead, _noun(account)
    risks, used = [], []
    size, fact = size_class(account)
    if size == "large" and fact is not None:
        risks.append(f"Large organisation: {_quote(fact)}; the buyer may sit far from the role.")
        used.append(fact)
    agency = account.best("agency")
    if agency is not None:
        risks.append(f"Posted by a recruiter or agency ({_quote(agency)}): the buyer may be hidden.")
        used.append(agency)
    if (
        lead.is_hire
        and lead.role_function
        and lead.role_function not in ("marketing", "other")
        and not _is_marketing(account)
    ):
        risks.append(f"The role is in {lead.role_function.replace('_', ' ')}, not marketing.")
    if lead.seniority in JUNIOR:
        risks.append(f"An {lead.seniority}-level hire: the budget may be small.")
    if account.best("company") is None:
        risks.append(f"The {noun} does not name the company.")
    if lead.bucket not in POSITIVE_BUCKETS:
        risks.append(f"Only a {lead.bucket.replace('_', ' ')} lead (score {round(lead.final_score)}).")
    if not risks:
        risks.append("No concrete risk in the signal: confirm budget and timing on the first call.")
    return risks[:MAX_RISKS], used


def _summary(account: Account) -> tuple[str, list[Fact]]:
    company = account.best("company")
    name = company.value if company else f"The company behind this {_noun(account)}"
    facts = {key: account.best(key) for key in ("offering", "size", "funding", "location")}
    used = [fact for fact in (company, *facts.values()) if fact is not None]
    offering = facts["offering"]
    first = f"{name} offers {_quote(offering)}." if offering else f"{name}."
    labelled = (("size", facts["size"]), ("funding", facts["funding"]), ("based in", facts["location"]))
    details = "; ".join(f"{label} {_quote(fact)}" for label, fact in labelled if fact is not None)
    if details:
        return f"{first} {details[0].upper()}{details[1:]}.", used
    if not offering:
        return f"{first} The {_noun(account)} gives no more about the company.", used
    return first, used


def _opener(account: Account) -> tuple[str, list[Fact]]:
    lead = account.lead
    company = account.best("company")
    roles = _roles(account)
    who = company.value if company else "your team"
    used = [fact for fact in (company, *roles[:1]) if fact is not None]
    if roles:
        goal = "grow marketing" if _is_marketing(account) else "get the new role up to speed"
        return (
            f"Saw that {who} is hiring for the {roles[0].value} role: would a short call on how you plan to {goal} help?",
            used,
        )
    if lead.kind == "email" and (subject := _subject(lead)):
        return f'Following up on "{subject}": would a short call this week help?', used
    return f"Would a short call on the plans of {who} for this quarter help?", used


def prose_facts(account: Account) -> str:
    """The facts the model writes the prose from, as JSON: never the raw signal."""
    facts: dict[str, Any] = {"signal": _noun(account)}
    for name in PROSE_FIELDS:
        fact = account.best(name)
        if fact is not None:
            facts[name] = fact.value
    roles = _roles(account)
    if roles:
        facts["hiring"] = [fact.value for fact in roles]
    return json.dumps(facts, ensure_ascii=False)


def prose_citations(account: Account) -> list[Fact]:
    """The facts behind the model's prose: exactly those it was given."""
    return [fact for name in PROSE_FIELDS if (fact := account.best(name)) is not None] + _roles(account)


def compose(account: Account, evidence: Evidence, prose: dict[str, str] | None = None) -> dict[str, Any]:
    """The six sections and their citations; the model's `prose` for summary and opener if given."""
    built: dict[str, tuple[Any, list[Fact]]] = {
        "company_summary": _summary(account),
        "trigger": _trigger(account),
        "icp_fit": _icp_fit(account, evidence),
        "decision_makers": _decision_makers(account),
        "suggested_opener": _opener(account),
        "risks": _risks(account),
    }
    if prose is not None:
        behind = prose_citations(account)
        built.update({section: (prose[section], behind) for section in PROSE_SECTIONS})
    value: dict[str, Any] = {section: built[section][0] for section in SECTIONS}
    value[CITATIONS] = {section: _citations(built[section][1]) for section in SECTIONS}
    return value


def _citations(facts: list[Fact]) -> list[dict[str, str | int]]:
    """Each distinct span once, in the order the section uses them."""
    unique: dict[tuple[str, int, int], dict[str, str | int]] = {}
    for fact in facts:
        if fact.span is not None:
            unique.setdefault((fact.signal_id, fact.span.start, fact.span.end), fact.span.citation(fact.signal_id))
    return list(unique.values())
