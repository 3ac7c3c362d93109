"""`python -m bench.semantic_tiering`: what the semantic cache and tiered model selection would
do for the prefilter classification, measured with real inference.

Semantic cache (`leadflow.llm.semantic_cache`): every candidate gets a fresh answer from the small
model; the candidates are then replayed in the pipeline's order (highest cheap score first)
through a semantic cache holding the answers of the ones before. A semantic hit is false when the
bucket it gives (the hit's score blended with this signal's cheap score) differs from the bucket
of this signal's own fresh answer. On the golden set and on the W1 job-board mix (`bench.data`:
exact reposts, cosmetic and edited variants; the exact cache and the content-hash dedup answer the
first two, so the extra hit rate is what the semantic cache adds), at several thresholds.

Tiering (`leadflow.scoring.tiering`): the golden candidates (the first `--tier-limit` by cheap
score: the 1.5B model takes 10-60 s per classification on two busy cores) are classified again
with tiering on; the calls saved are the candidates the small model settles (an all-big-model
design would send each to the big model), and the golden-set F1 is computed with and without.

Writes bench/results/semantic_tiering_<UTC>.json and prints a summary.
"""

import argparse
import datetime
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data import GOLDEN, W1_DAY, build_w1, locate_data
from bench.results_file import save_results
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.ingest.jobs_jsonl import parse_jobs_jsonl
from leadflow.ingest.records import Signal
from leadflow.llm.budget import BudgetExhausted, TokenBudget
from leadflow.llm.cache_audit import audit_hits
from leadflow.llm.ledger import totals, usage_rows
from leadflow.llm.semantic_cache import DEFAULT_THRESHOLD, SemanticCache
from leadflow.scoring import prefilter
from leadflow.scoring.cascade import Thresholds
from leadflow.scoring.embedding import embed_texts, embedding_columns
from leadflow.scoring.golden import load_golden
from leadflow.scoring.icp import load_icp
from leadflow.scoring.injection import addresses_model
from leadflow.scoring.tiering import BIG_ROLE, TierPolicy

RESULTS_DIR = Path(__file__).resolve().parent / "results"
THRESHOLDS = (0.85, 0.90, DEFAULT_THRESHOLD, 0.95, 0.98)
FALSE_HIT_LIMIT = 0.01  # the semantic cache is on by default only at or below this false-hit rate


def rate_upper_bound(events: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen `events` times in `trials`: the p at
    which seeing at most `events` has probability 1 - confidence (bisection on the binomial CDF)."""
    if trials == 0 or events >= trials:
        return 1.0

    def at_most(p: float) -> float:
        return sum(math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(events + 1))

    low, high = events / trials, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if at_most(mid) > 1 - confidence else (low, mid)
    return high


def semantic_replay(
    cascade: prefilter.Cascade, rows: pd.DataFrame, answers: prefilter.Answers, threshold: float
) -> dict[str, Any]:
    """Replay `rows` in order through a semantic cache of the requests before them. Which rows a
    semantic hit would serve needs the embeddings only; a hit is judged (false or not) where both
    fresh answers are at hand."""
    cache = SemanticCache(threshold)
    vectors = embed_texts(cascade.client, rows["text"].tolist())
    scorer = cascade.scorer
    hits, judged, false_hits, examples = 0, 0, 0, []
    row: Any
    for row, vector in zip(rows.itertuples(), vectors, strict=True):
        fresh = answers.get(row.content_hash)
        score = fresh.value["score"] if isinstance(fresh, prefilter.Completion) else None
        scope = str(row.kind)  # one template, model and ICP here: the context is the signal kind
        near = cache.lookup(scope, vector)
        if near is None:
            cache.add(scope, vector, json.dumps({"score": score, "title": row.title}).encode())
            continue
        hits += 1
        cached = json.loads(near.value)
        if score is None or cached["score"] is None:
            continue
        judged += 1
        lift = not addresses_model(row.title or "", row.text)
        own = scorer.thresholds.bucket(scorer.blend(row.cheap_score, score, lift))
        given = scorer.thresholds.bucket(scorer.blend(row.cheap_score, cached["score"], lift))
        if own != given:
            false_hits += 1
            examples.append(
                {
                    "similarity": near.similarity,
                    "title": row.title,
                    "hit_from": cached["title"],
                    "bucket": own,
                    "hit_bucket": given,
                }
            )
    return {
        "threshold": threshold,
        "requests": len(rows),
        "semantic_hits": hits,
        "hit_rate": round(hits / len(rows), 4) if len(rows) else None,
        "judged_hits": judged,
        "false_hits": false_hits,
        "false_hit_rate": round(false_hits / judged, 4) if judged else None,
        "false_hit_examples": examples[:5],
    }


def with_neighbours(client: Any, rows: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The rows a semantic cache at `threshold` could serve or be served by: each row with an
    earlier row (in `rows`' order, the pipeline's) at that cosine or more, and those earlier rows.
    Only they need a fresh answer to measure hits: the others miss and are never hit."""
    vectors = embed_texts(client, rows["text"].tolist())
    sims = np.tril(vectors @ vectors.T, k=-1)
    later, earlier = np.nonzero(sims >= threshold)
    needed = sorted({int(i) for i in (*later, *earlier)})
    return rows.iloc[needed]


def w1_signals(cascade: prefilter.Cascade, unique: int, work: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The W1 job-board day as scored signals (embeddings and cheap scores as the pipeline makes them)."""
    w1 = build_w1(locate_data().jobs, unique, work / "w1.jsonl")
    signals = [s for s in parse_jobs_jsonl(w1.path, source="w1", import_date=W1_DAY) if isinstance(s, Signal)]
    frame = pd.DataFrame(
        {"kind": s.kind, "title": s.title, "text": s.text, "content_hash": s.content_hash} for s in signals
    )
    profiles = load_icp(PipelineSettings().icp_file())
    columns = embedding_columns(cascade.client, profiles, frame)
    frame = frame.assign(title_vec=columns["title_vec"], icp_similarity=columns["icp_similarity"])
    return prefilter.with_cheap_scores(cascade.scorer, frame), {"counts": w1.counts, "signals": w1.signals}


def timed_classify(
    cascade: prefilter.Cascade, rows: pd.DataFrame, cached_only: bool, **options: Any
) -> tuple[prefilter.Answers, dict]:
    """`classify`, timed; `cached_only`: under a spent token budget, so only answers an earlier
    run of this benchmark cached are used (the others are left out, and counted)."""
    if cached_only:
        options["budget"] = TokenBudget(limit=1, spent=1)
    with cascade.client.metrics.track() as recorder:
        started = time.perf_counter()
        answers = prefilter.classify(cascade, rows, **options)
        wall = time.perf_counter() - started
    records = recorder.records
    return answers, {
        "wall_s": round(wall, 1),
        "engine_calls_by_role": {
            role: sum(r.engine_calls for r in records if r.role == role) for role in sorted({r.role for r in records})
        },
        "failed": sum(isinstance(a, Exception) and not isinstance(a, BudgetExhausted) for a in answers.values()),
        "not_cached": sum(isinstance(a, BudgetExhausted) for a in answers.values()),
    }


def ledger_and_audit(cascade: prefilter.Cascade, rows: pd.DataFrame, sample: int) -> dict[str, Any]:
    """Classifications asked before, again (a re-run: every answer a cache hit): the ledger of the
    re-run at the bundled price list, and the cache-hit audit of `sample` hits."""
    client = cascade.client
    prices = LLMResource().prices()
    with client.metrics.track() as rerun:
        prefilter.classify(cascade, rows)
        audit = audit_hits(client, rerun.records, sample, seed="bench")
    rerun_rows = usage_rows([r for r in rerun.records if not r.audit], prices)
    audit_rows = usage_rows([r for r in rerun.records if r.audit], prices)
    return {
        "rerun": totals(rerun_rows),
        "audit": {**audit.figures(), "ledger": totals(audit_rows)},
        "prices": {role: vars(price) for role, price in prices.by_role.items()},
    }


def run(
    cache: Path, golden_limit: int, w1_unique: int, tier_limit: int, audit_sample: int, cached_only: bool, work: Path
) -> dict[str, Any]:
    client = LLMResource.from_env(cache_path=str(cache), warm_up=False).client()
    thresholds = Thresholds()
    cascade = prefilter.fit_cascade(
        client,
        load_golden(GOLDEN),
        load_icp(PipelineSettings().icp_file()),
        thresholds,
        PipelineSettings().max_text_chars,
    )
    frame = prefilter.golden_frame(cascade)
    golden_cands = prefilter.candidates(frame, thresholds.llm_min_score)
    if golden_limit:
        golden_cands = golden_cands.head(golden_limit)
    small, small_cost = timed_classify(cascade, golden_cands, cached_only)
    results: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "models": {"small": client.model_chain("prefilter")[0], "big": client.model_chain(BIG_ROLE)[0]},
        "ledger": ledger_and_audit(cascade, golden_cands, audit_sample),  # cached just above: a re-run
    }

    w1, w1_info = w1_signals(cascade, w1_unique, work)
    w1_cands = prefilter.candidates(w1, 0)  # every distinct content, as if each were a candidate
    w1_answers, w1_cost = timed_classify(cascade, with_neighbours(client, w1_cands, min(THRESHOLDS)), cached_only)
    results["w1"] = {
        **w1_info,
        "candidate_signals": int((w1["cheap_score"] >= thresholds.llm_min_score).sum()),
        "distinct_contents": len(w1_cands),
        "with_a_neighbour": len(w1_answers),
        "small_model": w1_cost,
    }
    results["semantic_w1"] = [semantic_replay(cascade, w1_cands, w1_answers, t) for t in THRESHOLDS]

    # The pipeline asks the model about a few golden postings only (cheap score >= llm_min_score):
    # the semantic cache is measured on every golden posting, as if each were asked.
    golden_all = prefilter.candidates(frame, 0)
    if golden_limit:
        golden_all = golden_all.head(golden_limit)
    every, every_cost = timed_classify(cascade, with_neighbours(client, golden_all, min(THRESHOLDS)), cached_only)
    results["golden"] = {
        "rows": len(frame),
        "candidates": len(golden_cands),
        "small_model": small_cost,
        "replayed_for_the_semantic_measure": len(golden_all),
        "with_a_neighbour": len(every),
        "small_model_all": every_cost,
    }
    results["semantic_golden"] = [semantic_replay(cascade, golden_all, every, t) for t in THRESHOLDS]
    at_default = [
        r for r in (*results["semantic_golden"], *results["semantic_w1"]) if r["threshold"] == DEFAULT_THRESHOLD
    ]
    hits = sum(r["judged_hits"] for r in at_default)
    false = sum(r["false_hits"] for r in at_default)
    # On only if the false-hit rate is shown to be at most the limit: the one-sided 95 % upper
    # bound (Clopper-Pearson) of the measured rate, not the rate of a handful of hits.
    upper = rate_upper_bound(false, hits)
    results["semantic_verdict"] = {
        "threshold": DEFAULT_THRESHOLD,
        "hits": hits,
        "false_hits": false,
        "false_hit_rate": round(false / hits, 4) if hits else None,
        "false_hit_rate_upper_95": round(upper, 4),
        "limit": FALSE_HIT_LIMIT,
        "default_on": upper <= FALSE_HIT_LIMIT,
    }

    policy = TierPolicy()
    tier_rows = golden_cands.head(tier_limit) if tier_limit else golden_cands
    tiered, tier_cost = timed_classify(cascade, tier_rows, cached_only, tiers=policy)
    big_calls = sum(
        1 for a in tiered.values() if isinstance(a, prefilter.Completion) and a.model == results["models"]["big"]
    )
    complex_rows = sum(policy.is_complex(str(t)[: PipelineSettings().max_text_chars]) for t in tier_rows["text"])
    without = prefilter.golden_figures(cascade, frame, small)
    with_tiers = prefilter.golden_figures(cascade, frame, {**small, **tiered})
    results["tiering"] = {
        "policy": vars(policy),
        "subset": len(tier_rows),
        "complex": complex_rows,
        "big_model_answers": big_calls,
        "calls_saved_vs_all_big": len(tier_rows) - big_calls,
        "calls_saved_share": round(1 - big_calls / len(tier_rows), 4) if len(tier_rows) else None,
        "cost": tier_cost,
        "golden_without": without,
        "golden_with": with_tiers,
        "f1_change": round(with_tiers["f1"] - without["f1"], 3),
    }
    results["load_average"] = os.getloadavg()
    return results


def summary(results: dict[str, Any]) -> str:
    lines = [f"models: {results['models']}; load average {results['load_average']}"]
    for name in ("semantic_golden", "semantic_w1"):
        for r in results[name]:
            lines.append(
                f"{name:16} cos>={r['threshold']:.2f}: {r['semantic_hits']}/{r['requests']} semantic hits "
                f"({r['hit_rate']}), {r['judged_hits']} judged, false {r['false_hits']} ({r['false_hit_rate']})"
            )
    v = results["semantic_verdict"]
    lines.append(
        f"semantic cache at {v['threshold']}: {v['false_hits']}/{v['hits']} false hits, 95 % upper bound "
        f"{v['false_hit_rate_upper_95']} (limit {v['limit']}) -> default on: {v['default_on']}"
    )
    led = results["ledger"]
    lines.append(
        f"golden candidates re-run ledger: {led['rerun']['tokens_in'] + led['rerun']['tokens_out']} engine tokens, "
        f"{led['rerun']['replayed_in'] + led['rerun']['replayed_out']} replayed (hosted cost saved "
        f"{led['rerun']['replayed_cost']}); audit: {led['audit']['changed']}/{led['audit']['audited']} changed"
    )
    t = results["tiering"]
    lines.append(
        f"tiering on {t['subset']} golden candidates ({t['complex']} complex): {t['big_model_answers']} big-model "
        f"answers, {t['calls_saved_vs_all_big']} big calls saved; F1 {t['golden_without']['f1']} -> "
        f"{t['golden_with']['f1']} ({t['cost']['wall_s']}s)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.semantic_tiering", description=__doc__)
    parser.add_argument("--golden-limit", type=int, default=0, help="golden candidates to classify (0 = all)")
    parser.add_argument("--w1-unique", type=int, default=20, help="unique W1 postings (default 20)")
    parser.add_argument("--tier-limit", type=int, default=12, help="golden candidates tiering classifies (0 = all)")
    parser.add_argument("--audit-sample", type=int, default=5, help="W1 cache hits the audit re-asks (default 5)")
    parser.add_argument("--cache", type=Path, help="LLM cache file to use (default: a temp file)")
    parser.add_argument(
        "--cached-only",
        action="store_true",
        help="no classification reaches the engine: only the answers --cache holds (the audit still re-asks)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="leadflow-semantic-") as tmp:
        results = run(
            args.cache or Path(tmp) / "llm_cache.sqlite",
            args.golden_limit,
            args.w1_unique,
            args.tier_limit,
            args.audit_sample,
            args.cached_only,
            Path(tmp),
        )
    path = save_results(results, args.out, "semantic_tiering")
    print(summary(results))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
