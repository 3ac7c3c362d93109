"""signal_embeddings: MiniLM vectors of each signal and its cosine similarity to every ICP."""

import json

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from leadflow.defs.metadata import llm_metadata, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.scoring.icp import load_icp
from leadflow.storage.warehouse import read_partitions, replace_partitions

# MiniLM was trained on 256-token inputs and the engine rejects inputs over its batch size:
# the head of the text carries the signal.
EMBED_CHARS = 900


def icp_similarities(client, profiles, text_vecs: np.ndarray) -> dict[str, np.ndarray]:
    """Per ICP, each signal's best cosine to that ICP's prototypes (vectors are unit-norm)."""
    return {p.id: (text_vecs @ client.embed_many(list(p.prototypes)).T).max(axis=1) for p in profiles}


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
        signals = read_partitions(conn, "raw_signals", dates)[["partition_date", "signal_id", "title", "text"]]
    client = llm.client()
    profiles = load_icp(pipeline.path(pipeline.icp_path))
    model = client.model_chain("embed")[0]
    with client.metrics.track() as recorder:
        if len(signals):
            title_vecs = client.embed_many(signals["title"].fillna("").tolist())
            text_vecs = client.embed_many([t[:EMBED_CHARS] for t in signals["text"].fillna("")])
            sims = icp_similarities(client, profiles, text_vecs)
        else:
            title_vecs = text_vecs = np.zeros((0, 0), dtype=np.float32)
            sims = {p.id: np.zeros(0) for p in profiles}
    sim_matrix = np.vstack([sims[p.id] for p in profiles]).T if len(signals) else np.zeros((0, len(profiles)))
    best = sim_matrix.argmax(axis=1) if len(signals) else np.zeros(0, dtype=int)
    frame = pd.DataFrame(
        {
            "partition_date": signals["partition_date"],
            "signal_id": signals["signal_id"],
            "model": model,
            "dims": title_vecs.shape[1] if len(signals) else 0,
            "title_vec": list(title_vecs),
            "text_vec": list(text_vecs),
            "best_icp": [profiles[i].id for i in best],
            "icp_similarity": sim_matrix.max(axis=1) if len(signals) else [],
            "icp_similarities": [
                json.dumps({p.id: round(float(sims[p.id][i]), 4) for p in profiles}) for i in range(len(signals))
            ],
            "run_id": context.run.run_id,
        }
    )
    with duckdb.get_connection() as conn:
        replace_partitions(conn, "signal_embeddings", dates, frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "model": model,
            "dims": int(frame["dims"].max()) if len(frame) else 0,
            "icp_similarity_mean": float(frame["icp_similarity"].mean()) if len(frame) else 0.0,
            "preview": preview(frame.assign(title=signals["title"]), ["title", "best_icp", "icp_similarity"]),
            **llm_metadata(recorder.summary()),
        }
    )
