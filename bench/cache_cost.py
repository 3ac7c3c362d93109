"""Cost of one cache hit, in microseconds, over many lookups of entries W1 really produced.

- tier lookups: the in-memory LRU tier alone, `TieredCache.get` served by the memory tier,
  and `TieredCache.get` served by the SQLite tier (a fresh cache object over the same file);
- the full client path: `complete_json` of a request whose answer is cached (what a
  re-materialized or repeated signal costs leadflow), and where its time goes (render,
  request build, key hash, lookup, JSON decode);
- `embed_many` of one cached text.
"""

import gc
import json
import time

import numpy as np

from leadflow.llm.cache import SqliteTier, TieredCache

TEMPLATE = "classify_signal"


def _stats(samples_ns: list[int]) -> dict:
    us = np.asarray(samples_ns, dtype=float) / 1000
    return {
        "n": int(us.size),
        "mean_us": round(float(us.mean()), 2),
        "p50_us": round(float(np.percentile(us, 50)), 2),
        "p95_us": round(float(np.percentile(us, 95)), 2),
    }


def _time_each(fn, items, reps: int) -> list[int]:
    samples = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for _ in range(reps):
            for item in items:
                t = clock()
                fn(item)
                samples.append(clock() - t)
    finally:
        gc.enable()
    return samples


def measure(
    client,
    raw_complete_json,
    raw_embed_many,
    calls: list[dict],
    titles: list[str],
    sqlite_path: str,
    lookups: int = 20000,
) -> dict:
    calls = [c for c in calls if c["template_id"] == TEMPLATE][:200]
    if not calls:
        return {"error": "no cached classification calls to replay"}
    role = calls[0]["role"]
    template = client.prompts.get(TEMPLATE)
    model = client.model_chain(role)[0]
    keys = []
    for c in calls:
        request = client.build_request(role, template, template.render(c["variables"]), model)
        keys.append(client.request_key(role, template, request))
    kind = "classification"
    cache = client.cache
    # Warm pass: promotes every entry into the memory tier and drops keys that are not cached
    # (answers that failed validation are never cached).
    cached = [(c, k) for c, k in zip(calls, keys, strict=True) if cache.get(k, kind) is not None]
    if not cached:
        return {"error": "none of the W1 classifications is cached"}
    calls, keys = [c for c, _ in cached], [k for _, k in cached]
    reps = max(1, lookups // max(len(keys), 1))
    memory_tier = next((t for t in cache.tiers if t.name == "memory"), None)
    out: dict = {"entries": len(keys), "lookups_per_figure": reps * len(keys)}
    if memory_tier is not None:
        out["memory_tier_get"] = _stats(_time_each(lambda k: memory_tier.get(k, kind), keys, reps))
        out["tiered_get_memory_hit"] = _stats(_time_each(lambda k: cache.get(k, kind), keys, reps))
    sqlite_only = TieredCache([SqliteTier(sqlite_path)], dict(cache.ttl_by_kind))
    try:
        sq_reps = max(1, min(reps, 2000 // max(len(keys), 1)))
        out["tiered_get_sqlite_hit"] = _stats(_time_each(lambda k: sqlite_only.get(k, kind), keys, sq_reps))
    finally:
        sqlite_only.close()

    # Full client path on cached requests; a few hundred calls are plenty (each records metrics).
    variables = [c["variables"] for c in calls]
    full_reps = max(1, min(reps, 3000 // max(len(variables), 1)))
    hits_before = sum(1 for r in client.metrics.lifetime.records if r.cache_tier)
    out["complete_json_hit"] = _stats(_time_each(lambda v: raw_complete_json(role, TEMPLATE, v), variables, full_reps))
    served = sum(1 for r in client.metrics.lifetime.records if r.cache_tier) - hits_before
    out["complete_json_hit"]["served_from_cache"] = served
    # Where the full path's time goes, step by step (same order as LLMClient.complete_json).
    parts = {}
    parts["render_us"] = _stats(_time_each(lambda v: template.render(v), variables, full_reps))["mean_us"]
    rendered = [template.render(v) for v in variables]
    parts["model_chain_us"] = _stats(_time_each(lambda v: client.model_chain(role), variables, full_reps))["mean_us"]
    parts["build_request_us"] = _stats(
        _time_each(lambda m: client.build_request(role, template, m, model), rendered, full_reps)
    )["mean_us"]
    requests = [client.build_request(role, template, m, model) for m in rendered]
    parts["request_key_us"] = _stats(_time_each(lambda r: client.request_key(role, template, r), requests, full_reps))[
        "mean_us"
    ]
    parts["cache_get_us"] = out.get("tiered_get_memory_hit", {}).get("mean_us")
    values = [cache.get(k, kind).value for k in keys]
    parts["json_decode_us"] = _stats(_time_each(json.loads, values, full_reps))["mean_us"]
    out["complete_json_parts"] = parts
    if titles:
        titles = titles[:200]
        raw_embed_many(titles)  # make sure they are cached
        e_reps = max(1, min(reps, 2000 // len(titles)))
        out["embed_many_hit_per_text"] = _stats(_time_each(lambda t: raw_embed_many([t]), titles, e_reps))
    return out
