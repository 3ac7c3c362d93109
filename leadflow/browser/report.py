"""The static HTML report of a run: the lead browser's view of the run's published leads in
one self-contained file (stylesheet inlined, no script, a Content-Security-Policy that loads
nothing), for the `lead_report` asset. Every lead is in the table; those above `filtered` also
get their detail (explanation, account, dossier, signal text with the citations marked).
"""

import datetime
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from leadflow.browser.leads import LeadDetail, details, labels_by_signal
from leadflow.browser.render import render, stylesheet
from leadflow.export.leads import ExportedLead, published_leads
from leadflow.scoring.cascade import BUCKETS
from leadflow.storage.private import private_file, private_parent

UNDETAILED = "filtered"  # the bucket whose leads the report lists without details


@dataclass(frozen=True)
class Report:
    leads: list[ExportedLead]  # the days' published leads, best first
    details: list[LeadDetail]  # of those above UNDETAILED
    labels: dict[str, str]  # signal_id -> current label

    def buckets(self) -> list[tuple[str, int]]:
        counts = Counter(lead.bucket for lead in self.leads)
        return [(bucket, counts[bucket]) for bucket in BUCKETS if counts[bucket]]


def build_report(conn: duckdb.DuckDBPyConnection, days: list[datetime.date]) -> Report:
    every = published_leads(conn)
    leads = [lead for lead in every if lead.signal_date in set(days)]
    return Report(
        leads, details(conn, [lead for lead in leads if lead.bucket != UNDETAILED], every), labels_by_signal(conn)
    )


def render_report(report: Report, span: str, run_id: str, generated_at: datetime.datetime) -> str:
    return render(
        "report.html",
        standalone=True,
        css=stylesheet(),
        title=f"Leads of {span}",
        span=span,
        run_id=run_id,
        generated_at=generated_at.strftime("%Y-%m-%d %H:%M"),
        leads=report.leads,
        details=report.details,
        detailed={detail.lead.signal_id for detail in report.details},
        labels=report.labels,
        buckets=report.buckets(),
        hidden=len(report.leads) - len(report.details),
    )


def write_report(path: Path, html: str) -> Path:
    """`html` to `path`, owner-only (it quotes the signals), replacing a previous report only
    once the new one is whole."""
    partial = path.with_name(f".{path.name}.partial")
    private_parent(path)
    private_file(partial, create=True)
    partial.write_text(html, encoding="utf-8")
    os.replace(partial, path)
    return path
