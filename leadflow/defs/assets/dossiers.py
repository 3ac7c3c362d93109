"""dossiers: the bigger model writes a structured dossier, only for leads above the threshold."""

import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.defs.metadata import Progress, llm_metadata, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.llm.types import InvalidOutput
from leadflow.llm.validation import validate_json
from leadflow.scoring.dossier_rules import dossier_problems, dossier_text
from leadflow.scoring.icp import icp_context, load_icp
from leadflow.storage import schema
from leadflow.storage.publication import version_filter, working_versions
from leadflow.storage.warehouse import write_version

TEMPLATE = "write_dossier"


def dossier_validator(source_text: str):
    """Schema validation plus the dossier rules, so a bad dossier is repaired or falls back."""

    def validate(template, response):
        value = validate_json(template, response)
        problems = dossier_problems(value, source_text)
        if problems:
            raise InvalidOutput("; ".join(problems), response.text)
        return value

    return validate


@pipeline_asset(
    deps=("prefilter_scores", "raw_signals"),
    group_name="scoring",
    kinds={"duckdb", "llm"},
    description=(
        "Structured dossiers (company summary, trigger, ICP fit, decision makers, opener, risks) "
        "written by the dossier model for leads whose final score reaches dossier_threshold; "
        "validated for sections, length and copying before they are stored."
    ),
)
def dossiers(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: LLMResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    with duckdb.get_connection() as conn:
        versions = working_versions(conn, dates, context.run.run_id)
        where, params = version_filter(versions)
        leads = conn.execute(
            f"""SELECT p.partition_date, p.signal_id, p.kind, p.title, p.final_score, p.bucket,
                       p.content_hash, p.role_function, p.seniority, p.hiring, p.reasons, s.text
                FROM (SELECT * FROM prefilter_scores WHERE {where}) p
                JOIN raw_signals s USING (partition_date, signal_id)
                WHERE p.final_score >= ? ORDER BY p.final_score DESC, p.signal_id""",
            [*params, pipeline.dossier_threshold],
        ).df()
    client = llm.client()
    template = client.prompts.get(TEMPLATE)
    ctx = icp_context(load_icp(pipeline.icp_file()))
    unique = leads.drop_duplicates("content_hash")
    context.log.info(
        f"{len(leads)} leads at or above {pipeline.dossier_threshold}; {len(unique)} unique dossiers to write"
    )
    progress = Progress(context.log, "dossiers", len(unique))

    def write(row):
        text = row.text[: pipeline.max_text_chars]
        prefilter = {
            "score": row.final_score,
            "bucket": row.bucket,
            "role_function": row.role_function,
            "seniority": row.seniority,
            "hiring": row.hiring,
            "reasons": json.loads(row.reasons or "[]"),
        }
        completion = client.complete_json(
            "dossier",
            TEMPLATE,
            {
                "icp_context": ctx,
                "signal_kind": row.kind,
                "signal_title": row.title,
                "signal_text": text,
                "prefilter_json": json.dumps(prefilter),
            },
            validator=dossier_validator(text),
        )
        progress.advance()
        return completion

    with client.metrics.track() as recorder:
        results = client.map_concurrent(write, list(unique.itertuples()), role="dossier")
    by_hash = dict(zip(unique["content_hash"], results, strict=True))

    rows = []
    for row in leads.itertuples():
        result = by_hash[row.content_hash]
        failed = isinstance(result, Exception)
        rows.append(
            {
                "partition_date": row.partition_date,
                "signal_id": row.signal_id,
                "title": row.title,
                "final_score": row.final_score,
                "bucket": row.bucket,
                "dossier": None if failed else json.dumps(result.value),
                "chars": 0 if failed else len(dossier_text(result.value)),
                "model": None if failed else result.model,
                "prompt_version": template.label,
                "error": str(result) if failed else None,
                **schema.llm_cost(None if failed else result.record),
                "run_id": context.run.run_id,
            }
        )
    frame = schema.frame("dossiers", rows)
    with duckdb.get_connection() as conn:
        write_version(conn, "dossiers", dates, context.run.run_id, frame)
    summary = recorder.summary()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "dossiers_written": int(frame["dossier"].notna().sum()),
            "dossier_errors": int(frame["error"].notna().sum()),
            "model": ", ".join(summary["models"]) or client.model_chain("dossier")[0],
            "prompt_version": template.label,
            "preview": preview(frame, ["title", "final_score", "bucket", "chars", "model"]),
            **llm_metadata(summary),
        }
    )
