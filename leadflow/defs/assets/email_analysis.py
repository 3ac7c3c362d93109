"""email_analysis: per-email types, grounded entities, requests, priority and a summary line
(design doc 001's per-email analysis). The analysis is `leadflow.analysis`; this asset reads the
day's emails, calls it (cheap typing for all, the small model for candidates, highest priority
first), writes the rows and reports per-type counts and the held-out golden figures."""

import json
from typing import Any

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from leadflow.analysis.analyze import analyze_mails
from leadflow.analysis.classifier import shared_typer
from leadflow.analysis.golden_eval import GATED_TYPE, shared_golden_report
from leadflow.analysis.mail import Mail
from leadflow.analysis.taxonomy import TYPES
from leadflow.defs.ledger import record_usage, stage_budget
from leadflow.defs.metadata import Progress, day_counts, llm_metadata, partition_rows, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.ingest.emails import KIND as EMAIL_KIND
from leadflow.storage import schema
from leadflow.storage.warehouse import append, replace_partitions

EMAILS_SQL = """
SELECT partition_date, signal_id, title, text, signal_date, attributes
FROM raw_signals WHERE kind = ? AND partition_date = ANY(?::DATE[])
ORDER BY partition_date, signal_id
"""


def _mail(row: Any) -> Mail:
    attributes = json.loads(row.attributes or "{}")
    sent = row.signal_date.date() if hasattr(row.signal_date, "date") else row.signal_date
    return Mail.from_attributes(row.title or "", row.text, attributes, sent)


@pipeline_asset(
    deps=("raw_signals", "signal_embeddings"),
    group_name="scoring",
    kinds={"duckdb", "llm"},
    description=(
        "Per email: type probabilities (employment, buying intent, deal/partnership, scheduling, "
        "document review, newsletter, personal, spam) from heads on the embeddings and stated "
        "rules; entities with their offsets (every one found in the email); requests and whether "
        "a reply is expected; a 0-100 priority and business value; a one-line summary. The small "
        "model extracts entities and requests only for candidates, highest priority first; a candidate the "
        "run token budget deferred keeps its cheap analysis, marked llm_deferred, until a later run."
    ),
)
def email_analysis(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: LLMResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    run_id = context.run.run_id
    with duckdb.get_connection() as conn:
        emails = conn.execute(EMAILS_SQL, [EMAIL_KIND, dates]).df()
        budget = stage_budget(context, conn, llm)
    client = llm.client()
    mails = [_mail(row) for row in emails.itertuples()]
    golden = None
    with client.metrics.track() as recorder:
        analyses = []
        if mails:  # days without email neither fit the typer nor judge it
            typer = shared_typer(client, *pipeline.email_golden_files())
            progress = Progress(context.log, "email analysis LLM", 0, recorder)
            analyses = analyze_mails(
                client,
                typer,
                mails,
                as_of=max(dates),
                thresholds=pipeline.thresholds(),
                on_total=progress.start,
                on_done=lambda _: progress.advance(),
                budget=budget,
            )
            golden = shared_golden_report(client, *pipeline.email_golden_files())
    rows = [
        {
            "partition_date": row.partition_date,
            "signal_id": row.signal_id,
            **analysis.as_row(),
            **schema.llm_cost(analysis.record),
            "run_id": run_id,
        }
        for row, analysis in zip(emails.itertuples(), analyses, strict=True)
    ]
    frame = schema.frame("email_analysis", rows)
    with duckdb.get_connection() as conn:
        replace_partitions(conn, "email_analysis", dates, frame)
        served = [(row.partition_date, a.record) for row, a in zip(emails.itertuples(), analyses, strict=True)]
        usage = record_usage(context, conn, llm, recorder, budget, served)
        if golden is not None:
            append(conn, "golden_evaluations", {"run_id": run_id, **golden.evaluation_row()})

    deferred = [row.signal_id for row, a in zip(emails.itertuples(), analyses, strict=True) if a.deferred]
    if deferred:
        context.log.warning(
            f"email analysis: {len(deferred)} extractions deferred by the run token budget (cheap analysis, "
            f"llm_deferred; the next run completes them): {', '.join(deferred[:10])}"
        )
    decided = {t.key: sum(t.key in a.types for a in analyses) for t in TYPES}
    gated = golden.figures[GATED_TYPE] if golden is not None else {}  # no email: nothing judged (null)
    figures: dict[str, Any] = {
        f"golden/{EMAIL_KIND}/{GATED_TYPE}_f1": gated.get("f1"),
        f"golden/{EMAIL_KIND}/{GATED_TYPE}_auc": gated.get("auc"),
        f"golden/{EMAIL_KIND}/report": dg.MetadataValue.json(golden.figures if golden is not None else {}),
    }
    return dg.MaterializeResult(
        metadata={
            **partition_rows(context, day_counts(frame)),
            "types_decided": dg.MetadataValue.json(decided),
            "llm_candidates": sum(a.llm is not None for a in analyses),
            "llm_deferred": len(deferred),
            "entities": sum(len(a.entities) for a in analyses),
            "entities_dropped_ungrounded": sum(a.dropped_entities for a in analyses),
            "reply_expected": sum(a.reply_expected for a in analyses),
            "priority_mean": float(pd.Series([a.priority for a in analyses]).mean()) if analyses else None,
            **figures,
            "preview": preview(
                frame.assign(subject=emails["title"], kind=EMAIL_KIND).sort_values("priority", ascending=False),
                ["subject", "types", "priority", "summary"],
                redact_email_text=pipeline.redact_email_text,
            ),
            **llm_metadata(recorder.summary()),
            **usage,
        }
    )
