"""accounts: every signal of the run's days resolved to its company (`leadflow.accounts.resolve`),
against the master records: every account CSV row in the warehouse, whatever its day."""

import json
from collections import Counter

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.accounts.resolve import master_accounts, resolve_signals
from leadflow.defs.metadata import day_counts, partition_rows, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.defs.resources import PipelineSettings
from leadflow.ingest.accounts_csv import KIND as ACCOUNT_KIND
from leadflow.storage import schema
from leadflow.storage.warehouse import has_schema, replace_partitions

MASTERS_SQL = "SELECT kind, company, attributes FROM raw_signals WHERE kind = ? ORDER BY signal_date, signal_id"
SIGNALS_SQL = """SELECT partition_date, signal_id, kind, title, company, attributes FROM raw_signals
                 WHERE partition_date = ANY(?::DATE[]) ORDER BY kind = ? DESC, partition_date, signal_id"""


def _rows(frame) -> list[dict]:
    return [{**row, "attributes": json.loads(row["attributes"] or "{}")} for row in frame.to_dict("records")]


@pipeline_asset(
    deps=("raw_signals",),
    group_name="signals",
    kinds={"duckdb", "python"},
    description=(
        "The company of every signal: the account CSV rows are the master records; postings, emails "
        "and account rows meet them on the web domain (an email's sender, free mail excepted), the "
        "normalized name (case, punctuation, legal suffixes) or a domain's brand, exactly, then "
        "fuzzily (rapidfuzz), with a match confidence; mail from own_domains names no account. A signal matching no master is an account of "
        "its own. Every lead carries its account; the account_rollup view sums them up."
    ),
)
def accounts(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    with duckdb.get_connection() as conn:
        if has_schema(conn):
            masters = master_accounts(_rows(conn.execute(MASTERS_SQL, [ACCOUNT_KIND]).df()))
            signals = conn.execute(SIGNALS_SQL, [dates, ACCOUNT_KIND]).df()
        else:
            masters, signals = [], schema.frame("raw_signals", [])
    resolved = resolve_signals(masters, _rows(signals), pipeline.own_domain_set())
    frame = schema.frame(
        "signal_accounts",
        [
            {**row, "partition_date": day, "run_id": context.run.run_id}
            for row, day in zip(resolved, signals["partition_date"], strict=True)
        ],
    )
    with duckdb.get_connection() as conn:
        replace_partitions(conn, "signal_accounts", dates, frame)
    methods = Counter(frame["match_method"].fillna("none"))
    context.log.info(f"{len(frame)} signals resolved against {len(masters)} master accounts: {dict(methods)}")
    return dg.MaterializeResult(
        metadata={
            **partition_rows(context, day_counts(frame)),
            "master_accounts": len(masters),
            "accounts": int(frame["account_id"].nunique()),
            "match_methods": dg.MetadataValue.json(dict(methods)),
            "preview": preview(
                frame.assign(kind=signals["kind"], title=signals["title"]).sort_values("match_confidence"),
                ["title", "kind", "account_name", "match_method", "match_confidence"],
                redact_email_text=pipeline.redact_email_text,
            ),
        }
    )
