"""One run of the cheap-first cascade: the head is fitted on the golden set, every signal gets
a cheap score, the small model classifies the candidates (highest cheap score first), the two
blend into the final score and bucket, and the whole cascade is measured on the held-out
golden set. Dagster-free: the prefilter_scores asset and tests call it.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from leadflow.ingest.emails import KIND as EMAIL_KIND
from leadflow.ingest.jobs_jsonl import KIND as JOB_KIND
from leadflow.llm.budget import BudgetExhausted, TokenBudget
from leadflow.llm.client import Completion, LLMClient
from leadflow.llm.metrics import CallRecord
from leadflow.llm.semantic_cache import Similar
from leadflow.scoring.cascade import IcpScorer, Thresholds, fit_scorer, precision_recall
from leadflow.scoring.email_leads import email_lead
from leadflow.scoring.embedding import embed_texts, icp_similarities
from leadflow.scoring.explanation import blended, explanation_json
from leadflow.scoring.icp import IcpProfile, icp_context
from leadflow.scoring.injection import addresses_model, neutralize
from leadflow.scoring.rules import title_keyword_hit
from leadflow.scoring.tiering import BIG_ROLE, TierPolicy
from leadflow.storage.schema import ACCOUNT_COLUMNS, llm_cost

TEMPLATE = "classify_signal"
ROLE = "prefilter"
ADDRESSES_MODEL = "its text speaks to the model: that part was cut before a model read it, and the small model's score may lower this lead, never raise it"

Answers = dict[str, Completion | Exception]  # the small model's result per content hash
SIGNAL_VARIABLES = ("signal_title", "signal_text")  # what a semantic hit may differ in

# What the cascade reads of a signal: its text, embedding, email analysis and account.
SIGNALS_SQL = """
SELECT s.partition_date, s.signal_id, s.source, s.kind, s.title, s.text, s.content_hash, e.title_vec,
       e.icp_similarity, a.type_scores, c.account_id, c.account_name, c.account_domain, c.match_confidence
FROM raw_signals s JOIN signal_embeddings e USING (partition_date, signal_id)
LEFT JOIN email_analysis a USING (partition_date, signal_id)
LEFT JOIN signal_accounts c USING (partition_date, signal_id)
WHERE {where} ORDER BY s.partition_date, s.signal_id
"""


@dataclass
class Cascade:
    """The cheap stage fitted for this run, and what the small model is told."""

    client: LLMClient
    scorer: IcpScorer  # carries the run's thresholds
    icp_context: str
    max_chars: int
    golden: pd.DataFrame
    golden_cheap_scores: np.ndarray  # each golden row's score from a head that never saw it
    report: dict[str, Any]  # held-out figures of the cheap stage (fit_scorer's report)


def rule_hits(titles: pd.Series) -> np.ndarray:
    return np.array([title_keyword_hit(neutralize(t or "")) for t in titles], dtype=bool)


def fit_cascade(
    client: LLMClient,
    golden: pd.DataFrame,
    profiles: list[IcpProfile],
    thresholds: Thresholds,
    max_chars: int,
    user_labels: pd.DataFrame | None = None,
) -> Cascade:
    """Embed the labelled golden postings and fit the cheap scorer on them, and on the postings
    the user labelled (`user_labels`: SIGNALS_SQL columns and `good`), whose embeddings and ICP
    similarities the signal_embeddings stage stored."""
    title_vecs = client.embed_many(golden["title"].tolist())
    sims = np.vstack(list(icp_similarities(client, profiles, embed_texts(client, golden["text"].tolist())).values()))
    rules = rule_hits(golden["title"])
    labels = golden["is_icp"].to_numpy()
    sim = sims.max(axis=0)
    if user_labels is not None and len(user_labels):
        title_vecs = np.vstack([title_vecs, np.vstack(list(user_labels["title_vec"]))])
        rules = np.concatenate([rules, rule_hits(user_labels["title"])])
        sim = np.concatenate([sim, user_labels["icp_similarity"].to_numpy(dtype=float)])
        labels = np.concatenate([labels, user_labels["good"].to_numpy(dtype=bool)])
    scorer, heldout, report = fit_scorer(title_vecs, rules, sim, labels, thresholds, golden_rows=len(golden))
    return Cascade(client, scorer, icp_context(profiles), max_chars, golden, heldout[: len(golden)], report)


def with_cheap_scores(scorer: IcpScorer, signals: pd.DataFrame) -> pd.DataFrame:
    """`signals` (kind, title, title_vec, icp_similarity) plus rule_hit and cheap_score."""
    rules = rule_hits(signals["title"])
    title_vecs = np.vstack(list(signals["title_vec"])) if len(signals) else np.zeros((0, 1))
    sims = signals["icp_similarity"].to_numpy(dtype=float)
    scores = scorer.cheap_scores(signals["kind"], title_vecs, rules, sims)
    parts = scorer.cheap_parts(signals["kind"], title_vecs, rules, sims)
    return signals.assign(
        rule_hit=rules, cheap_score=scores, cheap_parts=pd.Series(parts, index=signals.index, dtype=object)
    )


def with_email_leads(scorer: IcpScorer, scored: pd.DataFrame, cuts: Mapping[str, float]) -> pd.DataFrame:
    """Emails with an analysis (`type_scores` JSON) take their cheap score from it (intent x ICP,
    `leadflow.scoring.email_leads`), with its parts and intents; every row gets the reasons of
    its cheap score."""
    scores, reasons, parts = [], [], []
    intents: list[dict[str, float] | None] = []
    row: Any
    for row in scored.itertuples():
        analysis = getattr(row, "type_scores", None)  # absent: no email of the run was analysed
        if row.kind == EMAIL_KIND and isinstance(analysis, str):
            lead = email_lead(scorer, json.loads(analysis), cuts, neutralize(row.text), float(row.icp_similarity))
            scores.append(lead.score)
            reasons.append(list(lead.reasons))
            parts.append(list(lead.parts))
            intents.append(lead.intents)
        else:
            scores.append(float(row.cheap_score))
            reasons.append(cheap_reasons(scorer, row))
            parts.append(row.cheap_parts)
            intents.append(None)
    index = scored.index
    return scored.assign(
        cheap_score=scores,
        cheap_reasons=pd.Series(reasons, index=index, dtype=object),
        cheap_parts=pd.Series(parts, index=index, dtype=object),
        intents=pd.Series(intents, index=index, dtype=object),
    )


def cheap_reasons(scorer: IcpScorer, row: Any) -> list[str]:
    """Why a signal the analysis did not score got its cheap score."""
    rule = "title names a marketing/PR role" if row.rule_hit else "title names no marketing/PR role"
    head = "ICP head on the title" if row.kind == JOB_KIND else "ICP similarity of the text"
    return [rule, f"{head}: cheap score {float(row.cheap_score):.0f} (ICP similarity {float(row.icp_similarity):.2f})"]


def candidates(frame: pd.DataFrame, min_score: float) -> pd.DataFrame:
    """Rows the small model is asked about, highest cheap score first (in a long run the likely
    high-value signals get their answers first), one per content hash. Analysed emails are not
    asked again: their analysis already ran the small model on its candidates."""
    analysed = pd.Series(False, index=frame.index)
    if "type_scores" in frame:
        analysed = (frame["kind"] == EMAIL_KIND) & frame["type_scores"].notna()
    return (
        frame[(frame["cheap_score"] >= min_score) & ~analysed]
        .sort_values("cheap_score", ascending=False)
        .drop_duplicates("content_hash")
    )


def classify(
    cascade: Cascade,
    todo: pd.DataFrame,
    on_done: Callable[[int], None] | None = None,
    budget: TokenBudget | None = None,
    vectors: np.ndarray | None = None,
    tiers: TierPolicy | None = None,
) -> Answers:
    """The small model's answer (or its failure) for each row of `todo` (kind, title, text,
    cheap_score), from the signal without what it says to a model. `budget`: once spent, rows
    that need the engine get BudgetExhausted (deferred). `vectors`: each row's unit text
    embedding, offered to the client's semantic cache. `tiers`: complex signals and uncertain or
    contradicting answers go to the bigger model (`leadflow.scoring.tiering`)."""
    client, warm = cascade.client, cascade.scorer.thresholds.warm

    def ask(item: tuple[Any, np.ndarray | None]) -> Completion:
        row, vector = item
        variables = {
            "icp_context": cascade.icp_context,
            "signal_kind": row.kind,
            "signal_title": neutralize(row.title),
            "signal_text": neutralize(row.text)[: cascade.max_chars],
        }
        similar = None if vector is None else Similar(vector, SIGNAL_VARIABLES)
        first = BIG_ROLE if tiers is not None and tiers.is_complex(variables["signal_text"]) else ROLE
        completion = client.complete_json(first, TEMPLATE, variables, budget=budget, similar=similar)
        if tiers is None or first == BIG_ROLE:
            return completion
        if tiers.escalation(completion.value.get("score"), float(row.cheap_score), warm) is None:
            return completion
        return client.complete_json(BIG_ROLE, TEMPLATE, variables, budget=budget)

    rows = list(todo.itertuples())
    items = list(zip(rows, vectors if vectors is not None else [None] * len(rows), strict=True))
    results = client.map_concurrent(ask, items, role=ROLE, on_done=on_done)
    return dict(zip(todo["content_hash"], results, strict=True))


def answer(result: Completion | Exception | None) -> tuple[dict[str, Any], CallRecord | None]:
    """(value, record) of a successful completion, ({}, None) for a failure or no call."""
    if result is None or isinstance(result, Exception):
        return {}, None
    return result.value, result.record


def golden_frame(cascade: Cascade) -> pd.DataFrame:
    """The golden postings as signals with their held-out cheap scores."""
    golden = cascade.golden
    return golden.assign(
        kind=JOB_KIND, cheap_score=cascade.golden_cheap_scores, content_hash=golden["job_id"].astype(str)
    )


def golden_figures(cascade: Cascade, frame: pd.DataFrame, answers: Answers) -> dict[str, Any]:
    """Precision/recall of the cascade's final scores on the golden `frame`, given `answers`."""
    finals = np.array(
        [
            cascade.scorer.blend(cheap, answer(answers.get(key))[0].get("score"), not addresses_model(title, text))
            for cheap, key, title, text in zip(
                frame["cheap_score"], frame["content_hash"], frame["title"], frame["text"], strict=True
            )
        ]
    )
    labels = frame["is_icp"].to_numpy().astype(int)
    return precision_recall(finals >= cascade.scorer.thresholds.warm, labels)


def evaluate_golden(cascade: Cascade) -> dict[str, Any]:
    """Precision/recall of the whole cascade (held-out head + small model) on the golden set."""
    frame = golden_frame(cascade)
    return golden_figures(cascade, frame, classify(cascade, candidates(frame, cascade.scorer.thresholds.llm_min_score)))


def _cell(value: Any) -> Any:
    """A frame cell as a value to store: NaN / NA (a signal without an account) is None."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def explanation(
    scorer: IcpScorer, row: Any, llm_score: float | None, speaks: bool, model_reasons: list[str], final: float
) -> str:
    """The parts behind `final` (they sum to it), the small model's answer and an email's intents."""
    if llm_score is None:
        model_points, model = None, None
    else:
        model_points = float(llm_score) if not speaks else min(float(llm_score), float(row.cheap_score))
        weight = scorer.thresholds.llm_weight
        model = {"score": llm_score, "weight": weight, "points_used": model_points, "reasons": model_reasons}
    detail = f"score {llm_score}" + (" (capped at the cheap score: its text speaks to the model)" if speaks else "")
    parts = blended(row.cheap_parts, scorer.thresholds.llm_weight, model_points, detail if model else "")
    return explanation_json(final, parts, model, getattr(row, "intents", None))


def score_rows(
    scorer: IcpScorer, scored: pd.DataFrame, answers: Answers, prompt_label: str, run_id: str
) -> list[dict[str, Any]]:
    """The prefilter_scores rows: cheap score, the small model's answer (if it was asked), final
    score and bucket. A signal that speaks to the model is not lifted by it (`IcpScorer.blend`).
    A signal the token budget deferred gets no row: the next run scores it."""
    rows = []
    row: Any  # an itertuples() row: the columns as attributes
    for row in scored.itertuples():
        result = answers.get(row.content_hash)
        if isinstance(result, BudgetExhausted):
            continue  # deferred: the next run scores it (and what this run finished, from the cache)
        value, record = answer(result)
        llm_score = value.get("score")
        speaks = addresses_model(row.title or "", row.text)
        final = scorer.blend(row.cheap_score, llm_score, lift=not speaks)
        model_reasons = value.get("reasons", [])
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
                "reasons": json.dumps([*row.cheap_reasons, *([ADDRESSES_MODEL] if speaks else []), *model_reasons]),
                "final_score": final,
                "bucket": scorer.thresholds.bucket(final),
                "explanation": explanation(scorer, row, llm_score, speaks, model_reasons, final),
                **{column.name: _cell(getattr(row, column.name, None)) for column in ACCOUNT_COLUMNS},
                "model": result.model if isinstance(result, Completion) and value else None,
                "prompt_version": prompt_label if result is not None else None,
                "llm_error": str(result) if isinstance(result, Exception) else None,
                **llm_cost(record),
                "run_id": run_id,
            }
        )
    return rows
