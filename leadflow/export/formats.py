"""Export files of published leads: `csv` and `jsonl` (a row per lead), `hubspot` and
`salesforce` (a row per account, `leadflow.export.crm`).

The CSV files are opened by spreadsheets and CRM importers, so every cell is neutralized
against formula injection (`neutralize_formula`: a leading `'` before `=`, `+`, `-`, `@`, ...);
JSONL is read by programs and keeps the values as they are. Files are owner-only (0600): they
hold what the leads quote of emails.
"""

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadflow.export.crm import (
    HUBSPOT_COLUMNS,
    HUBSPOT_REQUIRED,
    SALESFORCE_COLUMNS,
    SALESFORCE_REQUIRED,
    Account,
    accounts,
    hubspot_row,
    salesforce_row,
)
from leadflow.export.leads import ExportedLead
from leadflow.ingest.spreadsheet import neutralize_formula
from leadflow.storage.private import private_file, private_parent

LEAD_COLUMNS = (
    "signal_date",
    "signal_id",
    "kind",
    "source",
    "title",
    "final_score",
    "bucket",
    "account",
    "company",
    "domain",
    "account_confidence",
    "explanation",
    "dossier",
    "published_version",
)


@dataclass(frozen=True)
class Written:
    path: Path
    rows: int
    skipped: int = 0  # leads left out of a CRM file (no company, or filtered)


def lead_row(lead: ExportedLead) -> dict[str, str]:
    return {
        "signal_date": lead.signal_date.isoformat(),
        "signal_id": lead.signal_id,
        "kind": lead.kind,
        "source": lead.source,
        "title": lead.title,
        "final_score": f"{lead.final_score:.1f}",
        "bucket": lead.bucket,
        "account": lead.account,
        "company": lead.company,
        "domain": lead.domain,
        "account_confidence": "" if lead.account_confidence is None else f"{lead.account_confidence:.2f}",
        "explanation": lead.explanation(),
        "dossier": lead.dossier_text(),
        "published_version": lead.version,
    }


def lead_record(lead: ExportedLead) -> dict[str, Any]:
    """A JSONL record: the CSV row's fields, with the reasons, score parts, the contributions
    that sum to the score and the dossier structured."""
    return {
        **lead_row(lead),
        "final_score": lead.final_score,
        "account_confidence": lead.account_confidence,
        "contributions": lead.contributions,
        "reasons": list(lead.reasons),
        "score_parts": lead.score_parts,
        "dossier": lead.dossier,
        "contact_email": lead.contact_email,
    }


def _open(path: Path):
    private_parent(path)
    private_file(path, create=True)  # created 0600, or tightened, before anything is written
    return path.open("w", encoding="utf-8", newline="")


def write_csv(path: Path, columns: Iterable[str], rows: list[dict[str, str]], required: Iterable[str] = ()) -> None:
    """`rows` under `columns`, every cell neutralized; with `required` (a CRM file), an optional
    column empty in every row is left out, so no import can read it as "clear this field"."""
    keep = set(required)
    kept = [c for c in columns if not required or c in keep or any(row.get(c) for row in rows)]
    with _open(path) as f:
        writer = csv.DictWriter(f, fieldnames=kept, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: neutralize_formula(row.get(column, "")) for column in kept})


def _crm(row: Callable[[Account], dict[str, str]], columns: tuple[str, ...], required: tuple[str, ...]):
    def write(leads: list[ExportedLead], path: Path) -> Written:
        found, skipped = accounts(leads)
        write_csv(path, columns, [row(account) for account in found], required)
        return Written(path, len(found), skipped)

    return write


def _csv(leads: list[ExportedLead], path: Path) -> Written:
    write_csv(path, LEAD_COLUMNS, [lead_row(lead) for lead in leads])
    return Written(path, len(leads))


def _jsonl(leads: list[ExportedLead], path: Path) -> Written:
    with _open(path) as f:
        for lead in leads:
            f.write(json.dumps(lead_record(lead), ensure_ascii=False) + "\n")
    return Written(path, len(leads))


WRITERS: dict[str, Callable[[list[ExportedLead], Path], Written]] = {
    "csv": _csv,
    "jsonl": _jsonl,
    "hubspot": _crm(hubspot_row, HUBSPOT_COLUMNS, HUBSPOT_REQUIRED),
    "salesforce": _crm(salesforce_row, SALESFORCE_COLUMNS, SALESFORCE_REQUIRED),
}
FORMATS = tuple(WRITERS)


def write_export(leads: list[ExportedLead], file_format: str, path: Path) -> Written:
    """Write `leads` to `path` in `file_format` (one of FORMATS)."""
    if file_format not in WRITERS:
        raise ValueError(f"unknown export format {file_format!r}; expected one of {', '.join(FORMATS)}")
    return WRITERS[file_format](leads, path)
