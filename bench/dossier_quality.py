"""`python -m bench.dossier_quality`: dossiers before and after extract-then-compose, on postings
the pipeline was not tuned on, with the same dossier model for both.

Postings: `../shared/data/jobs/emscad_250.jsonl` less every job id in the bundled samples and the
golden set, picked by the golden set's own rule (a marketing / advertising / PR hire, read from
the title and department only, never from outputs). Each is scored by the real cascade (head
fitted on the golden set, small model on candidates), then written both ways one dossier at a
time, alternating old and new so load from other processes falls on both alike:

- old: the `write_dossier` prompt (the dossier model writes everything from the raw posting),
  validated as the asset did (schema + `scoring.dossier_rules`);
- new: `leadflow.dossier.write_dossiers` (small model extracts, rules compose, and the two prose
  sentences come from the facts as `--prose` says: `composed` (rules only: the pipeline's
  default), `small` (the small model writes them) or `dossier` (the dossier model)).

Both are judged by `leadflow.dossier.grounding.check_dossier` against the same evidence (the
signal, its score and bucket, the company the signal names as the new path located it). Writes
`bench/results/dossier_quality_<UTC>.json` with every dossier, its time, tokens and defects.
"""

import argparse
import datetime
import json
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data import GOLDEN, SAMPLES, SHARED_DATA
from bench.machine import load_guard, machine_info
from bench.results_file import save_results
from leadflow.defs.resources import LLMResource, PipelineSettings
from leadflow.dossier.grounding import DEFECT_KINDS, check_dossier
from leadflow.dossier.lead import LeadInput
from leadflow.dossier.writer import DEFAULT_PROSE, PROSE_ROLES, write_dossiers
from leadflow.ingest.jobs_jsonl import parse_jobs_jsonl
from leadflow.ingest.records import Signal
from leadflow.llm.client import LLMClient
from leadflow.llm.metrics import CallRecord
from leadflow.llm.prompts import PromptTemplate
from leadflow.llm.types import ChatResponse, InvalidOutput, LLMError
from leadflow.llm.validation import validate_json
from leadflow.scoring import prefilter
from leadflow.scoring.dossier_rules import dossier_problems
from leadflow.scoring.embedding import embedding_columns
from leadflow.scoring.golden import load_golden
from leadflow.scoring.icp import icp_context, load_icp
from leadflow.scoring.rules import MARKETING_TITLE

DOSSIER_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
OLD_TEMPLATE = "write_dossier"
RESULTS = Path(__file__).resolve().parent / "results"
DAY = datetime.date(2026, 11, 20)
# The golden set's is_icp: "a marketing / advertising / PR hire". Titles say it; a marketing
# department says it unless the title is an engineering one.
EXTRA_TITLE = re.compile(r"\b(?:media|telemarket\w*|promot\w*|community|acquisition)\b", re.IGNORECASE)
ENGINEERING_TITLE = re.compile(r"\b(?:engineer|developer|programmer)\b", re.IGNORECASE)


def pick_postings(limit: int) -> list[Signal]:
    """Unseen, ICP-like postings, in file order."""
    seen = {json.loads(line)["job_id"] for path in (SAMPLES / "jobs_sample.jsonl", GOLDEN) for line in path.open()}
    source = SHARED_DATA / "jobs" / "emscad_250.jsonl"
    rows = [json.loads(line) for line in source.open() if line.strip()]
    picked = {
        row["job_id"]
        for row in rows
        if row["job_id"] not in seen
        and (
            MARKETING_TITLE.search(row["title"])
            or EXTRA_TITLE.search(row["title"])
            or (MARKETING_TITLE.search(row.get("department") or "") and not ENGINEERING_TITLE.search(row["title"]))
        )
    }
    signals = [s for s in parse_jobs_jsonl(source, source="jobs", import_date=DAY) if isinstance(s, Signal)]
    return [s for s in signals if s.external_id in picked][:limit]


def score(client: LLMClient, signals: list[Signal], max_chars: int) -> dict[str, dict[str, Any]]:
    """The real cascade's prefilter_scores rows for `signals`."""
    pipeline = PipelineSettings()
    profiles = load_icp(pipeline.icp_file())
    cascade = prefilter.fit_cascade(
        client, load_golden(pipeline.golden_file()), profiles, pipeline.thresholds(), max_chars
    )
    frame = pd.DataFrame(
        {
            "partition_date": [DAY] * len(signals),
            "signal_id": [s.signal_id for s in signals],
            "kind": [s.kind for s in signals],
            "title": [s.title for s in signals],
            "text": [s.text for s in signals],
            "content_hash": [s.content_hash for s in signals],
        }
    )
    frame = frame.assign(**embedding_columns(client, profiles, frame))
    # Postings only: no email analysis, so every row gets the reasons of its cheap score.
    scored = prefilter.with_email_leads(cascade.scorer, prefilter.with_cheap_scores(cascade.scorer, frame), {})
    answers = prefilter.classify(cascade, prefilter.candidates(scored, pipeline.llm_min_score))
    rows = prefilter.score_rows(cascade.scorer, scored, answers, "classify_signal", "bench")
    return {row["signal_id"]: row for row in rows}


def _tokens(records: list[CallRecord]) -> dict[str, int]:
    return {
        "llm_calls": sum(r.engine_calls for r in records),
        "tokens_in": sum(r.prompt_tokens for r in records),
        "tokens_in_cached": sum(r.cached_prompt_tokens for r in records),
        "tokens_out": sum(r.completion_tokens for r in records),
    }


def old_dossier(client: LLMClient, lead: LeadInput, ctx: str, max_chars: int) -> dict[str, Any]:
    """Today's path: the dossier model writes the whole dossier from the raw posting."""
    text = lead.text[:max_chars]

    def validate(template: PromptTemplate, response: ChatResponse) -> dict[str, Any]:
        value = validate_json(template, response)
        problems = dossier_problems(value, text)
        if problems:
            raise InvalidOutput("; ".join(problems), response.text)
        return value

    verdict = {
        "score": lead.final_score,
        "bucket": lead.bucket,
        "role_function": lead.role_function,
        "seniority": lead.seniority,
        "hiring": lead.hiring,
        "reasons": list(lead.reasons),
    }
    variables = {
        "icp_context": ctx,
        "signal_kind": lead.kind,
        "signal_title": lead.title,
        "signal_text": text,
        "prefilter_json": json.dumps(verdict),
    }
    before = len(client.metrics.lifetime.records)
    started = time.perf_counter()
    try:
        value: dict[str, Any] | None = client.complete_json(
            "dossier", OLD_TEMPLATE, variables, validator=validate
        ).value
        error = None
    except LLMError as exc:
        value, error = None, str(exc)
    wall = time.perf_counter() - started
    records = client.metrics.lifetime.records[before:]  # failed attempts included
    return {"wall_s": round(wall, 2), **_tokens(records), "value": value, "error": error}


def new_dossier(client: LLMClient, lead: LeadInput, profiles: list, max_chars: int, prose: str) -> dict[str, Any]:
    before = len(client.metrics.lifetime.records)
    started = time.perf_counter()
    [result] = write_dossiers(client, [lead], profiles, max_chars, prose)
    wall = time.perf_counter() - started
    records = client.metrics.lifetime.records[before:]
    by_template: dict[str, float] = {}
    for r in records:
        by_template[r.template] = round(by_template.get(r.template, 0.0) + r.latency_s, 2)
    return {
        "evidence": result.evidence,
        "wall_s": round(wall, 2),
        "latency_s_by_template": by_template,
        **_tokens(records),
        "value": result.value,
        "draft_defects": [{"kind": d.kind, "section": d.section, "detail": d.detail} for d in result.draft_defects],
        "repaired": result.repaired,
        "fallback": result.fallback,
        "facts_kept": result.facts_kept,
        "facts_located": dict(result.located),
        "facts_dropped": dict(result.facts_dropped),
    }


def _summary(rows: list[dict[str, Any]], path: str) -> dict[str, Any]:
    runs = [row[path] for row in rows]
    walls = [r["wall_s"] for r in runs]
    defects = Counter(d["kind"] for r in runs for d in r["defects"])
    out: dict[str, Any] = {
        "dossiers": len(runs),
        "written": sum(1 for r in runs if r["value"] is not None),
        "wall_s_mean": round(statistics.mean(walls), 2),
        "wall_s_median": round(statistics.median(walls), 2),
        "wall_s_max": round(max(walls), 2),
        "tokens_in_mean": round(statistics.mean(r["tokens_in"] for r in runs), 1),
        "tokens_in_uncached_mean": round(statistics.mean(r["tokens_in"] - r["tokens_in_cached"] for r in runs), 1),
        "tokens_out_mean": round(statistics.mean(r["tokens_out"] for r in runs), 1),
        "llm_calls": sum(r["llm_calls"] for r in runs),
        "defect_free_rate": round(sum(1 for r in runs if r["value"] is not None and not r["defects"]) / len(runs), 3),
        "dossiers_with_defect": {
            kind: sum(1 for r in runs if any(d["kind"] == kind for d in r["defects"])) for kind in DEFECT_KINDS
        },
        "defects": dict(defects),
    }
    if path == "new":
        out["fallbacks"] = sum(1 for r in runs if r["fallback"])
        out["repaired"] = sum(1 for r in runs if r["repaired"])
        out["draft_defects"] = dict(Counter(d["kind"] for r in runs for d in r["draft_defects"]))
        located = sum((Counter(r["facts_located"]) for r in runs), Counter())
        dropped = sum((Counter(r["facts_dropped"]) for r in runs), Counter())
        out["facts_located"], out["facts_dropped"] = dict(located), dict(dropped)
        templates = sorted({t for r in runs for t in r["latency_s_by_template"]})
        out["latency_s_mean_by_template"] = {
            t: round(statistics.mean(r["latency_s_by_template"].get(t, 0.0) for r in runs), 2) for t in templates
        }
        answers = sum(located.values()) + sum(dropped.values())
        out["facts_drop_rate"] = round(sum(dropped.values()) / answers, 3) if answers else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dossier_quality", description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=12, help="postings to write dossiers for (default 12)")
    parser.add_argument(
        "--prose", choices=sorted(PROSE_ROLES), default=DEFAULT_PROSE, help="who writes the new path's prose"
    )
    parser.add_argument("--refuse-busy", action="store_true", help="exit 3 when others keep the machine busy")
    args = parser.parse_args(argv)
    with load_guard(args.refuse_busy) as load:
        report = run(args.limit, args.prose)
    report["load"] = load
    out = save_results(report, RESULTS, "dossier_quality")
    for path in ("old", "new"):
        s = report[path]
        print(
            f"{path}: {s['written']}/{s['dossiers']} written, {s['wall_s_mean']} s mean ({s['wall_s_median']} median), "
            f"tokens in/out {s['tokens_in_mean']}/{s['tokens_out_mean']}, defect-free {s['defect_free_rate']:.0%}, "
            f"defects {s['defects']}"
        )
    print(f"time new/old: {report['time_ratio_new_over_old']}; written to {out}")
    return 0


def run(limit: int, prose: str) -> dict[str, Any]:
    """Both dossier paths on `limit` unseen postings, alternating, judged alike."""
    signals = pick_postings(limit)
    pipeline = PipelineSettings()
    max_chars = pipeline.max_text_chars
    profiles = load_icp(pipeline.icp_file())
    ctx = icp_context(profiles)
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="leadflow-dossier-bench-") as work:
        # A fresh cache: every dossier of both paths is written by the engine.
        client = LLMResource.from_env(
            cache_path=str(Path(work) / "llm_cache.sqlite"), dossier_model=DOSSIER_MODEL
        ).client()
        client.ensure_ready()
        scores = score(client, signals, max_chars)
        rows: list[dict[str, Any]] = []
        for signal in signals:
            s = scores[signal.signal_id]
            lead = LeadInput(
                signal_id=signal.signal_id,
                kind=signal.kind,
                title=signal.title,
                text=signal.text,
                final_score=float(s["final_score"]),
                bucket=str(s["bucket"]),
                role_function=s["role_function"],
                seniority=s["seniority"],
                hiring=s["hiring"],
                reasons=tuple(json.loads(s["reasons"] or "[]")),
            )
            old = old_dossier(client, lead, ctx, max_chars)
            new = new_dossier(client, lead, profiles, max_chars, prose)
            print(f"{signal.external_id} {signal.title!r}: old {old['wall_s']} s, new {new['wall_s']} s", flush=True)
            checked = new.pop("evidence")
            row: dict[str, Any] = {
                "job_id": signal.external_id,
                "title": signal.title,
                "score": lead.final_score,
                "bucket": lead.bucket,
            }
            rows.append({**row, "evidence": checked, "old": old, "new": new})
        models = sorted({r.model for r in client.metrics.lifetime.records})
    # One evidence for both paths: the signal, its verdict and the company the new path located.
    for row in rows:
        checked = row.pop("evidence")
        row["company"] = checked.company
        for path in ("old", "new"):
            value = row[path]["value"]
            found = check_dossier(value, checked) if value is not None else []
            row[path]["defects"] = [{"kind": d.kind, "section": d.section, "detail": d.detail} for d in found]
    report: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {**machine, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "dossier_model": DOSSIER_MODEL,
        "prose": prose,
        "models": models,
        "postings": [row["job_id"] for row in rows],
        "method": __doc__,
        "old": _summary(rows, "old"),
        "new": _summary(rows, "new"),
        "dossiers": rows,
    }
    old_s, new_s = report["old"], report["new"]
    report["time_ratio_new_over_old"] = round(new_s["wall_s_mean"] / old_s["wall_s_mean"], 3)
    return report


if __name__ == "__main__":
    raise SystemExit(main())
