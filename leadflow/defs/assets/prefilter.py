"""prefilter_scores: the cheap-first cascade (keyword rule + embedding head, then the small model
for candidates only) and the bucket of every signal."""

import json

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from leadflow.defs.assets.embeddings import EMBED_CHARS, icp_similarities
from leadflow.defs.metadata import Progress, llm_metadata, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.scoring.cascade import BUCKETS, fit_scorer, precision_recall
from leadflow.scoring.golden import load_golden
from leadflow.scoring.icp import icp_context, load_icp
from leadflow.scoring.rules import title_keyword_hit
from leadflow.storage.warehouse import write_version

TEMPLATE = "classify_signal"


def golden_features(client, pipeline: PipelineSettings, profiles):
    """Embeddings, ICP similarity and rule hits of the labelled golden postings."""
    golden = load_golden(pipeline.path(pipeline.golden_path))
    title_vecs = client.embed_many(golden["title"].tolist())
    text_vecs = client.embed_many([t[:EMBED_CHARS] for t in golden["text"]])
    sims = np.vstack(list(icp_similarities(client, profiles, text_vecs).values())).max(axis=0)
    rules = np.array([title_keyword_hit(t) for t in golden["title"]])
    return golden, title_vecs, rules, sims


def classify_candidates(client, frame: pd.DataFrame, ctx: str, max_chars: int, min_score: float, log=None) -> dict:
    """The small model's answer per content hash for rows at or above `min_score`, highest
    cheap score first (likely high-value signals get their answers first in a long run)."""
    candidates = (
        frame[frame["cheap_score"] >= min_score]
        .sort_values("cheap_score", ascending=False)
        .drop_duplicates("content_hash")
    )
    progress = Progress(log, "prefilter LLM", len(candidates)) if log is not None else None

    def classify(row):
        completion = client.complete_json(
            "prefilter",
            TEMPLATE,
            {
                "icp_context": ctx,
                "signal_kind": row.kind,
                "signal_title": row.title,
                "signal_text": row.text[:max_chars],
            },
        )
        if progress is not None:
            progress.advance()
        return completion

    results = client.map_concurrent(classify, list(candidates.itertuples()), role="prefilter")
    return dict(zip(candidates["content_hash"], results))


def _answer(result):
    """(value, record) of a successful completion, ({}, None) for a failure or no call."""
    if result is None or isinstance(result, Exception):
        return {}, None
    return result.value, result.record


def evaluate_golden(client, scorer, golden, heldout_scores, ctx, pipeline: PipelineSettings) -> dict:
    """Precision/recall of the whole cascade (held-out head + small model) on the golden set."""
    frame = golden.assign(kind="job_posting", cheap_score=heldout_scores, content_hash=golden["job_id"].astype(str))
    answers = classify_candidates(client, frame, ctx, pipeline.max_text_chars, pipeline.llm_min_score)
    finals = np.array(
        [
            scorer.blend(cheap, _answer(answers.get(key))[0].get("score"))
            for cheap, key in zip(frame["cheap_score"], frame["content_hash"])
        ]
    )
    labels = golden["is_icp"].to_numpy().astype(int)
    return precision_recall(finals >= pipeline.thresholds().warm, labels)


@pipeline_asset(
    deps=("raw_signals", "signal_embeddings"),
    group_name="scoring",
    kinds={"duckdb", "llm"},
    description=(
        "Cheap-first lead scores: a title keyword rule and a logistic head on the embeddings "
        "(trained on the golden set) score every signal; the small model adds a bounded JSON "
        "classification for candidates above llm_min_score. Final score -> bucket (red_hot, warm, "
        "nurture, parked, filtered)."
    ),
)
def prefilter_scores(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: LLMResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    with duckdb.get_connection() as conn:
        signals = conn.execute(
            """SELECT s.partition_date, s.signal_id, s.kind, s.title, s.text, s.content_hash,
                      e.title_vec, e.icp_similarity
               FROM raw_signals s JOIN signal_embeddings e USING (partition_date, signal_id)
               WHERE s.partition_date = ANY(?::DATE[]) ORDER BY s.partition_date, s.signal_id""",
            [dates],
        ).df()
    client = llm.client()
    thresholds = pipeline.thresholds()
    profiles = load_icp(pipeline.path(pipeline.icp_path))
    template = client.prompts.get(TEMPLATE)
    model = client.model_chain("prefilter")[0]
    ctx = icp_context(profiles)
    with client.metrics.track() as recorder:
        golden, g_titles, g_rules, g_sims = golden_features(client, pipeline, profiles)
        scorer, heldout_scores, golden_report = fit_scorer(
            g_titles, g_rules, g_sims, golden["is_icp"].to_numpy(), thresholds
        )
        rules = np.array([title_keyword_hit(t) for t in signals["title"]], dtype=bool)
        title_vecs = np.vstack(signals["title_vec"].to_numpy()) if len(signals) else np.zeros((0, 1))
        signals["rule_hit"] = rules
        signals["cheap_score"] = scorer.cheap_scores(
            signals["kind"], title_vecs, rules, signals["icp_similarity"].to_numpy()
        )
        candidates = int((signals["cheap_score"] >= thresholds.llm_min_score).sum())
        context.log.info(
            f"{len(signals)} signals; {candidates} at or above {thresholds.llm_min_score} go to the small model"
        )
        by_hash = classify_candidates(
            client, signals, ctx, pipeline.max_text_chars, thresholds.llm_min_score, context.log
        )
        golden_report["cascade"] = evaluate_golden(client, scorer, golden, heldout_scores, ctx, pipeline)
    context.log.info(
        f"golden set, held-out: cheap stage {golden_report['heldout']}, cascade {golden_report['cascade']}"
    )

    rows = []
    for row in signals.itertuples():
        result = by_hash.get(row.content_hash)
        value, rec = _answer(result)
        llm_score = value.get("score")
        final = scorer.blend(row.cheap_score, llm_score)
        rows.append(
            {
                "partition_date": row.partition_date,
                "signal_id": row.signal_id,
                "kind": row.kind,
                "title": row.title,
                "content_hash": row.content_hash,
                "rule_hit": bool(row.rule_hit),
                "icp_similarity": float(row.icp_similarity),
                "cheap_score": float(row.cheap_score),
                "llm_used": bool(value),
                "llm_score": llm_score,
                "hiring": value.get("hiring"),
                "role_function": value.get("role_function"),
                "seniority": value.get("seniority"),
                "reasons": json.dumps(value.get("reasons", [])),
                "final_score": final,
                "bucket": thresholds.bucket(final),
                "model": result.model if value else None,
                "prompt_version": template.label if result is not None else None,
                "llm_error": str(result) if isinstance(result, Exception) else None,
                "llm_calls": rec.engine_calls if rec else 0,
                "cache_tier": rec.cache_tier if rec else None,
                "latency_s": rec.latency_s if rec else None,
                "tokens_in": rec.prompt_tokens if rec else 0,
                "tokens_out": rec.completion_tokens if rec else 0,
                "run_id": context.run.run_id,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "partition_date",
            "signal_id",
            "kind",
            "title",
            "content_hash",
            "rule_hit",
            "icp_similarity",
            "cheap_score",
            "llm_used",
            "llm_score",
            "hiring",
            "role_function",
            "seniority",
            "reasons",
            "final_score",
            "bucket",
            "model",
            "prompt_version",
            "llm_error",
            "llm_calls",
            "cache_tier",
            "latency_s",
            "tokens_in",
            "tokens_out",
            "run_id",
        ],
    )
    cascade = golden_report["cascade"]
    with duckdb.get_connection() as conn:
        write_version(conn, "prefilter_scores", dates, context.run.run_id, frame)
        conn.execute(
            """INSERT INTO golden_evaluations (run_id, model, prompt_version, golden_rows, precision, recall, f1, report)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                context.run.run_id,
                model,
                template.label,
                golden_report["golden_rows"],
                cascade["precision"],
                cascade["recall"],
                cascade["f1"],
                json.dumps(golden_report),
            ],
        )

    buckets = {bucket: int((frame["bucket"] == bucket).sum()) for bucket in BUCKETS}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "buckets": dg.MetadataValue.json(buckets),
            "llm_candidates": candidates,
            "llm_errors": int(frame["llm_error"].notna().sum()),
            "golden/precision": cascade["precision"],
            "golden/recall": cascade["recall"],
            "golden/f1": cascade["f1"],
            "golden/report": dg.MetadataValue.json(golden_report),
            "model": model,
            "prompt_version": template.label,
            "preview": preview(
                frame.sort_values("final_score", ascending=False),
                ["title", "kind", "cheap_score", "llm_score", "final_score", "bucket"],
            ),
            **llm_metadata(recorder.summary()),
        }
    )
