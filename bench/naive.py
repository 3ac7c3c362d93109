"""Contender (a): the naive pipeline of design doc 001's baseline.

One signal at a time, no cache, no cascade, the big model for every signal: for each signal
the dossier model (Qwen2.5-Coder-1.5B) classifies it with leadflow's `classify_signal` prompt,
then writes its dossier with leadflow's `write_dossier` prompt, and the row is written to
DuckDB before the next signal starts (doc 001: "sequential processing, one email at a time",
LLM inference + database write per email; its 2 s rate-limit sleep is left out).

It goes through leadflow's own LLM client (same engine, same loaded models, same prompts,
same schema-constrained decoding) with the cache tiers switched off, concurrency 1 and no
dossier rules (schema validation only, which can only make the naive side faster).
A big-model dossier takes 20-70 s on 2 cores, so the naive side runs on a small sample of the
W1 signals and is extrapolated per signal: its cost per signal does not depend on the rest of
the stream (nothing is cached or shared), so the per-signal mean is its throughput.
"""

import dataclasses
import json
import time
from pathlib import Path

import duckdb
import numpy as np

from bench.instrument import EngineProbe, Phase
from bench.machine import CpuWatch
from leadflow.ingest.jobs_jsonl import parse_jobs_jsonl
from leadflow.ingest.records import Signal
from leadflow.llm.factory import build_client
from leadflow.scoring.icp import icp_context, load_icp

PHASE = "naive"


def pick_sample(signals: list[Signal], k: int) -> list[Signal]:
    """k signals spread evenly over the W1 stream (deterministic)."""
    if k >= len(signals):
        return list(signals)
    step = len(signals) / k
    return [signals[int(i * step + step / 2)] for i in range(k)]


def run_naive(
    leadflow_settings,
    big_model: str,
    w1_path: Path,
    w1_day,
    k: int,
    icp_path: Path,
    max_text_chars: int,
    workdir: Path,
    log=print,
) -> dict:
    # leadflow's settings with every optimization off: no cache tier, one request at a time,
    # and the big model in the classification role too.
    settings = dataclasses.replace(
        leadflow_settings,
        cache_memory_mb=0,
        cache_path="",
        redis_url="",
        max_concurrency=1,
        client=dataclasses.replace(leadflow_settings.client, model_overrides=(("prefilter", big_model),)),
    )
    client = build_client(settings)
    assert client.model_chain("prefilter")[0] == big_model
    ctx = icp_context(load_icp(icp_path))
    Phase.name = PHASE
    watch = CpuWatch()
    started_all = time.perf_counter()
    signals = [s for s in parse_jobs_jsonl(w1_path, source="naive", import_date=w1_day) if isinstance(s, Signal)]
    sample = pick_sample(signals, k)
    db_path = workdir / "naive.duckdb"
    with duckdb.connect(str(db_path)) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS naive_leads (signal_id VARCHAR, score INTEGER, dossier JSON, "
            "classify_s DOUBLE, dossier_s DOUBLE)"
        )
    rows = []
    for i, signal in enumerate(sample, 1):
        t0 = time.perf_counter()
        text = signal.text[:max_text_chars]
        base = {"icp_context": ctx, "signal_kind": signal.kind, "signal_title": signal.title, "signal_text": text}
        error = None
        try:
            cls = client.complete_json("prefilter", "classify_signal", base)
            classification = cls.value
        except Exception as exc:
            classification, error = {}, f"classify: {exc}"
        t1 = time.perf_counter()
        try:
            dossier = client.complete_json(
                "dossier", "write_dossier", {**base, "prefilter_json": json.dumps(classification)}
            )
            dossier_value = dossier.value
            dossier_model = dossier.model
        except Exception as exc:
            dossier_value, dossier_model, error = None, None, f"dossier: {exc}"
        t2 = time.perf_counter()
        with duckdb.connect(str(db_path)) as conn:  # one connection per signal, as a naive loop does
            conn.execute(
                "INSERT INTO naive_leads VALUES (?, ?, ?, ?, ?)",
                [signal.signal_id, classification.get("score"), json.dumps(dossier_value), t1 - t0, t2 - t1],
            )
        t3 = time.perf_counter()
        rows.append(
            {
                "signal": i,
                "classify_s": round(t1 - t0, 3),
                "dossier_s": round(t2 - t1, 3),
                "db_s": round(t3 - t2, 4),
                "total_s": round(t3 - t0, 3),
                "dossier_model": dossier_model,
                "error": error,
            }
        )
        log(
            f"    naive signal {i}/{len(sample)}: classify {t1 - t0:.1f}s + dossier {t2 - t1:.1f}s "
            f"({dossier_model or 'failed'})"
        )
    wall = time.perf_counter() - started_all
    cpu = watch.stop()
    Phase.name = f"{PHASE}:after"
    per_signal = float(np.mean([r["total_s"] for r in rows])) if rows else None
    classify_only = float(np.mean([r["classify_s"] for r in rows])) if rows else None
    chat = EngineProbe.select(PHASE, kind="chat")
    llm = client.metrics.lifetime.summary()
    return {
        "definition": "sequential; per signal: big-model classification + big-model dossier + one DuckDB write; "
        "no cache, no cascade, no concurrency",
        "model": big_model,
        "sample_signals": len(rows),
        "stream_signals": len(signals),
        "rows": rows,
        "wall_s": round(wall, 3),
        "cpu": cpu,
        "seconds_per_signal": round(per_signal, 3) if per_signal else None,
        "signals_per_min": round(60 / per_signal, 4) if per_signal else None,
        "classify_only_seconds_per_signal": round(classify_only, 3) if classify_only else None,
        "big_model_engine_calls": sum(1 for e in chat if e["model"] == big_model),
        "big_model_calls_per_signal": round(sum(1 for e in chat if e["model"] == big_model) / max(len(rows), 1), 3),
        "llm": llm,
        "engine_requests": len(chat),
    }
