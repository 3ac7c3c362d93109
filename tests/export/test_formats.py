"""Export files read back as a CRM or a spreadsheet would: required import columns, one row per
account keyed by domain, no blank-only column, no formula in any cell, owner-only files."""

import csv
import json
import stat
from pathlib import Path

import pytest

from leadflow.export.crm import HUBSPOT_REQUIRED, SALESFORCE_REQUIRED
from leadflow.export.formats import FORMATS, LEAD_COLUMNS, write_export
from leadflow.export.leads import ExportedLead, published_leads
from leadflow.ingest.spreadsheet import is_formula
from tests.export.conftest import DAY, FORMULA, LEADS, fill


@pytest.fixture
def leads(warehouse) -> list[ExportedLead]:
    fill(warehouse, DAY, "run-a", LEADS)
    with warehouse.get_connection() as conn:
        return published_leads(conn)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames is not None
    return list(reader.fieldnames), rows


def assert_no_formula(rows: list[dict[str, str]]) -> None:
    cells = [cell for row in rows for cell in row.values()]
    assert cells and not any(is_formula(cell) for cell in cells)


def test_hubspot_companies_keyed_by_domain_with_the_import_columns(leads, tmp_path):
    written = write_export(leads, "hubspot", tmp_path / "hubspot.csv")
    columns, rows = read_csv(written.path)
    assert columns[: len(HUBSPOT_REQUIRED)] == ["Company Domain Name", "Company name"]
    assert {"Lifecycle Stage", "Description", "leadflow Score", "leadflow Explanation"} <= set(columns)
    # the posting and the mail of Acme are one company; free mail and the filtered account are left out
    assert [(r["Company Domain Name"], r["Company name"], r["leadflow Signals"]) for r in rows] == [
        ("globex.com", "Globex Corporation", "1"),
        ("acme.com", "Acme Inc", "2"),
    ]
    assert (written.rows, written.skipped) == (2, 2)
    assert [r["Lifecycle Stage"] for r in rows] == ["salesqualifiedlead", "marketingqualifiedlead"]
    acme = rows[1]
    assert acme["Description"].startswith("Company summary: Acme builds data platforms")
    assert acme["leadflow Top Signal"] == f"'{FORMULA} (job_posting, {DAY})"  # neutralized, not run
    assert acme["City"] == "" and rows[0]["City"] == "Springfield"  # unknown: an empty cell, never a placeholder
    assert_no_formula(rows)


def test_salesforce_leads_with_the_required_fields(leads, tmp_path):
    written = write_export(leads, "salesforce", tmp_path / "salesforce.csv")
    columns, rows = read_csv(written.path)
    assert columns[: len(SALESFORCE_REQUIRED)] == ["Company", "Last Name", "Lead Status"]
    assert {"Website", "Email", "Lead Source", "Rating", "Description"} <= set(columns)
    assert [(r["Website"], r["Company"], r["Rating"], r["Email"]) for r in rows] == [
        ("globex.com", "Globex Corporation", "Hot", ""),
        ("acme.com", "Acme Inc", "Warm", "bob@acme.com"),
    ]
    assert all(r["Last Name"] and r["Lead Status"] and r["Lead Source"] == "leadflow" for r in rows)
    assert f"Top signal: '{FORMULA}" not in rows[1]["Description"]  # the formula sits inside the text
    assert f"Top signal: {FORMULA}" in rows[1]["Description"]
    assert_no_formula(rows)


def test_a_column_blank_in_every_row_is_left_out_of_crm_files(leads, tmp_path):
    acme_only = [lead for lead in leads if lead.account == "acme"]
    _, rows = read_csv(write_export(acme_only, "salesforce", tmp_path / "sf.csv").path)
    columns, hub = read_csv(write_export(acme_only, "hubspot", tmp_path / "hub.csv").path)
    assert "City" not in columns and "Country/Region" not in columns  # no account knows it
    assert set(HUBSPOT_REQUIRED) <= set(columns) and len(hub) == 1
    assert "City" not in rows[0] and rows[0]["Email"] == "bob@acme.com"


def test_csv_has_a_row_per_lead_and_neutralizes_every_cell(leads, tmp_path):
    written = write_export(leads, "csv", tmp_path / "leads.csv")
    columns, rows = read_csv(written.path)
    assert columns == list(LEAD_COLUMNS) and written.rows == len(rows) == len(LEADS)
    posting = next(r for r in rows if r["signal_id"] == "job-acme")
    assert posting["title"] == "'" + FORMULA
    assert posting["account"] == "acme" and posting["dossier"].count("\n") == 5
    assert posting["explanation"].startswith("score 65.0 (warm)")
    assert_no_formula(rows)


def test_jsonl_keeps_values_and_structures_reasons_and_dossier(leads, tmp_path):
    written = write_export(leads, "jsonl", tmp_path / "leads.jsonl")
    records = [json.loads(line) for line in written.path.read_text(encoding="utf-8").splitlines()]
    assert len(records) == written.rows == len(LEADS)
    posting = next(r for r in records if r["signal_id"] == "job-acme")
    assert posting["title"] == FORMULA  # read by programs, not spreadsheets: kept as is
    assert posting["reasons"] == ["mentions a data team"] and posting["final_score"] == 65.0
    assert posting["dossier"]["trigger"] == "Hiring a senior data engineer."
    assert posting["score_parts"] == {"cheap_score": 60.0, "llm_score": None, "rule_hit": True, "icp_similarity": 0.5}


@pytest.mark.parametrize("file_format", FORMATS)
def test_export_files_are_owner_only(leads, tmp_path, file_format):
    target = tmp_path / "out" / f"export.{file_format}"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o644)
    write_export(leads, file_format, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "old" not in target.read_text(encoding="utf-8")


def test_an_unknown_format_is_refused(leads, tmp_path):
    with pytest.raises(ValueError, match="unknown export format 'xlsx'"):
        write_export(leads, "xlsx", tmp_path / "x.xlsx")


RESOLVED = [
    {  # a posting the accounts stage matched to a master record, with its stored explanation
        "signal_id": "job-initech",
        "kind": "job_posting",
        "title": "Brand Manager",
        "company": "Initech LLC",
        "attributes": {},
        "final_score": 72.5,
        "bucket": "warm",
        "scored": {
            "account_id": "initech",
            "account_name": "Initech",
            "account_domain": "initech.com",
            "match_confidence": 0.95,
            "explanation": json.dumps(
                {
                    "score": 72.5,
                    "parts": [
                        {"name": "keyword rule", "points": 40.0, "detail": FORMULA},
                        {"name": "ICP similarity", "points": 32.5, "detail": ""},
                    ],
                    "model": None,
                    "intents": None,
                }
            ),
        },
    }
]


def test_the_account_and_the_explanation_reach_every_format(warehouse, tmp_path):
    fill(warehouse, DAY, "run-a", RESOLVED)
    with warehouse.get_connection() as conn:
        (lead,) = published_leads(conn)
    assert (lead.account, lead.company, lead.domain, lead.account_confidence) == (
        "initech",
        "Initech",
        "initech.com",
        0.95,
    )
    _, (row,) = read_csv(write_export([lead], "csv", tmp_path / "leads.csv").path)
    assert (row["account"], row["company"], row["domain"], row["account_confidence"]) == (
        "initech",
        "Initech",
        "initech.com",
        "0.95",
    )
    assert row["explanation"].startswith("score 72.5 (warm); keyword rule +40.00, ICP similarity +32.50. Reasons:")
    record = json.loads((write_export([lead], "jsonl", tmp_path / "leads.jsonl").path).read_text())
    assert sum(part["points"] for part in record["contributions"]["parts"]) == record["final_score"]
    _, (company,) = read_csv(write_export([lead], "hubspot", tmp_path / "hubspot.csv").path)
    assert (company["Company Domain Name"], company["Company name"]) == ("initech.com", "Initech")
    assert company["leadflow Explanation"] == row["explanation"]
    _, (sf,) = read_csv(write_export([lead], "salesforce", tmp_path / "sf.csv").path)
    assert sf["Website"] == "initech.com" and "keyword rule +40.00" in sf["Description"]
    assert_no_formula([row, company, sf])
