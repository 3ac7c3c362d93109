"""Published leads as export records: each lead of the `leads` view (the published version of
its partition, never a newer unpublished one) with its signal's source, its account and domain,
the parts of its score with their reasons, and its published dossier.

The account is the one the accounts stage resolved (`leadflow.accounts.resolve`), with its
match confidence. A version scored before that stage existed carries none: its lead takes the
dossier's account, else the key the dossier writer would give it (its company's name key, or
its email domain's brand).
"""

import datetime
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from leadflow.accounts.resolve import signal_domain
from leadflow.dossier.companies import company_key, domain_label
from leadflow.ingest.emails import KIND as EMAIL_KIND
from leadflow.scoring.dossier_rules import SECTIONS, section_text
from leadflow.scoring.explanation import explanation_text
from leadflow.storage.warehouse import has_schema

EXPORT_SQL = """
SELECT l.partition_date, l.signal_id, l.kind, l.title, l.final_score, l.bucket, l.cheap_score, l.llm_score,
       l.rule_hit, l.icp_similarity, l.reasons, l.explanation, l.account_id, l.account_name, l.account_domain,
       l.match_confidence, l.run_id, s.source, s.company, s.attributes,
       d.account, d.dossier, d.evidence
FROM leads l
LEFT JOIN raw_signals s USING (partition_date, signal_id)
LEFT JOIN published_dossiers d USING (partition_date, signal_id)
WHERE {where}
ORDER BY l.final_score DESC, l.partition_date, l.signal_id
"""


@dataclass(frozen=True)
class ExportedLead:
    signal_id: str
    signal_date: datetime.date  # its partition
    kind: str
    title: str
    source: str
    final_score: float
    bucket: str
    account: str  # account id ("" when nothing names a company)
    company: str  # display name: the account's, else the dossier's company, the signal's, the domain
    domain: str  # the company's web domain ("" when unknown or a free-mail provider)
    account_confidence: float | None  # how surely the signal is about the account (None: not resolved)
    contact_email: str  # an email lead's sender
    city: str
    country: str
    reasons: tuple[str, ...]
    score_parts: dict[str, Any]  # cheap_score, llm_score, rule_hit, icp_similarity
    contributions: dict[str, Any] | None  # the stored explanation: parts summing to the score
    dossier: dict[str, str] | None  # the six sections as text, None without a dossier
    version: str  # the published run whose version this is

    def explanation(self) -> str:
        """The score and what it rests on, in one line: the parts that sum to it when stored."""
        parts = self.score_parts
        pieces = [f"score {self.final_score:.1f} ({self.bucket})"]
        if self.contributions:
            pieces.append(explanation_text(self.contributions))
        else:
            pieces.append(f"cheap score {parts['cheap_score']:.1f}")
            if parts["llm_score"] is not None:
                pieces.append(f"small model {parts['llm_score']}")
            if parts["rule_hit"]:
                pieces.append("keyword rule hit")
            if parts["icp_similarity"] is not None:
                pieces.append(f"ICP similarity {parts['icp_similarity']:.2f}")
        return "; ".join(pieces) + (f". Reasons: {'; '.join(self.reasons)}" if self.reasons else "")

    def dossier_text(self) -> str:
        """The dossier's sections, one per line, each after its title."""
        if not self.dossier:
            return ""
        return "\n".join(
            f"{name.replace('_', ' ').capitalize()}: {text}" for name, text in self.dossier.items() if text
        )


def _account(dossier_account: str | None, kind: str, company: str, domain: str) -> str:
    if dossier_account and not dossier_account.startswith("signal:"):
        return dossier_account
    if kind != EMAIL_KIND and company:
        return company_key(company)
    label = domain_label(domain) if domain else None
    return company_key(label) if label else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> Any:
    """A nullable number from a frame cell (NaN and NA are None)."""
    return None if pd.isna(value) else value


def _lead(row: Any) -> ExportedLead:
    attributes = json.loads(row.attributes) if isinstance(row.attributes, str) else {}
    company = _text(row.company)
    domain = _text(row.account_domain) or signal_domain(row.kind, company, attributes)
    dossier = json.loads(row.dossier) if isinstance(row.dossier, str) else None
    evidence = json.loads(row.evidence) if isinstance(row.evidence, str) else {}
    name = (
        _text(row.account_name)
        or _text(evidence.get("company"))
        or (company if row.kind != EMAIL_KIND else "")
        or domain
    )
    confidence = _number(row.match_confidence)
    llm_score = _number(row.llm_score)
    similarity = _number(row.icp_similarity)
    return ExportedLead(
        signal_id=row.signal_id,
        signal_date=row.partition_date.date() if hasattr(row.partition_date, "date") else row.partition_date,
        kind=row.kind,
        title=_text(row.title),
        source=_text(row.source),
        final_score=float(row.final_score),
        bucket=row.bucket,
        account=_text(row.account_id) or _account(_text(row.account), row.kind, company, domain),
        company=name,
        domain=domain,
        account_confidence=None if confidence is None else float(confidence),
        contact_email=str(attributes.get("from") or "") if row.kind == EMAIL_KIND else "",
        city=str(attributes.get("city") or ""),
        country=str(attributes.get("country_code") or ""),
        reasons=tuple(json.loads(row.reasons)) if isinstance(row.reasons, str) else (),
        score_parts={
            "cheap_score": float(row.cheap_score),
            "llm_score": None if llm_score is None else int(llm_score),
            "rule_hit": bool(row.rule_hit),
            "icp_similarity": None if similarity is None else float(similarity),
        },
        contributions=json.loads(row.explanation) if isinstance(row.explanation, str) else None,
        dossier={section: section_text(dossier, section) for section in SECTIONS} if dossier else None,
        version=row.run_id,
    )


def published_leads(
    conn: duckdb.DuckDBPyConnection,
    since: datetime.date | None = None,
    days: list[datetime.date] | None = None,
) -> list[ExportedLead]:
    """The published leads, best score first: those dated `since` or later, or of `days`."""
    if not has_schema(conn):
        return []
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if since is not None:
        clauses.append("l.partition_date >= ?")
        params.append(since)
    if days is not None:
        clauses.append("l.partition_date = ANY(?::DATE[])")
        params.append(days)
    frame = conn.execute(EXPORT_SQL.format(where=" AND ".join(clauses)), params).df()
    return [_lead(row) for row in frame.itertuples()]
