"""`python -m bench.email_quality`: held-out figures of the email typing on the labelled golden set.

Every type head is evaluated by nested cross-validation (`leadflow.analysis.evaluation`): the
outer folds are never seen by the head's fit, whose feature set, C, calibration and threshold
are chosen by an inner CV on the training folds only. Rule-decided types (buying intent, spam)
have no labels: their fire rate is reported. `--throughput N` also times the whole analysis
(embeddings, typing, rules, the small model on candidates) on N golden emails, end to end.

Writes bench/results/email_quality_<UTC>.json and prints a summary. Reads the models from
`.leadflow/models` (or $LEADFLOW_MODEL_DIR); the LLM cache is a temp file unless `--cache`.
Never prints email text.
"""

import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.machine import load_guard
from bench.results_file import save_results
from leadflow.analysis.analyze import analyze_mails
from leadflow.analysis.classifier import fit_typer
from leadflow.analysis.evaluation import heldout_report
from leadflow.analysis.features import FeatureSpace, email_vectors
from leadflow.analysis.golden import EmailGolden, load_email_golden
from leadflow.analysis.rules import RULE_DECISION, rule_probability
from leadflow.analysis.taxonomy import RULE_TYPES, SPAM, TRAINED_TYPES
from leadflow.defs.resources import LLMResource
from leadflow.llm.client import LLMClient
from leadflow.scoring.cascade import Thresholds

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGETS = {"employment": {"f1": 0.6, "auc": 0.9}}
THROUGHPUT_TARGET_PER_MIN = 30.0
SAMPLE_SEED = 7


def rule_rates(golden: EmailGolden) -> dict[str, Any]:
    out = {}
    for t in RULE_TYPES:
        fired = np.array([rule_probability(t, m) >= RULE_DECISION for m in golden.mails])
        out[t.key] = {"fired": int(fired.sum()), "rate": round(float(fired.mean()), 4), "labels": "none (rule-decided)"}
    return out


def throughput(client: LLMClient, golden: EmailGolden, n: int) -> dict[str, Any]:
    """The whole analysis of `n` golden emails, timed end to end once the typer is fitted and the
    models are loaded (as a pipeline run's warm-up does)."""
    typer = fit_typer(client, golden)
    client.ensure_ready()
    rng = np.random.default_rng(SAMPLE_SEED)
    picked = sorted(rng.choice(len(golden.mails), size=min(n, len(golden.mails)), replace=False).tolist())
    mails = [golden.mails[i] for i in picked]
    with client.metrics.track() as recorder:
        started = time.perf_counter()
        analyses = analyze_mails(client, typer, mails)
        wall = time.perf_counter() - started
    ungrounded = sum(
        m.text[e.start : e.end] != e.text for m, a in zip(mails, analyses, strict=True) for e in a.entities
    )
    spam_priorities = [a.priority for a in analyses if a.type_scores[SPAM.key] >= RULE_DECISION]
    return {
        "emails": len(mails),
        "wall_s": round(wall, 1),
        "emails_per_min": round(60 * len(mails) / wall, 1),
        "target_per_min": THROUGHPUT_TARGET_PER_MIN,
        "candidates": sum(a.llm is not None for a in analyses),
        "llm_failures": sum(isinstance(a.llm, Exception) for a in analyses),
        "entities": sum(len(a.entities) for a in analyses),
        "entities_ungrounded": ungrounded,
        "model_items_dropped": sum(a.dropped_entities for a in analyses),
        "spam_max_priority": max(spam_priorities, default=None),
        "nurture_from": Thresholds().nurture,
        "llm": recorder.summary(),
    }


def run(repeats: int, n_throughput: int, cache: Path) -> dict[str, Any]:
    client = LLMResource.from_env(cache_path=str(cache)).client()
    started = time.perf_counter()
    golden = load_email_golden()
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    space = FeatureSpace.build(client)
    features = space.matrix(golden.mails, email_vectors(client, golden.mails))
    features_s = time.perf_counter() - started
    started = time.perf_counter()
    heldout = heldout_report(features, golden, space, repeats=repeats)
    nested_s = time.perf_counter() - started
    started = time.perf_counter()
    typer = fit_typer(client, golden)  # embeddings are cache hits now: this is the per-process fit
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    typer.type_scores(golden.mails, email_vectors(client, golden.mails))
    typing_ms = 1000 * (time.perf_counter() - started) / len(golden.mails)
    results: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "method": (
            "nested CV: outer stratified 5-fold per type, repeated with different splits; inside each "
            "training part an inner stratified 5-fold chooses the feature set and C (out-of-fold average "
            "precision), the Platt calibration and the F1-best threshold. Figures pool the outer folds."
        ),
        "golden": {
            "labelled": golden.labelled,
            "signals": len(golden.mails),
            "quarantined_by_parser": golden.quarantined,
            "positives": {t.key: int(golden.labels(t.key).sum()) for t in TRAINED_TYPES},
        },
        "embedding_model": client.model_chain("embed")[0],
        "feature_dims": int(features.shape[1]),
        "heldout": heldout,
        "rule_types": rule_rates(golden),
        "timing": {
            "parse_s": round(parse_s, 1),
            "features_s": round(features_s, 1),
            "nested_cv_s": round(nested_s, 1),
            "typer_fit_s": round(fit_s, 1),
            "typing_ms_per_email": round(typing_ms, 2),
        },
        "targets": {
            key: {
                m: {"target": v, "measured": heldout[key]["mean"][m], "met": heldout[key]["mean"][m] >= v}
                for m, v in goals.items()
            }
            for key, goals in TARGETS.items()
        },
        "load_average": os.getloadavg(),
    }
    if n_throughput:
        results["throughput"] = throughput(client, golden, n_throughput)
    return results


def summary(results: dict[str, Any]) -> str:
    g = results["golden"]
    lines = [
        f"golden: {g['signals']} of {g['labelled']} labelled emails parsed (quarantined: {g['quarantined_by_parser']})",
        f"{'type':18} {'pos':>4} {'precision':>9} {'recall':>7} {'F1':>6} {'AUC':>6} {'AP':>6}  (mean of repeats; min F1)",
    ]
    for key, r in results["heldout"].items():
        m = r["mean"]
        lines.append(
            f"{key:18} {r['positives']:>4} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} "
            f"{m['auc']:>6.3f} {m['average_precision']:>6.3f}  ({r['min']['f1']:.3f})"
        )
    for key, r in results["rule_types"].items():
        lines.append(f"{key:18} rule-decided, no labels: fires on {r['fired']} ({r['rate']:.1%})")
    for key, goals in results["targets"].items():
        for metric, goal in goals.items():
            verdict = "met" if goal["met"] else "NOT met"
            lines.append(f"target {key} {metric} >= {goal['target']}: {goal['measured']:.3f} ({verdict})")
    lines.append(f"timing: {results['timing']}; load average {results['load_average']}")
    if "throughput" in results:
        t = results["throughput"]
        lines.append(
            f"throughput: {t['emails_per_min']} emails/min on {t['emails']} emails ({t['candidates']} to the small "
            f"model), target {t['target_per_min']}; ungrounded entities {t['entities_ungrounded']}, model items "
            f"dropped {t['model_items_dropped']}, spam max priority {t['spam_max_priority']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.email_quality", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="outer CV repeats with different splits (default 3)")
    parser.add_argument("--throughput", type=int, default=0, metavar="N", help="also time the analysis of N emails")
    parser.add_argument("--cache", type=Path, help="LLM cache file to use (default: a temp file)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--refuse-busy", action="store_true", help="exit 3 when others keep the machine busy")
    args = parser.parse_args(argv)
    with load_guard(args.refuse_busy) as load, tempfile.TemporaryDirectory(prefix="leadflow-email-quality-") as tmp:
        results = run(args.repeats, args.throughput, args.cache or Path(tmp) / "llm_cache.sqlite")
    results["load"] = load
    path = save_results(results, args.out, "email_quality")
    print(summary(results))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
