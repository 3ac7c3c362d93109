"""prefilter_scores: the cheap-first cascade (keyword rule + embedding head, then the small model
for candidates only) and the bucket of every signal. The scoring is `leadflow.scoring.prefilter`;
this asset reads, calls it, writes the version and reports."""

import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.analysis.classifier import shared_typer
from leadflow.defs.ledger import audit_stage, record_audit, record_usage, stage_budget
from leadflow.defs.metadata import Progress, day_counts, llm_metadata, partition_rows, preview
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.ingest.jobs_jsonl import KIND as JOB_KIND
from leadflow.scoring import feedback, prefilter
from leadflow.scoring.cascade import BUCKETS
from leadflow.scoring.embedding import embed_texts
from leadflow.scoring.explanation import explanation_text
from leadflow.scoring.golden import load_golden
from leadflow.scoring.icp import load_icp
from leadflow.scoring.tiering import TierPolicy
from leadflow.storage import schema
from leadflow.storage.warehouse import append, write_version


@pipeline_asset(
    deps=("raw_signals", "signal_embeddings", "email_analysis", "accounts"),
    group_name="scoring",
    kinds={"duckdb", "llm"},
    description=(
        "Cheap-first lead scores: a title keyword rule and a logistic head on the embeddings "
        "(trained on the golden set) score postings and accounts; emails score from their analysis "
        "(intent x ICP fit); the small model adds a bounded JSON classification for other "
        "candidates above llm_min_score. Final score -> bucket (red_hot, warm, nurture, parked, "
        "filtered), with the reasons of every score, its explanation (the parts that sum to it) and its "
        "account. The head retrains each run from the golden set plus the user's labelled postings; "
        "held-out user labels are judged per source."
    ),
)
def prefilter_scores(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, llm: LLMResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    run_id = context.run.run_id
    with duckdb.get_connection() as conn:
        signals = conn.execute(prefilter.SIGNALS_SQL.format(where="s.partition_date = ANY(?::DATE[])"), [dates]).df()
        labelled = feedback.labelled_signals(conn)
    client = llm.client()
    thresholds = pipeline.thresholds()
    template = client.prompts.get(prefilter.TEMPLATE)
    model = client.model_chain(prefilter.ROLE)[0]
    with duckdb.get_connection() as conn:
        budget = stage_budget(context, conn, llm)
    with client.metrics.track() as recorder:
        cascade = prefilter.fit_cascade(
            client,
            load_golden(pipeline.golden_file()),
            load_icp(pipeline.icp_file()),
            thresholds,
            pipeline.max_text_chars,
            feedback.training_labels(labelled),
        )
        cuts = shared_typer(client, *pipeline.email_golden_files()).lead_cuts
        scored = prefilter.with_email_leads(cascade.scorer, prefilter.with_cheap_scores(cascade.scorer, signals), cuts)
        candidates = int((scored["cheap_score"] >= thresholds.llm_min_score).sum())
        context.log.info(
            f"{len(scored)} signals; {candidates} at or above {thresholds.llm_min_score} go to the small model"
        )
        todo = prefilter.candidates(scored, thresholds.llm_min_score)
        progress = Progress(context.log, "prefilter LLM", len(todo), recorder)
        answers = prefilter.classify(
            cascade,
            todo,
            on_done=lambda _: progress.advance(),
            budget=budget,
            vectors=embed_texts(client, todo["text"].tolist()) if client.semantic is not None else None,
            tiers=TierPolicy() if pipeline.tiering else None,
        )
        audit = audit_stage(context, client, llm, recorder)
        golden_report = {
            **cascade.report,
            "cascade": prefilter.evaluate_golden(cascade),
            "user_labels": feedback.held_out_figures(cascade.scorer, labelled, cuts),
        }
    context.log.info(
        f"golden set, held-out: cheap stage {golden_report['heldout']}, cascade {golden_report['cascade']}"
    )
    frame = schema.frame(
        "prefilter_scores", prefilter.score_rows(cascade.scorer, scored, answers, template.label, run_id)
    )
    cascade_figures = golden_report["cascade"]
    with duckdb.get_connection() as conn:
        write_version(conn, "prefilter_scores", dates, run_id, frame)
        days = zip(scored["partition_date"], scored["content_hash"], strict=True)
        served = [(day, prefilter.answer(answers.get(key))[1]) for day, key in days]
        usage = {**record_usage(context, conn, llm, recorder, budget, served), **record_audit(context, conn, audit)}
        append(
            conn,
            "golden_evaluations",
            {
                "run_id": run_id,
                "kind": JOB_KIND,
                "model": model,
                "prompt_version": template.label,
                "golden_rows": golden_report["golden_rows"],
                "precision": cascade_figures["precision"],
                "recall": cascade_figures["recall"],
                "f1": cascade_figures["f1"],
                "report": json.dumps(golden_report),
            },
        )

    buckets = {bucket: int((frame["bucket"] == bucket).sum()) for bucket in BUCKETS}
    return dg.MaterializeResult(
        metadata={
            **partition_rows(context, day_counts(frame)),
            "buckets": dg.MetadataValue.json(buckets),
            "llm_candidates": candidates,
            "llm_errors": int(frame["llm_error"].notna().sum()),
            "golden/precision": cascade_figures["precision"],
            "golden/recall": cascade_figures["recall"],
            "golden/f1": cascade_figures["f1"],
            "golden/report": dg.MetadataValue.json(golden_report),
            "golden/user_labels_f1": golden_report["user_labels"].get("f1"),  # None: no held-out label
            "accounts": int(frame["account_id"].nunique()),
            "model": model,
            "prompt_version": template.label,
            "preview": preview(
                frame.sort_values("final_score", ascending=False).assign(
                    explanation=lambda f: [explanation_text(json.loads(e)) for e in f["explanation"]]
                ),
                ["title", "kind", "account_name", "final_score", "bucket", "explanation"],
                redact_email_text=pipeline.redact_email_text,
            ),
            **llm_metadata(recorder.summary()),
            **usage,
        }
    )
