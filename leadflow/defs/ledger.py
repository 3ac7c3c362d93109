"""What every LLM asset does at its end for the token ledger and the cache-hit audit: write the
stage's ledger rows (and audit) to the warehouse, and report them as materialization metadata
under `usage/`, `budget/` and `audit/` (the same keys every time, null where nothing was measured)."""

from collections.abc import Iterable
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from leadflow.defs.metadata import figure
from leadflow.defs.partitions import partition_dates
from leadflow.defs.resources import LLMResource
from leadflow.llm.budget import TokenBudget
from leadflow.llm.cache_audit import AuditResult, audit_hits
from leadflow.llm.client import LLMClient
from leadflow.llm.ledger import partition_of, partition_usage_rows, totals
from leadflow.llm.metrics import CallRecord, MetricsRecorder
from leadflow.storage.usage import run_tokens, write_audit, write_usage

USAGE_FIGURES = ("tokens_in", "tokens_out", "replayed_in", "replayed_out", "hosted_cost", "replayed_cost")
AUDIT_FIGURES = ("hits", "audited", "changed", "unstable", "failed", "changed_rate")


def partitions_label(context: dg.AssetExecutionContext) -> str:
    days = partition_dates(context)
    return days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}"


def stage_budget(
    context: dg.AssetExecutionContext, conn: duckdb.DuckDBPyConnection, llm: LLMResource
) -> TokenBudget | None:
    """The run's token budget less what its other stages spent (None: no budget)."""
    if not llm.run_token_budget:
        return None
    return llm.budget(run_tokens(conn, context.run.run_id, context.asset_key.to_user_string()))


def record_usage(
    context: dg.AssetExecutionContext,
    conn: duckdb.DuckDBPyConnection,
    llm: LLMResource,
    recorder: MetricsRecorder,
    budget: TokenBudget | None = None,
    served: Iterable[tuple[Any, CallRecord | None]] = (),
) -> dict[str, dg.MetadataValue]:
    """Write the stage's ledger rows and return their `usage/` and `budget/` metadata. `served`:
    (partition date, record) for each signal the stage answered, so a range run's calls are
    ledgered per day where they served one day's signals (the rest under the run's span)."""
    prices = llm.prices()
    span = partitions_label(context)
    days = partition_of((pd.Timestamp(day).date().isoformat(), record) for day, record in served)
    rows = partition_usage_rows(recorder.records, prices, days, span)
    write_usage(conn, context.run.run_id, span, context.asset_key.to_user_string(), rows)
    sums = totals(rows)
    report = budget.report() if budget is not None else {}
    if report.get("deferred"):
        context.log.warning(
            f"token budget {report['limit']} spent ({report['spent']} tokens): {report['deferred']} requests of "
            f"{context.asset_key.to_user_string()} deferred to the next run"
        )
    return {
        **{f"usage/{key}": figure(sums[key]) for key in USAGE_FIGURES},
        "usage/currency": dg.MetadataValue.text(prices.currency),
        **{f"budget/{key}": figure(report.get(key)) for key in ("limit", "spent", "deferred")},
    }


def audit_stage(
    context: dg.AssetExecutionContext, client: LLMClient, llm: LLMResource, recorder: MetricsRecorder
) -> AuditResult:
    """Re-ask a sample of the stage's cache hits so far (inside its tracking: the re-asks count
    in its ledger); the sample is the same for a re-executed step of the run."""
    return audit_hits(client, recorder.records, llm.cache_audit_sample, seed=context.run.run_id)


def record_audit(
    context: dg.AssetExecutionContext, conn: duckdb.DuckDBPyConnection, audit: AuditResult
) -> dict[str, dg.MetadataValue]:
    """Store the stage's audit and return its `audit/` metadata."""
    write_audit(conn, context.run.run_id, partitions_label(context), context.asset_key.to_user_string(), audit)
    figures = audit.figures()
    return {
        **{f"audit/{key}": figure(figures[key]) for key in AUDIT_FIGURES},
        "audit/examples": dg.MetadataValue.json(figures["examples"]),
    }
