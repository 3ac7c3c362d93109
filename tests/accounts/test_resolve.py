"""Accounts: one company met across a posting, an email and an account CSV row (real files
through the real parsers, a real DuckDB file), and the matching rules one by one."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import yaml

from leadflow.accounts.resolve import (
    BRAND,
    DOMAIN,
    FUZZY,
    FUZZY_MIN,
    MASTER,
    NAME,
    OWN,
    Account,
    Resolver,
    web_domain,
)
from leadflow.defs.assets.accounts import accounts
from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings
from leadflow.storage import schema
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import write_version

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2026, 11, 20)
ACME = Account("acmemarketing", "Acme Marketing Inc", "acmemarketing.com", master=True)


def test_web_domains():
    assert web_domain("https://www.Acme.com/about") == "acme.com"
    assert web_domain("acme.co.uk") == "acme.co.uk"
    assert web_domain("bob@mail.acme.com") == "mail.acme.com"
    assert web_domain("someone@gmail.com") == ""
    assert web_domain("") == "" and web_domain("localhost") == ""


def test_each_rule_and_its_confidence():
    resolver = Resolver([ACME, Account("globex", "Globex", "", master=True)])
    assert resolver.resolve("email", "acmemarketing.com", {}) == resolver.resolve("email", "ACMEMARKETING.COM", {})
    match = resolver.resolve("email", "acmemarketing.com", {})
    assert match is not None and (match.account, match.method, match.confidence) == (ACME, DOMAIN, 1.0)
    match = resolver.resolve("job_posting", "Acme Marketing, LLC", {})
    assert match is not None and (match.account, match.method, match.confidence) == (ACME, NAME, 1.0)
    match = resolver.resolve("email", "globex.co.uk", {})  # the brand of a domain the master does not list
    assert match is not None and (match.account.account_id, match.method, match.confidence) == ("globex", BRAND, 0.9)
    match = resolver.resolve("job_posting", "Acme Marketting", {})
    assert match is not None and match.method == FUZZY and FUZZY_MIN / 100 <= match.confidence < 1
    assert resolver.resolve("email", "gmail.com", {}) is None  # free mail names no company
    assert resolver.resolve("job_posting", "", {}) is None
    # an unlisted company is an account of its own, and the next signal naming it meets it
    own = resolver.resolve("job_posting", "Initech", {})
    assert own is not None and (own.account.account_id, own.method, own.account.master) == ("initech", OWN, False)
    again = resolver.resolve("email", "initech.com", {})
    assert again is not None and again.account == own.account and again.method == BRAND
    # mail from the user's own company names no customer
    assert Resolver([ACME], frozenset({"acmemarketing.com"})).resolve("email", "acmemarketing.com", {}) is None
    # short names never match fuzzily: "Acm" is not Acme Marketing, nor "Globe" Globex
    assert resolver.resolve("job_posting", "Globe", {}).method == OWN  # type: ignore[union-attr]


def _materialize(tmp_path: Path) -> DuckDBWarehouse:
    sources = {
        "sources": [
            {"name": "jobs", "format": "jsonl_jobs", "path": str(FIXTURES / "postings.jsonl"), "import_date": DAY},
            {"name": "mail", "format": "mbox", "path": str(FIXTURES / "mail.mbox")},
            {"name": "crm", "format": "csv_accounts", "path": str(FIXTURES / "accounts.csv"), "import_date": DAY},
        ]
    }
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    warehouse = DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb"))
    result = dg.materialize(
        [raw_signals, accounts],
        partition_key=DAY.isoformat(),
        resources={"duckdb": warehouse, "pipeline": PipelineSettings(sources_path=str(tmp_path / "sources.yaml"))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return warehouse


def test_one_account_across_a_posting_an_email_and_a_csv_row(tmp_path):
    warehouse = _materialize(tmp_path)
    with warehouse.get_connection() as conn:
        resolved = conn.execute(
            """SELECT s.kind, s.external_id, a.* FROM signal_accounts a JOIN raw_signals s USING (partition_date, signal_id)
               ORDER BY s.kind, s.external_id"""
        ).df()
    by_id: dict[Any, Any] = {row.external_id: row for row in resolved.itertuples()}
    acme = ["acme-1", "acme-2", "<spring-1@acmemarketing.com>", "/company/acme-marketing"]
    assert {by_id[i].account_id for i in acme} == {"acmemarketing"}
    assert {by_id[i].account_name for i in acme} == {"Acme Marketing Inc"}  # the master record's name
    assert {by_id[i].account_domain for i in acme} == {"acmemarketing.com"}
    methods = {i: (by_id[i].match_method, by_id[i].match_confidence) for i in acme}
    assert methods["/company/acme-marketing"] == (MASTER, 1.0)
    assert methods["acme-1"] == (NAME, 1.0)  # "ACME Marketing, Inc." normalized
    assert methods["<spring-1@acmemarketing.com>"] == (DOMAIN, 1.0)  # the homepage's domain
    assert methods["acme-2"][0] == FUZZY and FUZZY_MIN / 100 <= methods["acme-2"][1] < 1.0  # "Acme Marketting"
    gmail = by_id["<hello-1@gmail.com>"]
    assert pd.isna(gmail.account_id) and pd.isna(gmail.match_method)
    assert (by_id["solo-1"].account_id, by_id["solo-1"].match_method) == ("initrode", OWN)
    assert by_id["/company/globex"].account_master

    # a published version of scores carries the accounts: the rollup sums the account up
    scores = [
        {column: None for column in schema.table("prefilter_scores").written}
        | {
            "partition_date": DAY,
            "signal_id": row.signal_id,
            "kind": row.kind,
            "title": row.external_id,
            "final_score": 50.0 + index,
            "bucket": "nurture",
            "explanation": json.dumps({"score": 50.0 + index, "parts": []}),
            "run_id": "run-a",
            **{column.name: getattr(row, column.name) for column in schema.ACCOUNT_COLUMNS},
        }
        for index, row in enumerate(resolved.itertuples())
    ]
    with warehouse.get_connection() as conn:
        write_version(conn, "prefilter_scores", [DAY], "run-a", schema.frame("prefilter_scores", scores))
        publish(conn, {DAY: "run-a"})
        rollup = conn.execute("SELECT * FROM account_rollup WHERE account_id = 'acmemarketing'").df()
        best = conn.execute("SELECT max(final_score) FROM leads WHERE account_id = 'acmemarketing'").fetchone()
    acme_row: Any = next(rollup.itertuples())
    assert len(rollup) == 1
    assert acme_row.signals == 4 and list(acme_row.kinds) == ["account", "email", "job_posting"]
    assert acme_row.account_name == "Acme Marketing Inc" and acme_row.account_domain == "acmemarketing.com"
    assert best is not None and acme_row.best_score == best[0]
    assert acme_row.last_seen.date() == DAY and acme_row.latest_trigger in acme
