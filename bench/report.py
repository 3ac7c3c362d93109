"""Figures, targets and the markdown summary, all computed from one run's results; and the
README's benchmark block, rendered from the latest default run (`python -m bench.report --readme`).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SPEEDUP_GOAL = 60.0  # x the naive pipeline's signals/min on the W1 mix
MISS_PATH_GOAL = 0.95  # raw engine floor / leadflow LLM-stage time
CACHE_HIT_GOAL_US = 20.0  # full complete_json path, mean
TARGETS = {
    "speedup_w1": f">= {SPEEDUP_GOAL:g}x naive signals/min on the W1 mix",
    "miss_path": f">= {MISS_PATH_GOAL:.0%} of the raw engine on the miss path",
    "cache_hit": f"<= {CACHE_HIT_GOAL_US:g} us per cache hit",
    "remat_calls": "0 LLM calls on re-materialization",
    "overhead": "<= 50 ms orchestration overhead per backfilled partition",
    "rss": "peak RSS independent of archive size",
}
RSS_TOLERANCE = 0.05  # "independent": the kx peak within 5 % (or 8 MiB) of the 1x peak


def _get(d, *path, default=None):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def _r(x, n=2):
    return None if x is None else round(float(x), n)


def _valid(r: dict, key: str) -> dict:
    """A run's results, or {} when its pipeline work did not complete (its figures would lie)."""
    run = r.get(key) or {}
    return run if run.get("core_ok") else {}


def figures(r: dict) -> tuple[dict, list[dict]]:
    f: dict = {}
    invalid = [k for k in ("warmup", "w1", "w3_w1", "w2", "w3_w2") if r.get(k) and not r[k].get("core_ok")]
    if invalid:
        f["invalid_runs"] = {k: r[k].get("failures") for k in invalid}
    w1, naive, raw = _valid(r, "w1"), r.get("naive") or {}, r.get("raw_engine") or {}
    n_w1 = _get(r, "workloads", "W1", "signals")
    if w1.get("wall_s"):
        f["w1_leadflow_signals_per_min"] = _r(n_w1 / w1["wall_s"] * 60, 1)
        warm = _get(r, "warmup", "wall_s", default=0.0)
        f["w1_leadflow_signals_per_min_incl_warmup"] = _r(n_w1 / (w1["wall_s"] + warm) * 60, 1)
    if naive.get("signals_per_min"):
        f["naive_signals_per_min"] = _r(naive["signals_per_min"], 3)
        f["naive_seconds_per_signal"] = naive["seconds_per_signal"]
        f["naive_sample_signals"] = naive["sample_signals"]
        if "w1_leadflow_signals_per_min" in f:
            f["ratio_leadflow_over_naive"] = _r(f["w1_leadflow_signals_per_min"] / naive["signals_per_min"], 1)
            f["ratio_incl_warmup"] = _r(f["w1_leadflow_signals_per_min_incl_warmup"] / naive["signals_per_min"], 1)
            if naive.get("classify_only_seconds_per_signal"):
                f["ratio_vs_naive_classify_only"] = _r(
                    f["w1_leadflow_signals_per_min"] * naive["classify_only_seconds_per_signal"] / 60, 1
                )
    source = raw.get("source_phase", "w1")
    stage = _get(_valid(r, source), "stages", "llm_stage_s")
    f["miss_path_workload"] = source
    if raw.get("floor_s") is not None and stage:
        f["raw_engine_floor_s"] = raw["floor_s"]
        f["leadflow_llm_stage_s"] = stage
        f["miss_path_efficiency"] = _r(raw["floor_s"] / stage, 3)
        f["raw_best_concurrency"] = {m: v["best_concurrency"] for m, v in raw.get("models", {}).items()}
        f["miss_path_breakdown"] = _miss_path_breakdown(_valid(r, source), raw, stage)
    f["leadflow_concurrency"] = r.get("concurrency")
    cc = r.get("cache_cost") or {}
    f["cache_hit_us_full_client_path"] = _get(cc, "complete_json_hit", "mean_us")
    f["cache_hit_us_full_client_path_p95"] = _get(cc, "complete_json_hit", "p95_us")
    f["cache_hit_us_memory_tier"] = _get(cc, "tiered_get_memory_hit", "mean_us")
    f["cache_hit_us_sqlite_tier"] = _get(cc, "tiered_get_sqlite_hit", "mean_us")
    f["cache_hit_us_embedding_per_text"] = _get(cc, "embed_many_hit_per_text", "mean_us")
    f["cache_hit_parts_us"] = cc.get("complete_json_parts")
    written = w1.get("written") or {}
    unique, dossier_unique = written.get("unique_content"), written.get("dossier_unique")
    if isinstance(unique, int) and isinstance(dossier_unique, int) and unique:
        f["cascade_big_model_avoided_share"] = _r(1 - dossier_unique / unique, 3)
        f["cascade_detail"] = f"{dossier_unique} of {unique} unique W1 signals reached the big model"
    big = _get(r, "naive", "model")
    lf_big = _get(w1, "engine", "chat", big, "requests", default=0) if big else None
    if big and naive.get("big_model_calls_per_signal") and n_w1:
        naive_big = naive["big_model_calls_per_signal"] * n_w1
        f["big_model_calls_leadflow"] = lf_big
        f["big_model_calls_naive_extrapolated"] = _r(naive_big, 1)
        f["big_model_calls_avoided_vs_naive"] = _r(1 - lf_big / naive_big, 4)
    remat_runs = [k for k in ("w3_w1", "w3_w2") if _valid(r, k)]
    if remat_runs and not any(r.get(k) and k not in remat_runs for k in ("w3_w1", "w3_w2")):
        f["remat_llm_calls"] = int(sum(r[k]["llm"]["llm_calls"] for k in remat_runs))
        f["remat_llm_calls_by_run"] = {k: r[k]["llm"]["llm_calls"] for k in remat_runs}
        f["remat_cache_hits_by_tier"] = {k: r[k]["llm"]["cache_hits_by_tier"] for k in remat_runs}
    f["overhead_ms_per_partition"] = _get(r, "overhead", "per_partition_ms")
    f["overhead_ms_per_partition_in_memory_instance"] = _get(r, "overhead", "in_memory", "per_partition_ms")
    f["overhead_event_log_entries_per_partition"] = _get(r, "overhead", "sqlite", "per_partition_event_log_entries")
    prof = _get(r, "overhead", "profile", "by_package") or {}
    f["overhead_profile_shares"] = {k: v["share"] for k, v in list(prof.items())[:6]}
    f["w2_wall_ms_per_partition"] = _get(r, "overhead", "w2_wall_per_partition_ms")
    f["peak_rss_mib"] = r.get("peak_rss_mib")
    f.update(_rss_figures(r.get("rss")))
    f["tokens_per_s"] = {
        model: {"decode": v["decode_tok_s"], "prefill": v["prefill_tok_s"]}
        for model, v in (_get(w1, "engine", "chat") or {}).items()
    }
    f["latency"] = latency_table(r)
    f["others_busy_cores_mean"] = _others_busy(r)
    return f, _targets(f)


def _miss_path_breakdown(run: dict, raw: dict, stage_s: float) -> dict:
    """Where leadflow's LLM-stage time differs from the raw floor: engine idle inside the stages
    (client work between requests: building, validation, hand-offs, calibration drains), and the
    engine's own extra time (more requests, prefill not reused, another concurrency)."""
    engine = _get(run, "engine", "chat") or {}
    busy = sum(e["busy_wall_s"] for e in engine.values())
    out: dict = {
        "llm_stage_s": stage_s,
        "engine_busy_s": round(busy, 3),
        "engine_idle_in_stages_s": round(stage_s - busy, 3),
        "engine_extra_over_raw_s": round(busy - raw["floor_s"], 3),
        "models": {},
    }
    for model, e in engine.items():
        best = _get(raw, "models", model, "best_concurrency")
        point: dict = next(
            (p for p in _get(raw, "models", model, "points", default=[]) if p["concurrency"] == best), {}
        )
        out["models"][model] = {
            "requests": [e["requests"], point.get("requests")],
            "busy_s": [e["busy_wall_s"], point.get("wall_s")],
            "prefill_s": [e["prefill_s"], point.get("prefill_s")],
            "decode_s": [e["decode_s"], point.get("decode_s")],
            "prompt_tokens_computed": [e["prompt_tokens"], point.get("prompt_tokens")],
            "prompt_tokens_reused": [e["cached_prompt_tokens"], point.get("cached_prompt_tokens")],
        }
    out["pairs"] = "[leadflow, raw engine at its best concurrency]"
    return out


def _rss_figures(rss: dict | None) -> dict:
    if not rss or not rss.get("points"):
        return {}
    out: dict = {}
    pts = [p for p in rss["points"] if "peak_rss_kb" in p.get("ingest", {}) and "peak_rss_kb" in p.get("parse", {})]
    if len(pts) < 2:
        return {
            "rss_error": [p.get("ingest", {}).get("error") or p.get("parse", {}).get("error") for p in rss["points"]]
        }
    lo, hi = pts[0], pts[-1]
    d_archive = hi["archive_mib"] - lo["archive_mib"]
    for mode in ("ingest", "parse"):
        a, b = lo[mode]["peak_rss_kb"] / 1024, hi[mode]["peak_rss_kb"] / 1024
        out[f"rss_{mode}_peak_mib"] = {
            f"{p['copies']}x ({p['archive_mib']} MiB)": round(p[mode]["peak_rss_kb"] / 1024, 1) for p in pts
        }
        out[f"rss_{mode}_growth_mib"] = round(b - a, 1)
        out[f"rss_{mode}_mib_per_archive_mib"] = round((b - a) / d_archive, 3) if d_archive else None
        out[f"rss_{mode}_independent"] = (b - a) <= max(RSS_TOLERANCE * a, 8.0)
    return out


def latency_table(r: dict) -> list[dict]:
    rows = []
    w1 = _valid(r, "w1")
    for run in ("w1", "w2"):
        for role, s in (_valid(r, run).get("llm_by_role") or {}).items():
            if s.get("latency_p50_s") is not None:
                rows.append(
                    {
                        "stage": f"{run.upper()} {role} (engine miss{' batch' if role == 'embed' else ''})",
                        "n": s["requests"] - s["cache_hits"] - s["coalesced"],
                        "p50_s": s["latency_p50_s"],
                        "p95_s": s["latency_p95_s"],
                    }
                )
    for tier, s in (w1.get("hit_latency_us") or {}).items():
        rows.append({"stage": f"W1 cache hit ({tier})", "n": s["n"], "p50_s": s["p50"] / 1e6, "p95_s": s["p95"] / 1e6})
    for tier, s in (_get(_valid(r, "w3_w1"), "hit_latency_us") or {}).items():
        rows.append({"stage": f"W3 cache hit ({tier})", "n": s["n"], "p50_s": s["p50"] / 1e6, "p95_s": s["p95"] / 1e6})
    naive = (r.get("naive") or {}).get("rows") or []
    for part in ("classify_s", "dossier_s", "total_s"):
        values = [row[part] for row in naive]
        if values:
            rows.append(
                {
                    "stage": f"naive {part[:-2]} (big model)",
                    "n": len(values),
                    "p50_s": round(float(np.percentile(values, 50)), 3),
                    "p95_s": round(float(np.percentile(values, 95)), 3),
                }
            )
    return rows


def _others_busy(r: dict) -> float | None:
    walls, busy = 0.0, 0.0
    for key in ("warmup", "w1", "w3_w1", "w2", "w3_w2"):
        cpu = _get(r, key, "cpu")
        if cpu:
            walls += cpu["wall_s"]
            busy += cpu["others_busy_cores"] * cpu["wall_s"]
    cpu = _get(r, "naive", "cpu")
    if cpu:
        walls += cpu["wall_s"]
        busy += cpu["others_busy_cores"] * cpu["wall_s"]
    return round(busy / walls, 2) if walls else None


def _met(value, ok) -> str:
    if value is None:
        return "n/a"
    return "met" if ok else "NOT met"


def _targets(f: dict) -> list[dict]:
    t = []
    ratio = f.get("ratio_leadflow_over_naive")
    t.append(
        {
            "id": "speedup_w1",
            "goal": TARGETS["speedup_w1"],
            "measured": None if ratio is None else f"{ratio}x",
            "status": _met(ratio, ratio is not None and ratio >= SPEEDUP_GOAL),
        }
    )
    eff = f.get("miss_path_efficiency")
    t.append(
        {
            "id": "miss_path",
            "goal": TARGETS["miss_path"],
            "measured": None if eff is None else f"{eff:.0%}",
            "status": _met(eff, eff is not None and eff >= MISS_PATH_GOAL),
        }
    )
    us = f.get("cache_hit_us_full_client_path")
    p95 = f.get("cache_hit_us_full_client_path_p95") or 0.0
    mem = f.get("cache_hit_us_memory_tier")
    t.append(
        {
            "id": "cache_hit",
            "goal": TARGETS["cache_hit"],
            "measured": None
            if us is None
            else f"{us:.1f} us mean, {p95:.1f} us p95, full client path (memory-tier lookup alone {mem} us)",
            "status": _met(us, us is not None and us <= CACHE_HIT_GOAL_US),
        }
    )
    calls = f.get("remat_llm_calls")
    why = (
        " (answers rejected by validation are never cached, so they are asked again; see 'What went wrong')"
        if calls
        else ""
    )
    t.append(
        {
            "id": "remat_calls",
            "goal": TARGETS["remat_calls"],
            "measured": None if calls is None else f"{calls}{why}",
            "status": _met(calls, calls == 0),
        }
    )
    ms = f.get("overhead_ms_per_partition")
    t.append(
        {
            "id": "overhead",
            "goal": TARGETS["overhead"],
            "measured": None if ms is None else f"{ms:.1f} ms",
            "status": _met(ms, ms is not None and ms <= 50),
        }
    )
    ind = f.get("rss_ingest_independent")
    growth = f.get("rss_ingest_growth_mib")
    t.append(
        {
            "id": "rss",
            "goal": TARGETS["rss"],
            "measured": None
            if ind is None
            else (
                f"ingest peak +{growth} MiB from 1x to {list(f['rss_ingest_peak_mib'])[-1]} "
                f"({f['rss_ingest_mib_per_archive_mib']} MiB per archive MiB); parser alone "
                f"+{f.get('rss_parse_growth_mib')} MiB"
            ),
            "status": _met(ind, bool(ind)),
        }
    )
    return t


# ---------------------------------------------------------------------------------------------


def _fmt(x, unit="", nd=2):
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.{nd}f}{unit}"
    return f"{x}{unit}"


def render_markdown(r: dict, json_name: str) -> str:
    f, m = r["figures"], r["machine"]
    w1, w2 = r["workloads"]["W1"], r["workloads"]["W2"]
    lines = [
        f"# leadflow benchmark {r['started_utc']}",
        "",
        *(
            ["**Quick smoke run**: sizes are too small for the figures to mean much.", ""]
            if r["config"]["quick"]
            else []
        ),
        *(
            [f"**The benchmark stopped early**: `{r['error'].strip().splitlines()[-1]}` (traceback in the JSON).", ""]
            if r.get("error")
            else []
        ),
        *(
            [f"**Runs whose pipeline work failed (their figures are n/a)**: {f['invalid_runs']}", ""]
            if f.get("invalid_runs")
            else []
        ),
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['gpu']}; Python {m['python']}, "
        f"xllamacpp {m['xllamacpp']}, dagster {m['dagster']}, duckdb {m['duckdb']}. "
        f"Load average at start {m['loadavg_at_start']}, at end {m.get('loadavg_at_end')}; other processes kept "
        f"{_fmt(f.get('others_busy_cores_mean'))} cores busy on average during the timed runs "
        "(absolute times are only comparable on an idle machine; ratios are within this run).",
        "",
        f"Command: `{r['command']}` (scale {r['config']['scale']}{', quick' if r['config']['quick'] else ''}); "
        f"data: `{r['data']['origin']}`; total {r['total']['wall_s']:.0f} s; full results `{json_name}`.",
        "",
        "## Targets",
        "",
        "| target | measured | status |",
        "|---|---|---|",
    ]
    for t in r["targets"]:
        lines.append(f"| {t['goal']} | {_fmt(t['measured'])} | {t['status']} |")
    naive = r.get("naive") or {}
    lines += [
        "",
        "## Figures",
        "",
        "| figure | value |",
        "|---|---|",
        f"| W1 leadflow signals/min (steady state: models loaded, golden set cached) | {_fmt(f.get('w1_leadflow_signals_per_min'), nd=1)} |",
        f"| W1 leadflow signals/min incl. the first-run warm-up (golden set) | {_fmt(f.get('w1_leadflow_signals_per_min_incl_warmup'), nd=1)} |",
        f"| naive signals/min (big model classify + dossier, {f.get('naive_sample_signals')} signal(s) measured, extrapolated) | {_fmt(f.get('naive_signals_per_min'), nd=3)} |",
        f"| ratio leadflow / naive (W1) | {_fmt(f.get('ratio_leadflow_over_naive'), 'x', 1)} |",
        f"| ratio incl. warm-up | {_fmt(f.get('ratio_incl_warmup'), 'x', 1)} |",
        f"| ratio vs a naive that only classifies with the big model (no dossiers) | {_fmt(f.get('ratio_vs_naive_classify_only'), 'x', 1)} |",
        f"| miss path ({f.get('miss_path_workload')} prompts): raw engine floor / leadflow LLM-stage time | {_fmt(f.get('raw_engine_floor_s'), ' s', 1)} / {_fmt(f.get('leadflow_llm_stage_s'), ' s', 1)} = {_fmt(f.get('miss_path_efficiency'), '', 3)} (raw best concurrency {f.get('raw_best_concurrency')}) |",
        f"| ... the gap: engine idle inside the stages vs the engine's own extra time; per model [leadflow, raw] | {f.get('miss_path_breakdown')} |",
        f"| concurrency leadflow chose per (endpoint, model), and why | {f.get('leadflow_concurrency')} |",
        f"| cost per cache hit: full `complete_json` path mean / p95 | {_fmt(f.get('cache_hit_us_full_client_path'), ' us', 1)} / {_fmt(f.get('cache_hit_us_full_client_path_p95'), ' us', 1)} |",
        f"| ... where the full path's time goes (us) | {f.get('cache_hit_parts_us')} |",
        f"| cost per cache hit: memory tier / SQLite tier lookup / embedding per text | {_fmt(f.get('cache_hit_us_memory_tier'), ' us', 1)} / {_fmt(f.get('cache_hit_us_sqlite_tier'), ' us', 1)} / {_fmt(f.get('cache_hit_us_embedding_per_text'), ' us', 1)} |",
        f"| big-model calls avoided by the cascade (unique W1 signals) | {_fmt(f.get('cascade_big_model_avoided_share'), '', 3)} ({f.get('cascade_detail', 'n/a')}) |",
        f"| big-model calls, leadflow vs naive on all W1 signals | {_fmt(f.get('big_model_calls_leadflow'))} vs {_fmt(f.get('big_model_calls_naive_extrapolated'))} (avoided {_fmt(f.get('big_model_calls_avoided_vs_naive'), '', 4)}) |",
        f"| LLM calls on re-materialization (W1 day, W2 range) | {_fmt(f.get('remat_llm_calls'))} {f.get('remat_llm_calls_by_run', '')}; hits by tier {f.get('remat_cache_hits_by_tier', '')} |",
        f"| orchestration overhead per backfilled partition (SQLite Dagster instance, as deployed) | {_fmt(f.get('overhead_ms_per_partition'), ' ms', 1)} ({_fmt(f.get('overhead_event_log_entries_per_partition'))} event-log entries per partition; W2 wall / partitions: {_fmt(f.get('w2_wall_ms_per_partition'), ' ms', 1)}) |",
        f"| ... same on an in-memory Dagster instance | {_fmt(f.get('overhead_ms_per_partition_in_memory_instance'), ' ms', 1)} |",
        f"| ... where its CPU time goes (cProfile own time by package) | {f.get('overhead_profile_shares')} |",
        f"| peak RSS of the benchmark process per phase (MiB; models loaded in-process) | {f.get('peak_rss_mib')} |",
        f"| peak RSS ingesting kx archives (fresh subprocess; raw_signals asset / parser only, MiB) | {f.get('rss_ingest_peak_mib')} / {f.get('rss_parse_peak_mib')} |",
        f"| tokens/s per model on W1 (engine timings: decode, prefill) | {f.get('tokens_per_s')} |",
    ]
    lines += ["", "## Where the W1 time goes", "", *_profile_lines(r)]
    lines += ["", "## Latency per stage (p50 / p95)", "", "| stage | n | p50 | p95 |", "|---|---|---|---|"]
    for row in f.get("latency", []):
        lines.append(f"| {row['stage']} | {row['n']} | {_secs(row['p50_s'])} | {_secs(row['p95_s'])} |")
    lines += [
        "",
        "## Runs",
        "",
        "| run | partitions | wall s | LLM requests | engine calls | cache hits (tiers) | Dagster steps s | others' busy cores |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in ("warmup", "w1", "w3_w1", "w2", "w3_w2"):
        x = r.get(key)
        if not x:
            continue
        llm = x["llm"]
        state = "" if x["success"] else (" (checks failed)" if x.get("core_ok") else " (FAILED)")
        lines.append(
            f"| {key}{state} | {x['partition_count']} | {x['wall_s']:.1f} | {llm['requests']} | "
            f"{llm['llm_calls']} | {llm['cache_hits']} {llm['cache_hits_by_tier']} | {x['dagster']['steps_total_s']:.1f} | "
            f"{x['cpu']['others_busy_cores']} |"
        )
    for label in ("sqlite", "in_memory"):
        for run in _get(r, "overhead", label, "runs", default=[]) or []:
            lines.append(
                f"| overhead, {label} instance, {run['days']} empty day(s) | {run['days']} | {run['wall_s']:.1f} | | | | "
                f"{run['dagster']['steps_total_s']:.1f} | {run['cpu']['others_busy_cores']} |"
            )
    notes = []
    for key in ("warmup", "w1", "w3_w1", "w2", "w3_w2"):
        x = r.get(key) or {}
        if x.get("failures"):
            notes.append(
                f"- `{key}`: failed steps {[f['step'] for f in x['failures']]}"
                f"{'; checks not passed ' + str(x['checks_failed']) if x.get('checks_failed') else ''}"
            )
        if x.get("llm_errors"):
            notes.append(
                f"- `{key}`: LLM answers rejected (never cached, so asked again on every run): {x['llm_errors']}"
            )
    if notes:
        lines += ["", "## What went wrong in the runs", "", *notes]
    lines += [
        "",
        "## Workloads and method",
        "",
        f"- **W1 job-board day**: {w1['signals']} postings from `{r['data']['origin']}` EMSCAD in one partition "
        f"({w1['day']}): {w1['counts']['unique']} unique postings (30 %), {w1['counts']['exact_repost']} exact reposts (40 %), "
        f"{w1['counts']['cosmetic_variant']} cosmetic variants (20 %: case/whitespace/location, same normalized content), "
        f"{w1['counts']['edited_variant']} edited variants (10 %: title suffix or one extra sentence) = 70 % repeats, "
        f"the midpoint of design doc 000's 60-80 % for job boards; {w1['unique_content']} distinct contents. "
        f"Base postings drawn (seed 5) from {w1['base_pool']} distinct postings"
        f"{' outside the golden set' if w1['golden_excluded'] else ''}.",
        f"- **W2 email backfill**: source = the whole {w2['messages']}-message Enron mbox ({w2['archive_signals']} dated emails, "
        f"{w2['archive_first']}..{w2['archive_last']}); backfilled range = its busiest window {w2['first']}..{w2['last']} = "
        f"{w2['partitions']} daily partitions ({w2['signals']} emails, {w2['partitions_with_signals']} days with mail), "
        "one single-run backfill (`--w2-days 0` backfills every day the archive spans).",
        "- **W3 re-materialization**: the W1 day and the W2 range run again with the memory tier emptied first "
        "(as in a new run process): answers come from the SQLite tier.",
        f"- **Naive (a)**: {naive.get('definition', 'not run')}; model `{naive.get('model')}`, "
        f"{naive.get('sample_signals')} of the {naive.get('stream_signals')} W1 signals measured and extrapolated per signal.",
        "- **leadflow (b)**: the `daily_pipeline` job from `leadflow.definitions` with its default resources "
        "(work directory for DuckDB/cache), in-process executor, models loaded beforehand, golden set cached by the warm-up run.",
        f"- **Raw engine (c)**: {_get(r, 'raw_engine', 'method', default='not run')}.",
        f"- **Overhead**: {_get(r, 'overhead', 'method', default='not run')}.",
        "- **Peak RSS**: VmHWM of fresh subprocesses (`python -m bench.rss`) streaming the parser over the archive "
        "repeated k times with new Message-IDs, and materializing `raw_signals` from it over the W2 range (so the "
        "signals kept grow with k too); 'independent' = the largest archive's "
        f"peak within {RSS_TOLERANCE:.0%} (or 8 MiB) of the 1x peak.",
        "",
        "Caveats: the naive figure is an extrapolation from a small sample (its per-signal cost does not depend on "
        "the stream, but the sample's text lengths do); model load times are excluded for every contender; timings "
        "on a shared 2-core machine are noisy (see 'others' busy cores'); goals are reported, not gated.",
    ]
    return "\n".join(lines) + "\n"


def _secs(x) -> str:
    if x is None:
        return "n/a"
    if x < 1e-3:
        return f"{x * 1e6:.0f} us"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def _profile_lines(r: dict) -> list[str]:
    w1 = _valid(r, "w1")
    if not w1:
        return ["W1 did not run to completion: no profile."]
    wall = w1["wall_s"]
    st = w1["stages"]
    dag = w1["dagster"]
    steps = dag["steps_total_s"]
    llm = st["llm_stage_all_s"]
    other = steps - llm - st["embed_s"] - st["duckdb_s"]
    run_s = dag.get("run_s") or wall
    rows = [
        ("wall time of the run (`execute_in_process`)", wall),
        ("Dagster before/after the run (job resolution, run record, instance writes)", wall - run_s),
        ("Dagster between steps (planning, events, step launch)", run_s - steps),
        ("inside steps: LLM chat stages (prefilter + dossier, wall)", llm),
        ("inside steps: embeddings (wall)", st["embed_s"]),
        ("inside steps: DuckDB connection blocks", st["duckdb_s"]),
        ("inside steps: the rest (parsing, pandas, head training, cascade, checks, Dagster in-step)", other),
    ]
    out = ["| part | seconds | share of wall |", "|---|---|---|"]
    for label, secs in rows:
        out.append(f"| {label} | {secs:.2f} | {secs / wall:.0%} |")
    assets = set(w1.get("assets") or [])
    checks = 0.0
    for step, secs in dag["steps_s"].items():
        if step in assets:
            out.append(f"| step `{step}` | {secs:.2f} | {secs / wall:.0%} |")
        else:
            checks += secs
    out.append(
        f"| asset-check steps ({len(dag['steps_s']) - len(assets & set(dag['steps_s']))}) | {checks:.2f} | {checks / wall:.0%} |"
    )
    for role, secs in (w1.get("llm_rejected_s") or {}).items():
        out.append(
            f"| of which spent on {role} answers that were rejected (never cached) | {secs:.2f} | {secs / wall:.0%} |"
        )
    for model, e in (w1["engine"]["chat"] or {}).items():
        out.append(
            f"| engine `{model}`: {e['requests']} requests, busy {e['busy_wall_s']:.1f} s wall; "
            f"prefill {e['prefill_s']:.1f} s ({e['prompt_tokens']} tokens computed, {e['cached_prompt_tokens']} reused from the prompt cache) "
            f"vs decode {e['decode_s']:.1f} s ({e['completion_tokens']} tok), summed over requests | "
            f"{e['prefill_s'] + e['decode_s']:.2f} | {(e['prefill_s'] + e['decode_s']) / wall:.0%} |"
        )
    emb = w1["engine"].get("embed")
    if emb:
        out.append(
            f"| engine embeddings: {emb['texts']} texts in {emb['batches']} batches ({emb['texts_per_s']} texts/s) | "
            f"{emb['busy_wall_s']:.2f} | {emb['busy_wall_s'] / wall:.0%} |"
        )
    return out


# ---- the READMEs' benchmark block -------------------------------------------------------------

BENCH_DIR = Path(__file__).resolve().parent
README_FILES = (BENCH_DIR.parent / "README.md", BENCH_DIR / "README.md")
PUBLISHED = BENCH_DIR / "published.json"  # the run the READMEs' blocks are rendered from (tracked)
BLOCK_START = "<!-- bench-table:start (python -m bench.report --readme; do not edit by hand) -->"
BLOCK_END = "<!-- bench-table:end -->"
DEFAULT_FIELDS = (
    "scale",
    "quick",
    "w1_unique",
    "naive_signals",
    "w2_days",
    "overhead_days",
    "rss_copies",
    "raw_concurrency",
    "raw_concurrency_big",
    "lookups",
    "data_dir",
    "skip",
)


def is_default_run(r: dict) -> bool:
    """A complete `python -m bench` run with the default sizes on the bundled data."""
    from dataclasses import asdict

    from bench.data import BUNDLED
    from bench.runner import Config

    default = asdict(Config.build())
    same = all(
        r["config"].get(k) == (list(v) if isinstance(v, tuple) else v)
        for k, v in default.items()
        if k in DEFAULT_FIELDS
    )
    return same and _get(r, "data", "origin") == BUNDLED and not r.get("error")


def latest_default_run(results_dir: Path = BENCH_DIR / "results") -> Path:
    for path in sorted(results_dir.glob("2*.json"), reverse=True):  # UTC stamps sort by time
        if is_default_run(json.loads(path.read_text())):
            return path
    raise FileNotFoundError(f"no default run (`python -m bench` on the bundled data) in {results_dir}")


def readme_block(r: dict) -> str:
    """The figures of run `r` for the READMEs: its targets and what they rest on."""
    f, targets = figures(r)
    m = r["machine"]
    busy = f.get("others_busy_cores_mean")
    load = (
        f"other processes kept {busy} cores busy on average: absolute times are inflated, ratios are within the run"
        if busy is not None and busy > 0.5
        else f"other processes kept {busy} cores busy on average (a quiet machine)"
    )
    jobs = _get(r, "data", "jobs", "sha256", default="")[:12]
    emails = _get(r, "data", "emails", "sha256", default="")[:12]
    lines = [
        f"Run of {r['started_utc']} (`{r['command']}`, {r['total']['wall_s'] / 60:.1f} min), kept in "
        f"`bench/published.json`; data: {_get(r, 'data', 'origin')} (jobs sha256 {jobs}..., emails {emails}...). "
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, {m['gpu']}; Python {m['python']}, "
        f"xllamacpp {m['xllamacpp']}, dagster {m['dagster']}, duckdb {m['duckdb']}; {load}.",
        "",
        "| target | measured | status |",
        "|---|---|---|",
        *(f"| {t['goal']} | {_fmt(t['measured'])} | {t['status']} |" for t in targets),
        "",
        f"- W1: {_fmt(f.get('w1_leadflow_signals_per_min'), nd=1)} signals/min "
        f"vs the naive pipeline's {_fmt(f.get('naive_signals_per_min'), nd=3)}; "
        f"{_fmt(f.get('w1_leadflow_signals_per_min_incl_warmup'), nd=1)} counting the first run's golden-set warm-up, "
        f"{_fmt(f.get('ratio_incl_warmup'), 'x', 1)}; "
        f"the cascade: {f.get('cascade_detail', 'n/a')}.",
        f"- Miss path: raw engine floor {_fmt(f.get('raw_engine_floor_s'), ' s', 1)} (best concurrency "
        f"{f.get('raw_best_concurrency')}) vs leadflow's LLM stages {_fmt(f.get('leadflow_llm_stage_s'), ' s', 1)}, of "
        f"which the engine was busy {_fmt(_get(f, 'miss_path_breakdown', 'engine_busy_s'), ' s', 1)}; leadflow's "
        f"concurrency: {f.get('leadflow_concurrency')}.",
        f"- Cache hit parts (us): {f.get('cache_hit_parts_us')}; SQLite-tier lookup "
        f"{_fmt(f.get('cache_hit_us_sqlite_tier'), ' us', 1)}; embedding hit per text "
        f"{_fmt(f.get('cache_hit_us_embedding_per_text'), ' us', 1)}.",
        f"- Tokens/s on W1 (engine timings): {f.get('tokens_per_s')}.",
    ]
    return "\n".join(lines)


def with_block(text: str, block: str) -> str:
    from leadflow.config_docs import replace_marked

    return replace_marked(text, BLOCK_START, BLOCK_END, block)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description="The READMEs' benchmark block.")
    parser.add_argument("--readme", action="store_true", help="rewrite the block in README.md and bench/README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if a README's block differs from published.json")
    parser.add_argument("results", nargs="?", type=Path, help="results JSON (default: the latest default run)")
    args = parser.parse_args(argv)
    if args.readme:
        source = args.results or latest_default_run()
        results = json.loads(source.read_text())
        if not is_default_run(results):
            print(f"{source} is not a default run on the bundled data: not published", file=sys.stderr)
            return 2
        PUBLISHED.write_text(json.dumps(results, indent=1, default=str) + "\n")
        print(f"published {source.name} as {PUBLISHED}")
    block = readme_block(json.loads(PUBLISHED.read_text()))
    stale = []
    for readme in README_FILES:
        text = readme.read_text()
        new = with_block(text, block)
        if new != text:
            if args.check:
                stale.append(str(readme))
            else:
                readme.write_text(new)
                print(f"rewrote the benchmark block of {readme}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run `python -m bench.report --readme`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
