"""signal_embeddings: MiniLM vectors of each signal and its cosine similarity to every ICP."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.defs.ledger import record_usage
from leadflow.defs.metadata import day_counts, llm_metadata, partition_rows, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.scoring.embedding import embedding_columns
from leadflow.scoring.icp import load_icp
from leadflow.storage import schema
from leadflow.storage.warehouse import read_partitions, replace_partitions


@pipeline_asset(
    deps=("raw_signals",),
    group_name="signals",
    kinds={"duckdb", "llm"},
    description=(
        "Batched all-MiniLM-L6-v2 embeddings of each signal's title and text, and the cosine "
        "similarity of the text to every ICP in resources/icp.yaml (best prototype per ICP)."
    ),
)
def signal_embeddings(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: LLMResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    with duckdb.get_connection() as conn:
        signals = read_partitions(conn, "raw_signals", dates)[["partition_date", "signal_id", "kind", "title", "text"]]
    client = llm.client()
    profiles = load_icp(pipeline.icp_file())
    model = client.model_chain("embed")[0]
    with client.metrics.track() as recorder:
        columns = embedding_columns(client, profiles, signals)
    frame = schema.frame(
        "signal_embeddings",
        {
            "partition_date": signals["partition_date"],
            "signal_id": signals["signal_id"],
            "model": model,
            **columns,
            "run_id": context.run.run_id,
        },
    )
    with duckdb.get_connection() as conn:
        replace_partitions(conn, "signal_embeddings", dates, frame)
        usage = record_usage(context, conn, llm, recorder)
    return dg.MaterializeResult(
        metadata={
            **partition_rows(context, day_counts(frame)),
            "model": model,
            "dims": int(frame["dims"].max()) if len(frame) else None,
            "icp_similarity_mean": float(frame["icp_similarity"].mean()) if len(frame) else None,
            "preview": preview(
                frame.assign(title=signals["title"], kind=signals["kind"]),
                ["title", "best_icp", "icp_similarity"],
                redact_email_text=pipeline.redact_email_text,
            ),
            **llm_metadata(recorder.summary()),
            **usage,
        }
    )
