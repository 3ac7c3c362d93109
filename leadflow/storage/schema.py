"""Every DuckDB table and view as data: the DDL and the column lists of the frames the assets
write both come from here, so a column is added in one place.
"""

from dataclasses import dataclass
from typing import Any

import pandas as pd

from leadflow.llm.metrics import CallRecord


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    default: str | None = None  # filled by DuckDB: never in a frame or an insert

    def ddl(self) -> str:
        return f"{self.name} {self.sql_type}" + (f" DEFAULT {self.default}" if self.default else "")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    def ddl(self) -> str:
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({', '.join(c.ddl() for c in self.columns)})"

    def additions(self) -> list[str]:
        """Columns added to the schema since a file was created reach it (nullable, no default):
        an existing warehouse keeps working after an upgrade."""
        return [
            f"ALTER TABLE {self.name} ADD COLUMN IF NOT EXISTS {c.name} {c.sql_type.removesuffix(' NOT NULL')}"
            for c in self.columns
            if c.default is None
        ]

    @property
    def written(self) -> list[str]:
        """The columns a writer supplies, in table order."""
        return [c.name for c in self.columns if c.default is None]


def _columns(spec: str) -> tuple[Column, ...]:
    """'name TYPE, name TYPE NOT NULL' -> Columns (types here never contain a comma)."""
    return tuple(Column(*part.split(maxsplit=1)) for part in (p.strip() for p in spec.split(",")))


PARTITION_KEY = _columns("partition_date DATE NOT NULL, signal_id VARCHAR NOT NULL")
RUN_ID = Column("run_id", "VARCHAR")
SEQ = Column("seq", "BIGINT", default="nextval('leadflow_seq')")  # orders history rows
RECORDED_AT = Column("recorded_at", "TIMESTAMP", default="now()")

# What an LLM answer cost, built from its CallRecord by `llm_cost`; quality_metrics sums it.
LLM_COST = _columns("llm_calls INTEGER, cache_tier VARCHAR, latency_s DOUBLE, tokens_in INTEGER, tokens_out INTEGER")


# The account a lead is about, copied from signal_accounts into each version of its score.
ACCOUNT_COLUMNS = _columns("account_id VARCHAR, account_name VARCHAR, account_domain VARCHAR, match_confidence DOUBLE")


def _llm_accounting(error_column: str) -> tuple[Column, ...]:
    """Who answered, with which prompt, the failure if any, and the cost: every LLM output table."""
    return (*_columns(f"model VARCHAR, prompt_version VARCHAR, {error_column} VARCHAR"), *LLM_COST)


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            "raw_signals",
            (
                *PARTITION_KEY,
                *_columns(
                    "source VARCHAR, kind VARCHAR, position VARCHAR, external_id VARCHAR, signal_date DATE, "
                    "title VARCHAR, company VARCHAR, text VARCHAR, content_hash VARCHAR, attributes JSON"
                ),
                RUN_ID,
            ),
        ),
        Table(
            "quarantined_signals",
            (
                *_columns(
                    "partition_date DATE NOT NULL, source VARCHAR, kind VARCHAR, position VARCHAR, reason VARCHAR, "
                    "excerpt VARCHAR, record_date DATE"
                ),
                RUN_ID,
            ),
        ),
        Table(
            "signal_embeddings",
            (
                *PARTITION_KEY,
                *_columns(
                    "model VARCHAR, dims INTEGER, title_vec FLOAT[], text_vec FLOAT[], best_icp VARCHAR, "
                    "icp_similarity DOUBLE, icp_similarities JSON"
                ),
                RUN_ID,
            ),
        ),
        Table(
            # Which company each signal is about (leadflow.accounts.resolve); prefilter_scores
            # copies the account into every lead's version.
            "signal_accounts",
            (
                *PARTITION_KEY,
                *ACCOUNT_COLUMNS,
                *_columns("account_master BOOLEAN, match_method VARCHAR"),
                RUN_ID,
            ),
        ),
        Table(
            "email_analysis",
            (
                *PARTITION_KEY,
                *_columns(
                    "type_scores JSON, types JSON, entities JSON, requests JSON, reply_expected BOOLEAN, "
                    "priority INTEGER, business_value DOUBLE, money_usd DOUBLE, summary VARCHAR, reasons JSON, "
                    "dropped_entities INTEGER, llm_used BOOLEAN, llm_deferred BOOLEAN"
                ),
                *_llm_accounting("llm_error"),
                RUN_ID,
            ),
        ),
        Table(
            "prefilter_scores",
            (
                *PARTITION_KEY,
                *_columns(
                    "kind VARCHAR, title VARCHAR, content_hash VARCHAR, rule_hit BOOLEAN, icp_similarity DOUBLE, "
                    "cheap_score DOUBLE, llm_used BOOLEAN, llm_score INTEGER, hiring BOOLEAN, role_function VARCHAR, "
                    "seniority VARCHAR, reasons JSON, final_score DOUBLE, bucket VARCHAR, explanation JSON"
                ),
                *ACCOUNT_COLUMNS,
                *_llm_accounting("llm_error"),
                RUN_ID,
            ),
        ),
        Table(
            "dossiers",
            (
                *PARTITION_KEY,
                *_columns(
                    "title VARCHAR, final_score DOUBLE, bucket VARCHAR, dossier JSON, chars INTEGER, account VARCHAR, "
                    "defects JSON, evidence JSON"
                ),
                *_llm_accounting("error"),
                RUN_ID,
            ),
        ),
        Table(
            "quality_metrics",
            (
                *_columns(
                    "partition_date DATE NOT NULL, signals INTEGER, quarantined INTEGER, quarantine_rate DOUBLE, "
                    "embedded INTEGER, scored INTEGER, llm_classified INTEGER, invalid_outputs INTEGER, "
                    "invalid_rate DOUBLE, dossiers INTEGER, dossier_errors INTEGER, big_model_share DOUBLE, "
                    "buckets JSON, llm JSON"
                ),
                RUN_ID,
            ),
        ),
        Table(
            "version_status",
            (
                *_columns(
                    "partition_date DATE NOT NULL, run_id VARCHAR NOT NULL, status VARCHAR NOT NULL, detail VARCHAR"
                ),
                SEQ,
                RECORDED_AT,
            ),
        ),
        Table(
            "publications",
            (
                *_columns(
                    "partition_date DATE NOT NULL, run_id VARCHAR, prev_run_id VARCHAR, action VARCHAR NOT NULL, "
                    "note VARCHAR"
                ),
                SEQ,
                RECORDED_AT,
            ),
        ),
        Table(
            "golden_evaluations",
            (
                *_columns(
                    "run_id VARCHAR NOT NULL, kind VARCHAR, model VARCHAR, prompt_version VARCHAR, golden_rows INTEGER, "
                    "precision DOUBLE, recall DOUBLE, f1 DOUBLE, report JSON"
                ),
                SEQ,
                RECORDED_AT,
            ),
        ),
        Table(
            # Per run and source, where every record read went (leadflow.ingest.placement):
            # the raw_signals_counts_reconcile check compares it with what the run wrote. skipped:
            # of elsewhere, the records the ingest index placed outside the run, not parsed.
            "source_counts",
            (
                *_columns(
                    "run_id VARCHAR NOT NULL, source VARCHAR, first_partition DATE, last_partition DATE, "
                    "records_read INTEGER, signals INTEGER, quarantined INTEGER, elsewhere INTEGER, skipped INTEGER, "
                    "reasons JSON"
                ),
                SEQ,
                RECORDED_AT,
            ),
        ),
        Table(
            # The token and cost ledger (leadflow.llm.ledger): per run, partition and stage, one row
            # per (role, model); `partitions` is a day where the calls served that day's signals, else
            # the run's span ("a..b"). Engine tokens and cache-replayed tokens apart, never added.
            "llm_usage",
            (
                *_columns(
                    "run_id VARCHAR NOT NULL, partitions VARCHAR, stage VARCHAR, role VARCHAR, model VARCHAR, "
                    "requests INTEGER, engine_calls INTEGER, cache_hits INTEGER, tokens_in INTEGER, "
                    "tokens_in_cached INTEGER, tokens_out INTEGER, replayed_in INTEGER, replayed_out INTEGER, "
                    "hosted_model VARCHAR, hosted_cost DOUBLE, replayed_cost DOUBLE"
                ),
                SEQ,
                RECORDED_AT,
            ),
        ),
        Table(
            # The cache-hit audit of a stage's run (leadflow.llm.cache_audit): hits re-asked of the
            # live engine, how many changed their decision (two re-asks agreeing against the cache)
            # and how many were unstable (the two re-asks disagreeing).
            "cache_audits",
            (
                *_columns(
                    "run_id VARCHAR NOT NULL, partitions VARCHAR, stage VARCHAR, hits INTEGER, audited INTEGER, "
                    "changed INTEGER, unstable INTEGER, failed INTEGER, examples JSON"
                ),
                SEQ,
                RECORDED_AT,
            ),
        ),
        Table(
            "incidents",
            (*_columns("run_id VARCHAR NOT NULL, job VARCHAR, partitions VARCHAR, error VARCHAR"), RECORDED_AT),
        ),
        Table(
            # A user's judgment of a lead, every one kept (leadflow.storage.labels): the latest per
            # signal counts, the earlier ones are its history.
            "labels",
            (
                *_columns(
                    "signal_id VARCHAR NOT NULL, label VARCHAR NOT NULL, labeled_by VARCHAR, labeled_at TIMESTAMP, "
                    "source VARCHAR NOT NULL, note VARCHAR"
                ),
                SEQ,
            ),
        ),
    )
}
VERSIONED = ("prefilter_scores", "dossiers")  # write-audit-publish: one version per run
SEQUENCES = ("leadflow_seq",)

VIEWS = {
    "current_publications": """
        SELECT partition_date, run_id, prev_run_id, action, recorded_at FROM publications
        QUALIFY row_number() OVER (PARTITION BY partition_date ORDER BY seq DESC) = 1""",
    "leads": """
        SELECT p.* FROM prefilter_scores p
        JOIN current_publications c ON p.partition_date = c.partition_date AND p.run_id = c.run_id""",
    # One row per account of the published leads: how many signals, the best score, the
    # latest trigger (the newest signal, best score first on a day) and when it was last seen.
    "account_rollup": """
        SELECT account_id, arg_max(account_name, final_score) AS account_name,
               arg_max(account_domain, account_domain IS NOT NULL) AS account_domain,
               count(*) AS signals, list(DISTINCT kind ORDER BY kind) AS kinds,
               max(final_score) AS best_score, arg_max(bucket, final_score) AS best_bucket,
               arg_max(title, (partition_date, final_score)) AS latest_trigger, max(partition_date) AS last_seen
        FROM leads WHERE account_id IS NOT NULL GROUP BY account_id""",
    "published_dossiers": """
        SELECT d.* FROM dossiers d
        JOIN current_publications c ON d.partition_date = c.partition_date AND d.run_id = c.run_id""",
}


def statements() -> list[str]:
    """The DDL that creates the whole schema, idempotently, in dependency order."""
    return [
        *(f"CREATE SEQUENCE IF NOT EXISTS {name}" for name in SEQUENCES),
        *(table.ddl() for table in TABLES.values()),
        *(statement for table in TABLES.values() for statement in table.additions()),
        *(f"CREATE OR REPLACE VIEW {name} AS {query}" for name, query in VIEWS.items()),
    ]


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}") from None


def frame(name: str, data: list[dict[str, Any]] | dict[str, Any]) -> pd.DataFrame:
    """Rows (or columns) for table `name`, with exactly its written columns in table order.

    A missing column is an error rather than a silent NULL; extra keys are left out.
    """
    columns = table(name).written
    built = pd.DataFrame(data)
    if built.empty and not len(built.columns):
        return pd.DataFrame(columns=columns)
    missing = [c for c in columns if c not in built.columns]
    if missing:
        raise ValueError(f"rows for {name} lack columns {missing}")
    return built[columns]


def llm_cost(record: CallRecord | None) -> dict[str, Any]:
    """The LLM_COST columns of one answer (no record: no call was made, or it failed)."""
    if record is None:
        return {"llm_calls": 0, "cache_tier": None, "latency_s": None, "tokens_in": 0, "tokens_out": 0}
    return {
        "llm_calls": record.engine_calls,
        "cache_tier": record.cache_tier,
        "latency_s": record.latency_s,
        "tokens_in": record.prompt_tokens,
        "tokens_out": record.completion_tokens,
    }
