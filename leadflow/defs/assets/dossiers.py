"""dossiers: one grounded dossier per account among the leads above the threshold. The writing
is `leadflow.dossier` (extract facts with their spans, compose, model prose from the facts
only, checked for grounding with one repair and a composed fallback); this asset reads the
leads, calls it per partition, writes the version and reports the defect rates."""

import json
from typing import Any

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from leadflow.defs.ledger import record_usage, stage_budget
from leadflow.defs.metadata import day_counts, llm_metadata, partition_rows, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.dossier.lead import LeadInput
from leadflow.dossier.writer import DossierResult, defect_rates, write_dossiers
from leadflow.llm.metrics import CallRecord
from leadflow.scoring.dossier_rules import dossier_text
from leadflow.scoring.icp import load_icp
from leadflow.storage import schema
from leadflow.storage.publication import version_filter, working_versions
from leadflow.storage.warehouse import write_version

LEADS_SQL = """
SELECT p.partition_date, p.signal_id, p.kind, p.title, p.final_score, p.bucket, p.role_function, p.seniority,
       p.hiring, p.reasons, p.account_id, s.text, s.company, s.attributes
FROM (SELECT * FROM prefilter_scores WHERE {where}) p
JOIN raw_signals s USING (partition_date, signal_id)
WHERE p.final_score >= ? ORDER BY p.final_score DESC, p.signal_id
"""


def lead_input(row: Any) -> LeadInput:
    attributes = json.loads(row.attributes or "{}")
    return LeadInput(
        signal_id=row.signal_id,
        kind=row.kind,
        title=row.title or "",
        text=row.text,
        final_score=float(row.final_score),
        bucket=row.bucket,
        company=row.company or "",
        role_function=row.role_function if isinstance(row.role_function, str) else None,
        seniority=row.seniority if isinstance(row.seniority, str) else None,
        hiring=bool(row.hiring) if isinstance(row.hiring, bool) else None,
        reasons=tuple(json.loads(row.reasons or "[]")),
        sender=str(attributes.get("from", "")),
        account_id=row.account_id if isinstance(row.account_id, str) else "",
    )


def evidence_json(result: DossierResult) -> str:
    """What the dossier was checked against, without the texts (the check reads them again)."""
    e = result.evidence
    return json.dumps(
        {
            "signal_ids": list(e.signals),
            "names": list(e.names),
            "bucket": e.bucket,
            "scores": list(e.scores),
            "company": e.company,
            "hired_roles": list(e.hired_roles),
        }
    )


def dossier_rows(partition_date: Any, leads: pd.DataFrame, results: list[DossierResult], run_id: str) -> list[dict]:
    """One row per lead signal; the signals of one account share its dossier, and its LLM cost
    is counted once (on the account's first signal)."""
    by_signal: dict[Any, dict[Any, Any]] = leads.set_index("signal_id").to_dict("index")
    rows = []
    for result in results:
        cost = result.cost()
        for index, signal_id in enumerate(result.signal_ids):
            lead = by_signal[signal_id]
            rows.append(
                {
                    "partition_date": partition_date,
                    "signal_id": signal_id,
                    "title": lead["title"],
                    "final_score": float(lead["final_score"]),
                    "bucket": lead["bucket"],
                    "dossier": json.dumps(result.value),
                    "chars": len(dossier_text(result.value)),
                    "account": result.account,
                    "defects": json.dumps([str(d) for d in result.defects]),
                    "evidence": evidence_json(result),
                    "model": cost.model or None,
                    "prompt_version": cost.template,
                    "error": "; ".join(str(d) for d in result.defects) or None,
                    **schema.llm_cost(cost if index == 0 else None),
                    "run_id": run_id,
                }
            )
    return rows


@pipeline_asset(
    deps=("prefilter_scores", "raw_signals"),
    group_name="scoring",
    kinds={"duckdb", "llm"},
    description=(
        "One dossier per account (company summary, trigger, ICP fit, decision makers, opener, "
        "risks, and citations: the spans of the signal each section rests on) for leads whose "
        "final score reaches dossier_threshold. The small model answers closed extractive "
        "questions (each answer located in the signal or dropped), rules compose the sections "
        "from the facts and the score (the summary and opener too, unless dossier_prose asks a model "
        "to write them from the facts: a model's draft failing the grounding check is repaired once, "
        "then composed). An account whose model work the run token budget deferred gets no dossier until "
        "a later run writes it."
    ),
)
def dossiers(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: LLMResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    run_id = context.run.run_id
    with duckdb.get_connection() as conn:
        where, params = version_filter(working_versions(conn, dates, run_id))
        leads = conn.execute(LEADS_SQL.format(where=where), [*params, pipeline.dossier_threshold]).df()
        budget = stage_budget(context, conn, llm)
    client = llm.client()
    profiles = load_icp(pipeline.icp_file())
    context.log.info(f"{len(leads)} leads at or above {pipeline.dossier_threshold}")
    rows: list[dict] = []
    results: list[DossierResult] = []
    deferred: list[str] = []  # leads whose account the token budget deferred: no row, the next run writes it
    served: list[tuple[Any, CallRecord]] = []  # each call's day, for the ledger
    with client.metrics.track() as recorder:
        for day, day_leads in leads.groupby("partition_date", sort=True):
            written = write_dossiers(
                client,
                [lead_input(r) for r in day_leads.itertuples()],
                profiles,
                pipeline.max_text_chars,
                pipeline.dossier_prose,
                budget,
            )
            results.extend(written)
            served.extend((day, record) for result in written for record in result.records)
            rows.extend(dossier_rows(day, day_leads, written, run_id))
            covered = {signal_id for result in written for signal_id in result.signal_ids}
            deferred.extend(s for s in day_leads["signal_id"] if s not in covered)
            context.log.info(f"dossiers: {len(results)} accounts written ({len(rows)}/{len(leads)} leads)")
    if deferred:
        context.log.warning(
            f"dossiers: {len(deferred)} leads deferred by the run token budget (no dossier this run, the next run "
            f"writes them): {', '.join(deferred[:10])}"
        )
    frame = schema.frame("dossiers", rows)
    with duckdb.get_connection() as conn:
        write_version(conn, "dossiers", dates, run_id, frame)
        usage = record_usage(context, conn, llm, recorder, budget, served)
    summary = recorder.summary()
    rates = defect_rates(results)
    return dg.MaterializeResult(
        metadata={
            **partition_rows(context, day_counts(frame)),
            "dossiers_written": len(results),
            "dossiers_deferred_leads": len(deferred),
            "dossier_errors": int(frame["error"].notna().sum()),
            "grounding/defect_free_rate": rates["defect_free_rate"],  # None (null): no dossier to judge
            "grounding/report": dg.MetadataValue.json(rates),
            "model": ", ".join(summary["models"]) or client.model_chain("dossier")[0],
            "preview": preview(
                frame.assign(kind=frame["signal_id"].map(dict(zip(leads["signal_id"], leads["kind"], strict=True)))),
                ["title", "account", "final_score", "bucket", "chars"],
                redact_email_text=pipeline.redact_email_text,
            ),
            **llm_metadata(summary),
            **usage,
        }
    )
