"""A pool of two LLM hosts shared by two workers: two llama.cpp servers (xllamacpp, each a
process of its own with the small model) behind the least-busy routing, and one Redis as the
shared cache. Both workers ask the same questions at once; the servers count the requests they
receive: each distinct question reaches an engine once (duplicate engine calls: 0), and the
routing uses both hosts."""

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
import yaml

from leadflow.llm.client import ClientSettings
from leadflow.llm.factory import LLMSettings, build_client
from tests.faults.conftest import CATALOG, ROLE, TEMPLATE, TIMEOUTS, VERDICT_TEMPLATE
from tests.faults.llm_server import LLMServer
from tests.redis_server import start_redis_server

ITEMS = ["a unit test runner", "a bag of cement", "a code review tool", "a garden hose", "a debugger", "a teapot"]


def _ask_all(urls: list[str], redis_url: str, config: Path, model_dir: str, start: Barrier, out) -> None:
    """One worker: its own client (memory tier only, the shared Redis), every item once."""
    client = build_client(
        LLMSettings(
            backend="openai",
            base_urls=tuple(urls),
            embed_backend="",
            embed_base_urls=(),
            api_key="",
            max_concurrency=2,
            concurrency_path="",
            threads=1,
            model_dir=model_dir,
            catalog_path=str(config / "models.yaml"),
            prompts_dir=str(config / "prompts"),
            cache_memory_mb=8,
            cache_path="",
            redis_url=redis_url,
            ttl_days=(),
            keep_alive="5m",
            client=ClientSettings(max_retries=3, backoff_base_s=0.05, backoff_cap_s=0.2, timeouts=TIMEOUTS),
        )
    )
    start.wait(timeout=60)
    answers = client.map_concurrent(
        lambda item: client.complete_json(ROLE, TEMPLATE, {"item": item}).value, ITEMS, ROLE
    )
    out.put(dict(zip(ITEMS, answers, strict=True)))


@pytest.fixture(scope="module")
def hosts(model_dir: Path):
    servers = [LLMServer(model_dir).start() for _ in range(2)]
    yield servers
    for server in servers:
        server.close()


def test_two_workers_share_two_hosts_and_never_compute_an_answer_twice(hosts, tmp_path, model_dir):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / f"{TEMPLATE}.yaml").write_text(yaml.safe_dump(VERDICT_TEMPLATE, sort_keys=False))
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(CATALOG))
    redis_url, stop_redis = start_redis_server()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(2), ctx.Queue()
    urls = [server.url for server in hosts]
    try:
        workers = [
            ctx.Process(target=_ask_all, args=(urls, redis_url, tmp_path, str(model_dir), start, out)) for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        results = [out.get(timeout=300) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
    finally:
        stop_redis()
    assert results[0] == results[1] and set(results[0]) == set(ITEMS)
    received = [server.stats()["chat"] for server in hosts]
    assert sum(received) == len(ITEMS), f"engine calls per host {received}: each question once across both workers"
    assert all(received), "least-busy routing sends to both hosts"
