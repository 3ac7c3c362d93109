"""Cost of one cache hit, in microseconds, over many lookups of entries leadflow really produced.

- tier lookups: the in-memory LRU tier alone, `TieredCache.get` served by the memory tier,
  and `TieredCache.get` served by the SQLite tier (a fresh cache object over the same file);
- the full client path: `complete_json` of a request whose answer is cached (what a
  re-materialized or repeated signal costs leadflow), wall time (mean, p50, p95) and this
  thread's CPU time (mean: less sensitive to others' load), and where its time goes (render,
  request build, key hash, lookup, JSON decode);
- `embed_many` of one cached text.

Inside the main benchmark (`python -m bench`) it replays W1's classifications. On its own,
`python -m bench.cache_cost` classifies a few bundled sample postings for real (the entries),
then measures; `--callgrind` adds a load-independent figure: instructions per hit, counted by
valgrind's callgrind in two fresh processes that serve N and 3N hits (the difference / 2N).
"""

import argparse
import gc
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from leadflow.llm import answer_entry
from leadflow.llm.cache import SqliteTier, TieredCache

TEMPLATE = "classify_signal"
BENCH_DIR = Path(__file__).resolve().parent
CALLGRIND_HITS = 2000  # hits of the smaller callgrind run (the larger serves 3x as many)


def _stats(samples_ns: list[int]) -> dict:
    us = np.asarray(samples_ns, dtype=float) / 1000
    return {
        "n": int(us.size),
        "mean_us": round(float(us.mean()), 2),
        "p50_us": round(float(np.percentile(us, 50)), 2),
        "p95_us": round(float(np.percentile(us, 95)), 2),
    }


def _time_each(fn, items, reps: int, clock=time.perf_counter_ns) -> list[int]:
    samples = []
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


def _cpu_mean_us(fn, items, reps: int) -> float:
    """Mean CPU time of this thread per call: time other processes take is not counted."""
    clock = time.thread_time_ns
    gc.disable()
    try:
        started = clock()
        for _ in range(reps):
            for item in items:
                fn(item)
        return round((clock() - started) / 1000 / (reps * len(items)), 2)
    finally:
        gc.enable()


def _key(client, role: str, template, model: str, variables: dict) -> str:
    request = client.build_request(role, template, template.render(variables), model)
    return client.request_key(role, template, variables, request)


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
    keys = [_key(client, role, template, model, c["variables"]) for c in calls]
    kind = "classification"
    cache = client.cache
    # Warm pass: promotes every entry into the memory tier and drops keys that are not cached
    # (answers that failed validation are never cached).
    cached = [(c, k) for c, k in zip(calls, keys, strict=True) if cache.get(k, kind) is not None]
    if not cached:
        return {"error": "none of the classifications is cached"}
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

    # Full client path on cached requests; a few thousand calls are plenty (each records metrics).
    variables = [c["variables"] for c in calls]
    full_reps = max(1, min(reps, 3000 // max(len(variables), 1)))
    hits_before = sum(1 for r in client.metrics.lifetime.records if r.cache_tier)
    out["complete_json_hit"] = _stats(_time_each(lambda v: raw_complete_json(role, TEMPLATE, v), variables, full_reps))
    out["complete_json_hit"]["cpu_mean_us"] = _cpu_mean_us(
        lambda v: raw_complete_json(role, TEMPLATE, v), variables, full_reps
    )
    served = sum(1 for r in client.metrics.lifetime.records if r.cache_tier) - hits_before
    out["complete_json_hit"]["served_from_cache"] = served
    # Where the full path's time goes, step by step (same order as LLMClient.complete_json; a hit
    # renders no prompt and builds no request: its key comes from the variables).
    parts = {}
    parts["prompts_get_us"] = _stats(_time_each(lambda v: client.prompts.get(TEMPLATE), variables, full_reps))[
        "mean_us"
    ]
    parts["model_chain_us"] = _stats(_time_each(lambda v: client.model_chain(role), variables, full_reps))["mean_us"]
    parts["request_key_us"] = _stats(
        _time_each(lambda v: client.template_key(role, template, v, model), variables, full_reps)
    )["mean_us"]
    parts["cache_get_us"] = out.get("tiered_get_memory_hit", {}).get("mean_us")
    values = [cache.get(k, kind).value for k in keys]
    parts["json_decode_us"] = _stats(_time_each(answer_entry.answer, values, full_reps))["mean_us"]
    out["complete_json_parts"] = parts
    if titles:
        titles = titles[:200]
        raw_embed_many(titles)  # make sure they are cached
        e_reps = max(1, min(reps, 2000 // len(titles)))
        out["embed_many_hit_per_text"] = _stats(_time_each(lambda t: raw_embed_many([t]), titles, e_reps))
    return out


# ---- standalone: `python -m bench.cache_cost` ------------------------------------------------


def sample_variables(count: int) -> list[dict]:
    """Classification variables of the first `count` bundled sample postings, as the prefilter
    builds them (the bundled ICP first, the posting last)."""
    from leadflow.defs.resources import PipelineSettings
    from leadflow.paths import RESOURCES_DIR
    from leadflow.scoring.icp import icp_context, load_icp

    pipeline = PipelineSettings()
    icp = icp_context(load_icp(pipeline.icp_file()))
    lines = (RESOURCES_DIR / "samples" / "jobs_sample.jsonl").read_text(encoding="utf-8").splitlines()
    postings = [json.loads(line) for line in lines if line.strip()][:count]
    return [
        {
            "icp_context": icp,
            "signal_kind": "job_posting",
            "signal_title": p.get("title") or "",
            "signal_text": (p.get("description") or "")[: pipeline.max_text_chars],
        }
        for p in postings
    ]


def _callgrind_instructions(workdir: Path, hits: int) -> int:
    """Instructions (valgrind's Ir) of a fresh process that builds the client and serves `hits`."""
    out = workdir / f"callgrind_{hits}.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "bench.cache_cost",
        "--serve-hits",
        str(hits),
        "--workdir",
        str(workdir),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=BENCH_DIR.parent)
    if done.returncode != 0:
        raise RuntimeError(f"callgrind run of {hits} hits failed: {done.stderr[-2000:]}")
    match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(match.group(1))


def _serve_hits(workdir: Path, hits: int) -> None:
    """The callgrind child: the parent's client settings and cached variables, `hits` hits."""
    from leadflow.llm.factory import build_client

    settings = pickle.loads((workdir / "settings.pickle").read_bytes())
    variables = json.loads((workdir / "variables.json").read_text())
    client = build_client(settings)
    role = "prefilter"
    for v in variables:  # warm pass: entries into the memory tier, the key prefix hashed
        client.complete_json(role, TEMPLATE, v)
    gc.disable()  # as in the timed loops: a collection over the growing metrics would count too
    for i in range(hits):
        client.complete_json(role, TEMPLATE, variables[i % len(variables)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=6, help="bundled sample postings classified for real (6)")
    parser.add_argument("--lookups", type=int, default=20000, help="lookups per tier figure (20000)")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions per hit (valgrind)")
    parser.add_argument("--refuse-busy", action="store_true", help="exit 3 when others keep the machine busy")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--serve-hits", type=int, help=argparse.SUPPRESS)  # the callgrind child
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_hits is not None:
        _serve_hits(args.workdir, args.serve_hits)
        return 0

    from bench.machine import load_guard, machine_info
    from bench.results_file import save_results

    results: dict = {
        "command": " ".join(["python -m bench.cache_cost", *(argv or sys.argv[1:])]),
        "machine": machine_info(),
    }
    workdir = Path(tempfile.mkdtemp(prefix="leadflow-cache-cost-"))
    os.environ["LEADFLOW_HOME"] = str(workdir)  # a throwaway cache, never the user's
    try:
        with load_guard(args.refuse_busy) as results["load"]:
            from leadflow.defs.resources import LLMResource
            from leadflow.llm.factory import build_client

            settings = LLMResource.from_env().settings()
            client = build_client(settings)
            variables = sample_variables(args.prompts)
            started = time.perf_counter()
            for v in variables:  # the entries: real answers of the small model
                client.complete_json("prefilter", TEMPLATE, v)
            results["entries_computed_s"] = round(time.perf_counter() - started, 2)
            calls = [{"template_id": TEMPLATE, "role": "prefilter", "variables": v} for v in variables]
            titles = [v["signal_title"] for v in variables]
            results["cache_cost"] = measure(
                client, client.complete_json, client.embed_many, calls, titles, settings.cache_path, args.lookups
            )
            if args.callgrind:
                (workdir / "settings.pickle").write_bytes(pickle.dumps(settings))
                (workdir / "variables.json").write_text(json.dumps(variables))
                small, large = (_callgrind_instructions(workdir, n) for n in (CALLGRIND_HITS, 3 * CALLGRIND_HITS))
                results["cache_cost"]["complete_json_hit"]["instructions_per_hit"] = round(
                    (large - small) / (2 * CALLGRIND_HITS)
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    hit = results["cache_cost"].get("complete_json_hit", {})
    print(
        f"complete_json hit: mean {hit.get('mean_us')} us, p95 {hit.get('p95_us')} us, CPU {hit.get('cpu_mean_us')} us"
        + (f", {hit['instructions_per_hit']} instructions" if "instructions_per_hit" in hit else "")
        + f" (others' busy cores {results['load']['others_busy_cores']})"
    )
    print(f"parts (us): {results['cache_cost'].get('complete_json_parts')}")
    print(f"wrote {save_results(results, args.out, 'cache_cost')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
