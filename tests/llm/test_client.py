"""LLMClient end to end over real parts: endpoint pools of OllamaBackends talking HTTP to
Ollama-protocol servers backed by real inference, and a real TieredCache (memory LRU + SQLite
file). Covers caching and its keys, coalescing, the concurrency bound, backoff, failover
through the circuit breaker, repair and fallback, context bucketing and the metrics."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from leadflow.llm import answer_entry
from leadflow.llm.backends.base import Backend
from leadflow.llm.backends.ollama import OllamaBackend
from leadflow.llm.cache import MemoryLRUTier, SqliteTier, TieredCache
from leadflow.llm.catalog import load_catalog
from leadflow.llm.client import ClientSettings, LLMClient
from leadflow.llm.context_window import DEFAULT_BUCKETS, choose_num_ctx, estimate_tokens
from leadflow.llm.pool import EndpointPool
from leadflow.llm.prompts import PromptLibrary
from leadflow.llm.types import ChatRequest, LLMError, LLMHealthError, RequestRejected, Timeouts
from leadflow.llm.validation import REPAIR_INSTRUCTION
from leadflow.paths import PROMPTS_DIR
from tests.llm.conftest import EMBEDDER, OLLAMA_EMBED, OLLAMA_SMALL, SCORE_SCHEMA, SMALL

BACKUP = "qwen2.5-coder:0.5b-instruct"  # a second name the server serves: the fallback tier
SERVER_MODELS = {OLLAMA_SMALL: SMALL, BACKUP: SMALL, OLLAMA_EMBED: EMBEDDER}
ROLE = "prefilter"
TIMEOUTS = Timeouts(connect_s=2.0, first_token_s=60.0, total_s=120.0)

TINY_CATALOG = {
    "artifacts": {},
    "tiers": {
        "prefilter": {
            "ollama": {"model": OLLAMA_SMALL, "quantized": OLLAMA_SMALL},
            "fallbacks": ["backup"],
        },
        "backup": {"ollama": {"model": BACKUP, "quantized": BACKUP}},
        "embed": {"ollama": {"model": OLLAMA_EMBED, "quantized": OLLAMA_EMBED}},
    },
}

TINY_TEMPLATE = {
    "id": "tiny_score",
    "version": 1,
    "role": "prefilter",
    "description": "Score one item (short prompt, bounded schema: ~10 generated tokens).",
    "variables": ["item"],
    "defaults": {"max_tokens": 32, "temperature": 0.0, "seed": 7},
    "messages": [
        {"role": "system", "content": "Rate how useful the item is for a software team. Answer with JSON only."},
        {"role": "user", "content": "Item: {item}"},
    ],
    "output_schema": SCORE_SCHEMA,
}

ICP = "B2B SaaS companies with 50-500 employees that are growing their sales or marketing teams."


# ---- harness ----------------------------------------------------------------------------------


@pytest.fixture
def prompts_dir(tmp_path) -> Path:
    directory = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, directory)
    (directory / "tiny_score.yaml").write_text(yaml.safe_dump(TINY_TEMPLATE, sort_keys=False))
    return directory


@pytest.fixture
def catalog_path(tmp_path) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(TINY_CATALOG))
    return path


class Harness:
    """Builds clients over given servers; every client of one test shares one SQLite file."""

    def __init__(self, tmp_path: Path, prompts_dir: Path, catalog_path: Path):
        self.sqlite_path = tmp_path / "llm_cache.sqlite"
        self.prompts_dir = prompts_dir
        self.catalog = load_catalog(catalog_path)
        self._closers: list = []

    def cache(self) -> TieredCache:
        cache = TieredCache(
            [MemoryLRUTier(8 * 1024 * 1024), SqliteTier(str(self.sqlite_path))],
            {"classification": 3600.0, "embedding": 3600.0},
        )
        self._closers.append(cache.close)
        return cache

    def client(
        self,
        servers,
        *,
        max_concurrency: int = 2,
        circuit_failures: int = 3,
        circuit_cooldown_s: float = 60.0,
        stream: bool = False,
        backoff_base_s: float = 0.05,
        model_overrides: tuple[tuple[str, str], ...] = (),
        race: bool = False,
    ) -> LLMClient:
        chat: list[Backend] = [OllamaBackend(s.url, keep_alive="5m") for s in servers]
        embed: list[Backend] = [OllamaBackend(servers[-1].url)]
        self._closers.extend(b.close for b in (*chat, *embed))
        settings = ClientSettings(
            max_retries=3,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=2.0,
            timeouts=TIMEOUTS,
            stream_roles=(ROLE,) if stream else (),
            circuit_failures=circuit_failures,
            circuit_cooldown_s=circuit_cooldown_s,
            model_overrides=model_overrides,
            race=race,
        )
        pools = {
            ROLE: EndpointPool(chat, max_concurrency, circuit_failures, circuit_cooldown_s),
            "embed": EndpointPool(embed, max_concurrency, circuit_failures, circuit_cooldown_s),
        }
        # recheck_s=0: a test edits a prompt and expects the very next request to see it.
        return LLMClient(self.catalog, PromptLibrary(self.prompts_dir, recheck_s=0), pools, self.cache(), settings)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()


@pytest.fixture
def harness(tmp_path, prompts_dir, catalog_path):
    h = Harness(tmp_path, prompts_dir, catalog_path)
    yield h
    h.close()


@pytest.fixture
def server(make_ollama_server):
    return make_ollama_server(SERVER_MODELS)


def score(client: LLMClient, item: str):
    return client.complete_json(ROLE, "tiny_score", {"item": item})


def key_for(client: LLMClient, template_id: str, variables: dict, model: str = OLLAMA_SMALL) -> str:
    template = client.prompts.get(template_id)
    request = client.build_request(ROLE, template, template.render(variables), model)
    return client.request_key(ROLE, template, variables, request)


def assert_metrics_add_up(summary: dict, engine_requests: int) -> None:
    assert summary["requests"] == summary["cache_hits"] + summary["coalesced"] + summary["misses"]
    assert summary["llm_calls"] == engine_requests
    if summary["latency_p50_s"] is not None:
        assert summary["latency_p50_s"] <= summary["latency_p95_s"] <= summary["latency_p99_s"]


# ---- caching ------------------------------------------------------------------------------------


def test_second_identical_call_is_a_cache_hit(harness, server):
    client = harness.client([server])
    first = score(client, "a JSON schema validator")
    jsonschema.validate(first.value, SCORE_SCHEMA)
    assert first.cache_tier is None and first.record.engine_calls == 1
    assert server.requests["/api/chat"] == 1
    before = client.metrics.lifetime.summary()

    second = score(client, "a JSON schema validator")
    after = client.metrics.lifetime.summary()
    assert second.value == first.value and second.cache_tier == "memory"
    assert second.record.engine_calls == 0
    assert server.requests["/api/chat"] == 1  # zero new engine calls
    assert after["llm_calls"] == before["llm_calls"] == 1
    assert after["cache_hits"] == before["cache_hits"] + 1
    assert after["cache_hits_by_tier"] == {"memory": 1}

    # A new process (fresh memory tier) on the same host finds the answer in SQLite.
    fresh = harness.client([server])
    third = score(fresh, "a JSON schema validator")
    assert third.value == first.value and third.cache_tier == "sqlite"
    assert server.requests["/api/chat"] == 1
    assert_metrics_add_up(after, 1)


def test_real_classification_template_end_to_end(harness, server):
    client = harness.client([server])
    variables = {
        "icp_context": ICP,
        "signal_kind": "job_posting",
        "signal_title": "Senior Account Executive",
        "signal_text": "Acme Analytics (120 people, B2B SaaS) is hiring a senior AE to grow its EMEA sales team.",
    }
    first = client.complete_json(ROLE, "classify_signal", variables)
    template = client.prompts.get("classify_signal")
    jsonschema.validate(first.value, template.output_schema)
    assert first.template == "classify_signal@v1" and first.model == OLLAMA_SMALL
    sent = server.chat_bodies[-1]
    assert sent["format"] == template.output_schema
    assert sent["options"]["num_predict"] == 96 and sent["options"]["seed"] == 7
    assert sent["messages"][-1]["content"].endswith("to grow its EMEA sales team.\n")
    again = client.complete_json(ROLE, "classify_signal", variables)
    assert again.cache_tier == "memory" and again.value == first.value
    assert server.requests["/api/chat"] == 1


def test_template_edit_changes_the_key_and_invalidates_only_its_answers(harness, server, prompts_dir):
    client = harness.client([server])
    classify_vars = {"icp_context": ICP, "signal_kind": "email", "signal_title": "Hi", "signal_text": "Demo?"}
    classify_key = key_for(client, "classify_signal", classify_vars)
    tiny_key = key_for(client, "tiny_score", {"item": "a profiler"})
    first = score(client, "a profiler")
    assert server.requests["/api/chat"] == 1

    def edit(name: str, text: str) -> None:
        path = prompts_dir / f"{name}.yaml"
        stat = path.stat()
        path.write_text(path.read_text() + text)
        # Pin a distinct mtime: two writes inside one filesystem timestamp tick look unchanged.
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    old_hash = client.prompts.get("classify_signal").content_hash
    edit("classify_signal", "# reviewed\n")
    assert client.prompts.get("classify_signal").content_hash != old_hash  # reloaded on mtime change
    assert key_for(client, "classify_signal", classify_vars) != classify_key
    assert key_for(client, "tiny_score", {"item": "a profiler"}) == tiny_key  # untouched template

    edit("tiny_score", "# a comment changes the content hash\n")
    new_tiny_key = key_for(client, "tiny_score", {"item": "a profiler"})
    assert new_tiny_key != tiny_key
    second = score(client, "a profiler")
    assert second.cache_tier is None and server.requests["/api/chat"] == 2
    jsonschema.validate(second.value, SCORE_SCHEMA)
    assert first.template == second.template == "tiny_score@v1"
    assert score(client, "a profiler").cache_tier == "memory"


def test_key_covers_every_option_and_the_schema(harness, server):
    client = harness.client([server])
    template = client.prompts.get("tiny_score")
    variables = {"item": "a formatter"}
    base = client.build_request(ROLE, template, template.render(variables), OLLAMA_SMALL)

    def key(item: str = "a formatter", **changes) -> str:
        return client.request_key(ROLE, template, {"item": item}, ChatRequest(**{**base.__dict__, **changes}))

    variants = {
        "base": key(),
        "max_tokens": key(max_tokens=base.max_tokens + 1),
        "temperature": key(temperature=0.7),
        "seed": key(seed=base.seed + 1),
        "stop": key(stop=("\n\n",)),
        "schema": key(schema={**SCORE_SCHEMA, "required": ["score"]}),
        "variables": key("a formatter ", messages=template.render({"item": "a formatter "})),
        "model": key(model=BACKUP),
    }
    assert len(set(variants.values())) == len(variants), variants
    # num_ctx is chosen from buckets so the prompt always fits: it does not change the answer,
    # and keying on it would defeat the reuse of an already-loaded context size.
    assert key(num_ctx=8192) == variants["base"]
    assert key(stream=True) == variants["base"]


def test_model_digest_is_part_of_the_key(harness, server):
    client = harness.client([server])
    first = score(client, "a bug tracker")
    key_before = key_for(client, "tiny_score", {"item": "a bug tracker"})
    new_digest = server.repull(OLLAMA_SMALL)  # same tag, new weights

    fresh = harness.client([server])  # shares the SQLite tier with `client`
    assert fresh.model_digest(ROLE, OLLAMA_SMALL) == new_digest
    assert key_for(fresh, "tiny_score", {"item": "a bug tracker"}) != key_before
    second = score(fresh, "a bug tracker")
    assert second.cache_tier is None  # the old weights' answer is not served
    assert server.requests["/api/chat"] == 2
    jsonschema.validate(second.value, SCORE_SCHEMA)
    assert first.record.engine_calls == second.record.engine_calls == 1


# ---- coalescing and the concurrency bound --------------------------------------------------------


def test_identical_concurrent_requests_coalesce_into_one_engine_call(harness, server):
    client = harness.client([server], max_concurrency=4)
    # Hold the leader's answer back for a second so every follower finds it in flight.
    server.inject("slow_first_token", delay_s=1.0)
    n = 6
    barrier = threading.Barrier(n, timeout=10)

    def call(_):
        barrier.wait()
        return score(client, "a distributed tracing tool")

    with client.metrics.track() as recorder, ThreadPoolExecutor(n) as pool:
        results = [f.result(timeout=90) for f in [pool.submit(call, i) for i in range(n)]]

    assert server.requests["/api/chat"] == 1 and server.inferences["/api/chat"] == 1
    assert len({json.dumps(r.value, sort_keys=True) for r in results}) == 1
    assert sum(r.record.coalesced for r in results) == n - 1
    assert sum(r.record.engine_calls for r in results) == 1
    summary = recorder.summary()
    assert summary["coalesced"] == n - 1 and summary["misses"] == 1 and summary["cache_hits"] == 0
    assert_metrics_add_up(summary, 1)


def test_concurrency_bound_is_never_exceeded(harness, server):
    client = harness.client([server], max_concurrency=2)
    items = [
        f"tool number {i}: {name}"
        for i, name in enumerate(
            ["a compiler", "a linter", "a debugger", "a profiler", "an editor", "a shell", "a pager", "a diff tool"]
        )
    ]
    barrier = threading.Barrier(len(items), timeout=10)

    def call(item):
        barrier.wait()
        return score(client, item)

    with ThreadPoolExecutor(len(items)) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(call, item) for item in items]]

    for result in results:
        jsonschema.validate(result.value, SCORE_SCHEMA)
    stats = client.pool(ROLE).stats(client.pool(ROLE).backends[0], OLLAMA_SMALL)
    assert server.requests["/api/chat"] == len(items)
    assert server.max_in_flight <= 2
    assert stats.peak_in_flight == 2 and stats.in_flight == 0
    assert server.max_in_flight == 2  # the bound was reached, so it was exercised
    assert max(r.record.queue_wait_s for r in results) > 0.1  # later requests queued for a slot


# ---- retries, circuit breaker, failover ---------------------------------------------------------


def test_backoff_on_503_then_success(harness, server):
    client = harness.client([server], backoff_base_s=0.2)
    server.inject("503", times=2)
    started = time.monotonic()
    result = score(client, "a package manager")
    elapsed = time.monotonic() - started

    jsonschema.validate(result.value, SCORE_SCHEMA)
    assert result.record.ok and result.record.retries == 2 and result.record.engine_calls == 3
    assert server.requests["/api/chat"] == 3
    # Jittered exponential backoff: attempt k sleeps in [base*2**k / 2, base*2**k].
    assert elapsed >= 0.2 / 2 + 0.4 / 2
    stats = client.pool(ROLE).stats(client.pool(ROLE).backends[0], OLLAMA_SMALL)
    assert stats.opened == 0 and stats.consecutive_failures == 0  # success resets the count
    assert client.metrics.lifetime.summary()["retries"] == 2


def test_retry_after_header_is_honoured(harness, server):
    client = harness.client([server], backoff_base_s=0.01)
    server.inject("503", retry_after="1")
    started = time.monotonic()
    result = score(client, "a package manager")
    assert time.monotonic() - started >= 1.0
    assert result.record.retries == 1


def test_bad_request_fails_fast_without_retry_or_fallback(harness, server):
    client = harness.client([server])
    server.inject("400")
    with pytest.raises(RequestRejected):
        score(client, "a build system")
    assert server.requests["/api/chat"] == 1


def test_failover_after_the_circuit_opens(harness, make_ollama_server):
    broken = make_ollama_server(SERVER_MODELS)
    healthy = make_ollama_server(SERVER_MODELS)
    broken.inject("503", times=None)  # queue permanently full
    client = harness.client([broken, healthy], circuit_failures=2, circuit_cooldown_s=60.0)

    results = [score(client, f"a {name}") for name in ("scheduler", "load balancer", "message queue", "CDN")]

    assert all(r.record.ok and r.model == OLLAMA_SMALL for r in results)
    assert [r.record.endpoint for r in results] == [healthy.url] * 4
    # Calls 1 and 2 try the broken host first (least busy, listed first), then fail over;
    # the second failure opens its circuit, so calls 3 and 4 never touch it.
    assert [r.record.retries for r in results] == [1, 1, 0, 0]
    assert broken.requests["/api/chat"] == 2
    assert healthy.requests["/api/chat"] == 4
    stats = client.pool(ROLE).stats(client.pool(ROLE).backends[0], OLLAMA_SMALL)
    assert stats.opened >= 1 and stats.open_until > time.monotonic()


def test_failover_when_the_first_host_drops_every_connection(harness, make_ollama_server):
    broken = make_ollama_server(SERVER_MODELS)
    healthy = make_ollama_server(SERVER_MODELS)
    broken.inject("reset", path="*", times=None)  # /api/tags and /api/ps included
    client = harness.client([broken, healthy], circuit_failures=1, circuit_cooldown_s=60.0)

    first = score(client, "a key-value store")
    second = score(client, "a search engine")

    assert first.record.ok and second.record.ok
    assert first.record.endpoint == second.record.endpoint == healthy.url
    assert broken.requests["/api/chat"] == 1  # one failure opened the circuit
    assert client.pool(ROLE).stats(client.pool(ROLE).backends[0], OLLAMA_SMALL).opened == 1
    assert client.model_digest(ROLE, OLLAMA_SMALL) == healthy.models[OLLAMA_SMALL].digest


# ---- validation, repair, fallback ------------------------------------------------------------------


def test_invalid_output_is_repaired_once(harness, server):
    client = harness.client([server], stream=True)
    server.inject("invalid_output", content='{"score": 999, "verdict": "yes"}')
    result = score(client, "a container runtime")

    jsonschema.validate(result.value, SCORE_SCHEMA)
    record = result.record
    assert record.repaired and record.invalid == 1 and record.engine_calls == 2 and not record.fallback
    assert result.model == OLLAMA_SMALL
    repair = server.chat_bodies[-1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"score": 999, "verdict": "yes"}'}
    assert repair[-1]["content"].startswith(REPAIR_INSTRUCTION.split("{error}")[0])
    assert "schema violation at score" in repair[-1]["content"]
    summary = client.metrics.lifetime.summary()
    assert summary["invalid_outputs"] == 1 and summary["repaired"] == 1 and summary["invalid_rate"] == 0.5
    assert_metrics_add_up(summary, server.requests["/api/chat"])


def test_invalid_twice_falls_back_to_the_next_model(harness, server):
    client = harness.client([server])
    assert client.model_chain(ROLE) == [OLLAMA_SMALL, BACKUP]
    server.inject("invalid_output", model=OLLAMA_SMALL, times=2, content='{"score": 999}')
    result = score(client, "a feature flag service")

    jsonschema.validate(result.value, SCORE_SCHEMA)
    assert result.model == BACKUP and result.record.fallback and result.record.invalid == 0
    assert server.requests["/api/chat"] == 3 and server.chat_bodies[-1]["model"] == BACKUP
    summary = client.metrics.lifetime.summary()
    assert summary["invalid_outputs"] == 2 and summary["fallbacks"] == 1 and summary["failed"] == 1
    assert_metrics_add_up(summary, 3)
    # Output that failed validation is never cached; the fallback's answer is, under its own key.
    assert client.cache.get(key_for(client, "tiny_score", {"item": "a feature flag service"}), "classification") is None
    again = score(client, "a feature flag service")  # the primary is asked again, and now answers
    assert again.model == OLLAMA_SMALL and again.cache_tier is None and not again.record.fallback
    backup_key = key_for(client, "tiny_score", {"item": "a feature flag service"}, model=BACKUP)
    assert answer_entry.answer(client.cache.get(backup_key, "classification").value) == result.value


def test_missing_model_falls_back(harness, server):
    client = harness.client([server], model_overrides=((ROLE, "llama3.1:8b"),))
    assert client.model_chain(ROLE) == ["llama3.1:8b", BACKUP]
    result = score(client, "an ORM")
    assert result.model == BACKUP and result.record.fallback
    summary = client.metrics.lifetime.summary()
    assert summary["failed"] == 1 and summary["fallbacks"] == 1
    failed = [r for r in client.metrics.lifetime.records if not r.ok]
    assert "ollama pull llama3.1:8b" in failed[0].error


def test_every_model_failing_raises_with_the_chain(harness, server):
    client = harness.client([server], circuit_failures=100)
    server.inject("invalid_output", times=4)
    with pytest.raises(LLMError, match=r"every model in .* failed"):
        score(client, "a wiki")
    assert server.requests["/api/chat"] == 4


# ---- context window -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, output, loaded, limit, expected",
    [
        (100, 50, None, None, 2048),  # smallest bucket
        (1800, 100, None, None, 4096),  # (1800 + 100) * 1.1 = 2090 > 2048
        (1700, 100, None, None, 2048),  # 1980 fits the first bucket
        (3000, 500, None, None, 4096),
        (100, 50, 8192, None, 8192),  # a loaded size that fits is reused (no reload)
        (100, 50, 1024, None, 1024),  # ... even one smaller than the smallest bucket
        (3000, 500, 2048, None, 4096),  # a loaded size that is too small is not
        (20000, 1000, None, None, 32768),
        (20000, 1000, None, 8192, 8192),  # capped by the model's context length
        (90000, 1000, None, None, 32768),  # nothing fits: the largest bucket
    ],
)
def test_choose_num_ctx(prompt, output, loaded, limit, expected):
    assert choose_num_ctx(prompt, output, DEFAULT_BUCKETS, loaded=loaded, model_limit=limit) == expected


def test_choose_num_ctx_with_custom_unsorted_buckets():
    assert choose_num_ctx(1000, 100, (8192, 1024, 4096)) == 4096
    assert choose_num_ctx(500, 100, (8192, 1024, 4096)) == 1024


def test_estimate_tokens_overestimates_with_framing():
    messages = ({"role": "system", "content": "x" * 300}, {"role": "user", "content": "y" * 30})
    assert estimate_tokens(messages) == 100 + 4 + 10 + 4


def test_ollama_requests_carry_the_bucket_and_reuse_the_loaded_size(harness, server):
    client = harness.client([server])
    assert server.loaded == {}
    score(client, "a CI runner")
    assert server.chat_bodies[-1]["options"]["num_ctx"] == 2048  # bucket for a short prompt
    assert server.loads == 1 and server.loaded[OLLAMA_SMALL] == 2048

    server.set_loaded(OLLAMA_SMALL, 4096)  # another client loaded it larger
    score(client, "a secrets manager")
    assert server.chat_bodies[-1]["options"]["num_ctx"] == 4096  # reused: no reload
    assert server.loads == 1

    server.set_loaded(OLLAMA_SMALL, 64)  # too small for this prompt + max_tokens
    template = client.prompts.get("tiny_score")
    request = client.router.sized(
        ROLE, client.build_request(ROLE, template, template.render({"item": "x"}), OLLAMA_SMALL)
    )
    assert request.num_ctx == 2048


def test_a_cache_hit_asks_the_server_nothing(harness, server):
    client = harness.client([server])
    score(client, "a feature flag service")
    before = dict(server.requests)
    score(client, "a feature flag service")
    assert dict(server.requests) == before  # no /api/chat, no /api/ps, no /api/tags


# ---- embeddings ------------------------------------------------------------------------------------


def test_embed_many_batches_dedupes_and_caches(harness, server):
    client = harness.client([server])
    texts = ["hiring a data engineer", "raised a Series A", "hiring a data engineer", "opened an office in Berlin"]
    vectors = client.embed_many(texts)
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])
    assert server.requests["/api/embed"] == 1  # one batch of the 3 distinct texts

    again = client.embed_many(texts)
    assert np.array_equal(again, vectors)
    assert server.requests["/api/embed"] == 1
    summary = client.metrics.lifetime.summary()
    assert summary["cache_hits"] == 4 and summary["llm_calls"] == 1


# ---- metrics ------------------------------------------------------------------------------------------


def test_metrics_add_up_over_a_mixed_workload(harness, server):
    client = harness.client([server], stream=True, backoff_base_s=0.02)
    with client.metrics.track() as recorder:
        score(client, "a message broker")  # miss
        score(client, "a message broker")  # memory hit
        server.inject("503")
        score(client, "a tracing library")  # miss with one retry
        server.inject("invalid_output")
        score(client, "an API gateway")  # miss, repaired: two engine calls
        server.inject("slow_first_token", delay_s=0.8)
        barrier = threading.Barrier(3, timeout=10)

        def call(_):
            barrier.wait()
            return score(client, "a service mesh")

        with ThreadPoolExecutor(3) as pool:
            [f.result(timeout=60) for f in [pool.submit(call, i) for i in range(3)]]  # 1 miss + 2 coalesced

    summary = recorder.summary()
    assert summary["requests"] == 7
    assert summary["cache_hits"] == 1 and summary["coalesced"] == 2 and summary["misses"] == 4
    assert summary["llm_calls"] == 6 == server.requests["/api/chat"]
    assert summary["retries"] == 1 and summary["invalid_outputs"] == 1 and summary["repaired"] == 1
    assert summary["failed"] == 0 and summary["fallbacks"] == 0
    assert summary["tokens_in"] > 0 and summary["tokens_out"] > 0 and summary["tokens_per_s"] > 0
    assert summary["models"] == [OLLAMA_SMALL]
    assert_metrics_add_up(summary, server.requests["/api/chat"])
    # The lifetime recorder saw the same records.
    assert client.metrics.lifetime.summary()["requests"] == 7


# ---- health, warm-up and probe -------------------------------------------------------------------


def test_ensure_ready_warms_probes_and_runs_once(harness, server):
    client = harness.client([server])
    loads = client.ensure_ready(keep_alive="5m")
    assert any(key.startswith(f"{ROLE}:{OLLAMA_SMALL}@") for key in loads)
    assert server.requests["/api/version"] >= 1 and server.requests["/api/tags"] >= 1
    chats = server.requests["/api/chat"]
    assert chats >= 2  # a preload (empty messages) and a one-token probe per chat role
    assert client.ensure_ready() == loads
    assert server.requests["/api/chat"] == chats  # memoised: no second warm-up


def test_ensure_ready_names_the_missing_model_and_the_fix(harness, make_ollama_server):
    bare = make_ollama_server({OLLAMA_EMBED: EMBEDDER})  # the chat model was never pulled
    client = harness.client([bare])
    with pytest.raises(LLMHealthError) as failure:
        client.ensure_ready()
    message = str(failure.value)
    assert OLLAMA_SMALL in message and f"ollama pull {OLLAMA_SMALL}" in message
    assert "Traceback" not in message


# ---- racing ---------------------------------------------------------------------------------------


def test_racing_takes_the_first_valid_answer_and_cancels_the_slow_host(harness, make_ollama_server):
    slow, fast = make_ollama_server(SERVER_MODELS), make_ollama_server(SERVER_MODELS)
    slow.inject("slow_first_token", delay_s=20.0, times=None)
    client = harness.client([slow, fast], race=True)
    started = time.monotonic()
    completion = score(client, "an observability platform")
    elapsed = time.monotonic() - started
    assert 0 <= completion.value["score"] <= 100
    assert elapsed < 15  # the slow host's answer was not waited for
    record = completion.record
    assert record.raced and record.endpoint == fast.url and record.engine_calls == 2
    assert record.wasted_tokens == 0  # the loser was cancelled before its first token
    assert slow.requests["/api/chat"] == 1 and fast.requests["/api/chat"] == 1
    summary = client.metrics.lifetime.summary()
    assert summary["raced"] == 1 and summary["wasted_tokens"] == 0


def test_racing_counts_the_losers_tokens_as_waste(harness, make_ollama_server):
    first, second = make_ollama_server(SERVER_MODELS), make_ollama_server(SERVER_MODELS)
    client = harness.client([first, second], race=True)
    completion = score(client, "a data catalog")
    record = completion.record
    assert record.raced and record.engine_calls == 2
    # Both hosts run the same model on one CPU: the loser was either cancelled mid-stream or
    # finished just after the winner; either way its tokens are counted, never its answer.
    assert record.wasted_tokens >= 0 and record.completion_tokens > 0
    assert first.requests["/api/chat"] + second.requests["/api/chat"] == 2
