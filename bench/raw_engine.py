"""Contender (c): the raw engine floor of the miss path.

The unique request bodies leadflow actually sent to the engine during W1 (classifications,
dossiers, repair re-asks; captured by `EngineProbe`) are sent straight to a fresh xllamacpp
server per (model, concurrency), built with leadflow's own engine parameters
(`EngineHandle`: same threads, batch sizes, per-slot context, prompt cache) except
`n_parallel`, which equals the concurrency tried. No client, no cache, no validation, no
Dagster: the physical limit of the miss path on this machine. A fresh server per point
keeps the engine's slot and RAM prompt caches from serving one sweep point with another's
prompts; each server is first warmed with the template's static prefix (untimed), as
leadflow's engines are warm by the time W1 runs.
"""

import functools
import gc
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from leadflow.llm.backends.embedded import EngineHandle


def unique_bodies(entries: list[dict]) -> dict[str, list[dict]]:
    """Per model, the distinct bodies in the order leadflow first sent them."""
    seen: set[str] = set()
    out: dict[str, list[dict]] = {}
    for e in entries:
        key = e["model"] + "\x1f" + json.dumps(e["body"], sort_keys=True)  # a fallback model may get the same body
        if key in seen:
            continue
        seen.add(key)
        out.setdefault(e["model"], []).append({"body": e["body"], "ctx_per_slot": e.get("ctx_per_slot", 4096)})
    return out


def _warm_body(body: dict) -> dict:
    system = [m for m in body["messages"] if m.get("role") == "system"][:1]
    return {
        "messages": [*system, {"role": "user", "content": "ping"}],
        "max_tokens": 1,
        "temperature": 0.0,
        "cache_prompt": True,
    }


def _send(server, body: dict) -> dict:
    started = time.perf_counter()
    result = server.handle_chat_completions(body)
    wall = time.perf_counter() - started
    timings = (result.get("timings") or {}) if isinstance(result, dict) else {}
    return {
        "wall_s": wall,
        "error": isinstance(result, dict) and "error" in result,
        "prompt_ms": float(timings.get("prompt_ms") or 0),
        "predicted_ms": float(timings.get("predicted_ms") or 0),
        "prompt_n": int(timings.get("prompt_n") or 0),
        "predicted_n": int(timings.get("predicted_n") or 0),
        "cache_n": int(timings.get("cache_n") or 0),
    }


def replay(
    model_dir: Path, bodies: dict[str, list[dict]], concurrencies: dict[str, list[int]], threads: int, log=print
) -> dict:
    models: dict[str, dict] = {}
    for model, items in bodies.items():
        path = Path(model_dir) / f"{model}.gguf"
        ctx = max(i["ctx_per_slot"] for i in items)
        points = []
        for c in sorted({min(c, len(items)) for c in concurrencies[model] if c >= 1}):
            handle = EngineHandle(path, ctx, c, threads, False)
            server = handle.server
            with ThreadPoolExecutor(max_workers=c) as pool:
                list(pool.map(server.handle_chat_completions, [_warm_body(items[0]["body"])] * c))
                started = time.perf_counter()
                results = list(pool.map(functools.partial(_send, server), [i["body"] for i in items]))
                wall = time.perf_counter() - started
            decode_n = sum(r["predicted_n"] for r in results)
            points.append(
                {
                    "concurrency": c,
                    "requests": len(results),
                    "wall_s": round(wall, 3),
                    "errors": sum(r["error"] for r in results),
                    "load_s": round(handle.load_s, 3),
                    "prefill_s": round(sum(r["prompt_ms"] for r in results) / 1000, 3),
                    "decode_s": round(sum(r["predicted_ms"] for r in results) / 1000, 3),
                    "prompt_tokens": sum(r["prompt_n"] for r in results),
                    "cached_prompt_tokens": sum(r["cache_n"] for r in results),
                    "completion_tokens": decode_n,
                    "aggregate_decode_tok_s": round(decode_n / wall, 1) if wall else None,
                }
            )
            log(f"    raw engine {model} x{len(items)} at concurrency {c}: {wall:.1f}s")
            del server, handle
            gc.collect()
        best = min(points, key=lambda p: p["wall_s"])
        models[model] = {"points": points, "best_concurrency": best["concurrency"], "best_wall_s": best["wall_s"]}
    return {
        "method": "unique bodies leadflow sent during W1, replayed in order on a fresh leadflow-configured "
        "xllamacpp server per (model, concurrency); best wall time per model, summed over models",
        "concurrencies": concurrencies,
        "models": models,
        "floor_s": round(sum(m["best_wall_s"] for m in models.values()), 3),
    }
