"""Published leads as export records: each lead of the `leads` view (the published version of
its partition, never a newer unpublished one) with its signal's source, its account and domain,
the parts of its score with their reasons, and its published dossier.

The account is the dossier's (one dossier per account); a lead without a dossier takes the
account the dossier writer would give it: its company's name key, or its email domain's brand.
"""

import datetime
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pandas as pd

from leadflow.dossier.companies import company_key, domain_label
from leadflow.ingest.emails import KIND as EMAIL_KIND
from leadflow.scoring.dossier_rules import SECTIONS, section_text
from leadflow.storage.warehouse import has_schema

# Account-export columns that may hold the company's web address, in order of preference.
URL_ATTRIBUTES = ("domain", "homepage_url", "website", "url", "company_domain")

EXPORT_SQL = """
SELECT l.partition_date, l.signal_id, l.kind, l.title, l.final_score, l.bucket, l.cheap_score, l.llm_score,
       l.rule_hit, l.icp_similarity, l.reasons, l.run_id, s.source, s.company, s.attributes,
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
    account: str  # account key ("" when nothing names a company)
    company: str  # display name: the dossier's company, the signal's, else the domain
    domain: str  # the company's web domain ("" when unknown or a free-mail provider)
    contact_email: str  # an email lead's sender
    city: str
    country: str
    reasons: tuple[str, ...]
    score_parts: dict[str, Any]  # cheap_score, llm_score, rule_hit, icp_similarity
    dossier: dict[str, str] | None  # the six sections as text, None without a dossier
    version: str  # the published run whose version this is

    def explanation(self) -> str:
        """The score and what it rests on, in one line."""
        parts = self.score_parts
        pieces = [f"score {self.final_score:.1f} ({self.bucket})", f"cheap score {parts['cheap_score']:.1f}"]
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


def web_domain(value: str) -> str:
    """The host of a URL or address ("https://www.Acme.com/about" -> "acme.com"), "" for none
    or for a free-mail provider (which names no company)."""
    value = value.strip().lower().rpartition("@")[2]
    host = (urlsplit(value if "//" in value else f"//{value}").hostname or "").removeprefix("www.")
    return host if domain_label(host) else ""


def _domain(kind: str, company: str, attributes: dict[str, Any]) -> str:
    if kind == EMAIL_KIND:  # an email's company is its sender's domain
        return web_domain(company)
    return next((d for name in URL_ATTRIBUTES if (d := web_domain(str(attributes.get(name) or "")))), "")


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
    domain = _domain(row.kind, company, attributes)
    dossier = json.loads(row.dossier) if isinstance(row.dossier, str) else None
    evidence = json.loads(row.evidence) if isinstance(row.evidence, str) else {}
    name = _text(evidence.get("company")) or (company if row.kind != EMAIL_KIND else "") or domain
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
        account=_account(_text(row.account), row.kind, company, domain),
        company=name,
        domain=domain,
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
