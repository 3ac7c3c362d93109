"""A real DuckDB file filled directly through the storage layer: raw signals, a published
version of scores and dossiers, and optionally a newer version left unpublished."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from leadflow.defs.resources import DuckDBWarehouse
from leadflow.storage import schema
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import replace_partitions, write_version

DAY = date(2026, 11, 20)
LATER = date(2026, 11, 24)
FORMULA = "=cmd|' /C calc'!A0"
DOSSIER = {
    "company_summary": "Acme builds data platforms for retailers.",
    "trigger": "Hiring a senior data engineer.",
    "icp_fit": "Warm fit: a data team that is growing.",
    "decision_makers": ["Head of Data"],
    "suggested_opener": "Congratulations on growing the data team.",
    "risks": "Single posting so far.",
    "citations": {},
}

# (signal, score) pairs: every kind of lead the export must handle.
LEADS: list[dict[str, Any]] = [
    {  # a posting with a dossier: its account and company come from the dossier
        "signal_id": "job-acme",
        "kind": "job_posting",
        "title": FORMULA,
        "company": "",
        "attributes": {},
        "final_score": 65.0,
        "bucket": "warm",
        "dossier": {"account": "acme", "company": "Acme Inc"},
    },
    {  # mail from the same company: joins the account through its domain's brand
        "signal_id": "mail-acme",
        "kind": "email",
        "title": "Re: pricing for next year",
        "company": "acme.com",
        "attributes": {"from": "bob@acme.com"},
        "final_score": 45.0,
        "bucket": "nurture",
    },
    {  # a row of an account export with a homepage
        "signal_id": "acct-globex",
        "kind": "account",
        "title": "Globex",
        "company": "Globex Corporation",
        "attributes": {"homepage_url": "http://www.globex.com/", "city": "Springfield", "country_code": "USA"},
        "final_score": 85.0,
        "bucket": "red_hot",
    },
    {  # free mail names no company
        "signal_id": "mail-gmail",
        "kind": "email",
        "title": "hello",
        "company": "gmail.com",
        "attributes": {"from": "someone@gmail.com"},
        "final_score": 50.0,
        "bucket": "nurture",
    },
    {  # an account the cascade filtered out
        "signal_id": "acct-initech",
        "kind": "account",
        "title": "Initech",
        "company": "Initech",
        "attributes": {},
        "final_score": 5.0,
        "bucket": "filtered",
    },
]


def _row(name: str, **values: Any) -> dict[str, Any]:
    return {column: None for column in schema.table(name).written} | values


def fill(
    warehouse: DuckDBWarehouse, day: date, run_id: str, leads: list[dict[str, Any]], published: bool = True
) -> None:
    """Write `leads` as raw signals and `run_id`'s version of day `day`, published or not."""
    raw = [
        _row(
            "raw_signals",
            partition_date=day,
            signal_id=lead["signal_id"],
            source="test",
            kind=lead["kind"],
            signal_date=day,
            title=lead["title"],
            company=lead["company"],
            text=lead["title"],
            attributes=json.dumps(lead["attributes"]),
            run_id=run_id,
        )
        for lead in leads
    ]
    scores = [
        _row(
            "prefilter_scores",
            partition_date=day,
            signal_id=lead["signal_id"],
            kind=lead["kind"],
            title=lead["title"],
            rule_hit=lead["final_score"] > 60,
            icp_similarity=0.5,
            cheap_score=lead["final_score"] - 5,
            llm_used=False,
            reasons=json.dumps(["mentions a data team"]),
            final_score=lead["final_score"],
            bucket=lead["bucket"],
            run_id=run_id,
            **lead.get("scored", {}),  # e.g. the account and explanation columns
        )
        for lead in leads
    ]
    dossiers = [
        _row(
            "dossiers",
            partition_date=day,
            signal_id=lead["signal_id"],
            title=lead["title"],
            final_score=lead["final_score"],
            bucket=lead["bucket"],
            dossier=json.dumps(DOSSIER),
            account=lead["dossier"]["account"],
            evidence=json.dumps({"company": lead["dossier"]["company"]}),
            run_id=run_id,
        )
        for lead in leads
        if "dossier" in lead
    ]
    with warehouse.get_connection() as conn:
        replace_partitions(conn, "raw_signals", [day], schema.frame("raw_signals", raw))
        write_version(conn, "prefilter_scores", [day], run_id, schema.frame("prefilter_scores", scores))
        write_version(conn, "dossiers", [day], run_id, schema.frame("dossiers", dossiers))
        if published:
            publish(conn, {day: run_id})


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb"))
