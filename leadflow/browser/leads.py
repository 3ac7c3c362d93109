"""What the lead browser and the static report show, read from the published views only (the
`leads` and `published_dossiers` views through `leadflow.export.leads`, never an unpublished
version): the leads a set of filters keeps, and one lead in full (its signal's text with the
dossier's citations marked, its account's other leads, its label and the label's history).
"""

import datetime
import json
from collections import defaultdict
from dataclasses import dataclass, field, fields
from typing import Any

import duckdb

from leadflow.browser.highlight import Citation, Segment, citations, segments
from leadflow.export.leads import ExportedLead, published_leads
from leadflow.scoring.cascade import BUCKETS
from leadflow.scoring.dossier_rules import SECTIONS
from leadflow.storage.labels import current_labels, label_history

MAX_ROWS = 500  # a page lists at most this many leads; the filters narrow the rest


@dataclass(frozen=True)
class Filters:
    """The list's filters, as the page's query parameters name them ("" = any)."""

    bucket: str = ""
    kind: str = ""
    account: str = ""
    since: str = ""  # first signal date, YYYY-MM-DD
    until: str = ""  # last signal date
    q: str = ""  # words every kept lead contains (title, company, account, domain, id, explanation, dossier)

    @classmethod
    def from_params(cls, params: Any) -> "Filters":
        """From a query string's mapping; unknown parameters are ignored, values trimmed."""
        return cls(**{f.name: str(params.get(f.name) or "").strip() for f in fields(cls)})

    def _day(self, value: str) -> datetime.date | None:
        try:
            return datetime.date.fromisoformat(value) if value else None
        except ValueError:
            return None  # a malformed date filters nothing (the form shows it as typed)

    def keeps(self, lead: ExportedLead) -> bool:
        since, until = self._day(self.since), self._day(self.until)
        if (self.bucket and lead.bucket != self.bucket) or (self.kind and lead.kind != self.kind):
            return False
        if self.account and lead.account != self.account:
            return False
        if (since and lead.signal_date < since) or (until and lead.signal_date > until):
            return False
        haystack = " ".join(
            (
                lead.title,
                lead.company,
                lead.account,
                lead.domain,
                lead.signal_id,
                lead.explanation(),
                lead.dossier_text(),
            )
        ).lower()
        return all(word in haystack for word in self.q.lower().split())


@dataclass(frozen=True)
class LeadList:
    leads: list[ExportedLead]  # the kept leads, best first, at most MAX_ROWS
    kept: int  # how many the filters kept (more than shown when over MAX_ROWS)
    total: int  # published leads
    buckets: list[str]  # the values each filter offers, from every published lead
    kinds: list[str]
    accounts: list[tuple[str, str]]  # (account key, display name), by name
    labels: dict[str, str] = field(default_factory=dict)  # signal_id -> current label


def labels_by_signal(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """signal_id -> its current label."""
    return dict(current_labels(conn)[["signal_id", "label"]].itertuples(index=False, name=None))


def list_leads(conn: duckdb.DuckDBPyConnection, filters: Filters) -> LeadList:
    """The published leads `filters` keeps, with what each filter can choose from."""
    every = published_leads(conn)
    kept = [lead for lead in every if filters.keeps(lead)]
    names = {lead.account: lead.company or lead.account for lead in every if lead.account}
    return LeadList(
        leads=kept[:MAX_ROWS],
        kept=len(kept),
        total=len(every),
        buckets=[bucket for bucket in BUCKETS if any(lead.bucket == bucket for lead in every)],
        kinds=sorted({lead.kind for lead in every}),
        accounts=sorted(names.items(), key=lambda item: (item[1].lower(), item[0])),
        labels=labels_by_signal(conn),
    )


@dataclass(frozen=True)
class LeadDetail:
    lead: ExportedLead
    text: list[Segment]  # the signal's text, cut at the citations
    citations: list[Citation]
    sections: list[tuple[str, str]]  # (section, text) of the dossier, in order; empty without one
    account_leads: list[ExportedLead]  # the account's other published leads
    label: str  # current label, "" when none
    history: list[dict[Any, Any]]  # every label given, oldest first (labels.COLUMNS)


def _signals(conn: duckdb.DuckDBPyConnection, leads: list[ExportedLead]) -> dict[str, tuple[str, Any]]:
    """signal_id -> (text, published dossier or None) of `leads`, in one query."""
    if not leads:
        return {}
    rows = conn.execute(
        """SELECT s.signal_id, s.text, d.dossier FROM raw_signals s
           LEFT JOIN published_dossiers d USING (partition_date, signal_id)
           WHERE (s.partition_date, s.signal_id) IN (SELECT UNNEST(?::DATE[]), UNNEST(?::VARCHAR[]))""",
        [[lead.signal_date for lead in leads], [lead.signal_id for lead in leads]],
    ).fetchall()
    return {signal_id: (text or "", json.loads(dossier) if dossier else None) for signal_id, text, dossier in rows}


def details(conn: duckdb.DuckDBPyConnection, leads: list[ExportedLead], every: list[ExportedLead]) -> list[LeadDetail]:
    """`leads` in full; `every` published lead gives each its account's other leads."""
    signals = _signals(conn, leads)
    by_account: dict[str, list[ExportedLead]] = defaultdict(list)
    for lead in every:
        if lead.account:
            by_account[lead.account].append(lead)
    history = label_history(conn)
    by_signal = {signal_id: rows.to_dict("records") for signal_id, rows in history.groupby("signal_id")}
    out = []
    for lead in leads:
        text, dossier = signals.get(lead.signal_id, ("", None))
        cited = citations(dossier, lead.signal_id, text)
        given = by_signal.get(lead.signal_id, [])
        out.append(
            LeadDetail(
                lead=lead,
                text=segments(text, cited),
                citations=cited,
                sections=[(name, lead.dossier[name]) for name in SECTIONS if lead.dossier and lead.dossier[name]],
                account_leads=[other for other in by_account.get(lead.account, []) if other is not lead],
                label=str(given[-1]["label"]) if given else "",
                history=given,
            )
        )
    return out


def lead_detail(conn: duckdb.DuckDBPyConnection, signal_id: str) -> LeadDetail | None:
    """One published lead in full; None when no published lead has this id."""
    every = published_leads(conn)
    lead = next((lead for lead in every if lead.signal_id == signal_id), None)
    return details(conn, [lead], every)[0] if lead else None
