"""Throughput of the LLM work with 1 and 2 workers and 1 and 2 hosts: leadflow's real client
(`LLMResource` settings, `classify_signal` prompt, least-busy routing over the hosts' URLs, its
validation) in worker processes of their own, each classifying its share of distinct signals.

Hosts are latency-bound (`bench.latency_host`: a fixed service time per request and a fixed
number of slots, standing in for remote GPU hosts; labelled so in the results): on this 2-core
machine a real llama.cpp host per core would measure the cores, not the pool. Each worker keeps
at most `max_concurrency` requests in flight per host (the setting), so a host serves at most
`workers x max_concurrency` at once and its slots cap it below that.

    .venv/bin/python -m bench.host_pool_throughput [--signals 48] [--service-s 0.5] [--slots 4]
"""

import argparse
import multiprocessing
import sys
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from bench.latency_host import LatencyHost
from bench.results_file import save_results
from leadflow.defs.resources import LLMResource
from leadflow.llm.factory import build_client

ANSWER = {"score": 40, "hiring": True, "role_function": "engineering", "seniority": "mid", "reasons": ["a stand-in"]}
ROLE, TEMPLATE = "prefilter", "classify_signal"
MAX_CONCURRENCY = 2


def _variables(n: int) -> dict[str, str]:
    return {
        "icp_context": "B2B software teams hiring data engineers",
        "signal_kind": "job_posting",
        "signal_title": f"Data engineer #{n}",
        "signal_text": f"We are hiring data engineer number {n} for our analytics platform.",
    }


def _worker(urls: list[str], share: list[int], start: Barrier, out: Any) -> None:
    # No persistent cache tier ("off"; "" would be the data dir's): every signal is asked of a host.
    settings = LLMResource(
        backend="openai", base_urls=",".join(urls), max_concurrency=MAX_CONCURRENCY, cache_path="off", redis_url=""
    ).settings()
    client = build_client(settings)
    start.wait(timeout=120)
    began = time.perf_counter()
    answers = client.map_concurrent(lambda n: client.complete_json(ROLE, TEMPLATE, _variables(n)), share, ROLE)
    out.put((time.perf_counter() - began, sum(1 for a in answers if not isinstance(a, Exception))))


def measure(workers: int, hosts: int, signals: int, service_s: float, slots: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    servers = [LatencyHost(service_s, slots, ANSWER) for _ in range(hosts)]
    for server in servers:
        server.__enter__()
    try:
        start, out = ctx.Barrier(workers + 1), ctx.Queue()
        shares = [list(range(signals))[w::workers] for w in range(workers)]
        urls = [server.url for server in servers]
        procs = [ctx.Process(target=_worker, args=(urls, share, start, out)) for share in shares]
        for proc in procs:
            proc.start()
        start.wait(timeout=180)
        began = time.perf_counter()
        results = [out.get(timeout=600) for _ in procs]
        wall = time.perf_counter() - began
        for proc in procs:
            proc.join(timeout=60)
    finally:
        for server in servers:
            server.__exit__()
    answered = sum(n for _, n in results)
    return {
        "hosts": "latency-bound",
        "workers": workers,
        "llm_hosts": hosts,
        "signals": signals,
        "answered": answered,
        "wall_s": round(wall, 2),
        "signals_per_s": round(answered / wall, 2),
        "requests_per_host": [server.requests["/v1/chat/completions"] for server in servers],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.host_pool_throughput", description=__doc__)
    parser.add_argument("--signals", type=int, default=48)
    parser.add_argument("--service-s", type=float, default=0.5, help="a host's time per request")
    parser.add_argument("--slots", type=int, default=4, help="requests a host serves at once")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    rows = [measure(workers, hosts, args.signals, args.service_s, args.slots) for workers in (1, 2) for hosts in (1, 2)]
    for row in rows:
        print(row)
    results = {"service_s": args.service_s, "slots": args.slots, "max_concurrency": MAX_CONCURRENCY, "rows": rows}
    print(save_results(results, args.out, "host_pool_throughput"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
