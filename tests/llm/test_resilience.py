"""Retries, failover and racing over real parts: endpoint pools of OllamaBackends talking HTTP
to Ollama-protocol test servers backed by real inference (embeddings for the retry tests,
they are cheap; the small chat model for racing)."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest

from leadflow.llm.backends.base import Backend
from leadflow.llm.backends.ollama import OllamaBackend
from leadflow.llm.metrics import CallRecord
from leadflow.llm.pool import EndpointPool
from leadflow.llm.resilience import RetryPolicy, race, with_retries
from leadflow.llm.types import ChatRequest, CircuitOpen, EmbedResponse, RequestRejected, RetryableError, Timeouts
from tests.llm.conftest import EMBEDDER, OLLAMA_EMBED, OLLAMA_SMALL, SCORE_SCHEMA, SMALL, score_messages

MODELS = {OLLAMA_SMALL: SMALL, OLLAMA_EMBED: EMBEDDER}
TIMEOUTS = Timeouts(connect_s=2.0, first_token_s=60.0, total_s=120.0)
FAST = RetryPolicy(max_retries=3, backoff_base_s=0.01, backoff_cap_s=0.05)


@pytest.fixture
def pool_of(make_ollama_server):
    """pool_of(n, **pool_kw) -> (pool, servers): n test servers behind one EndpointPool."""
    backends: list[Backend] = []

    def make(n: int, **kw) -> tuple[EndpointPool, list]:
        servers = [make_ollama_server(MODELS) for _ in range(n)]
        chosen: list[Backend] = [OllamaBackend(s.url) for s in servers]
        backends.extend(chosen)
        return EndpointPool(chosen, **{"max_concurrency": 1, "circuit_failures": 10, **kw}), servers

    yield make
    for backend in backends:
        backend.close()


def embed_once(pool: EndpointPool, record: CallRecord, policy: RetryPolicy = FAST) -> EmbedResponse:
    return with_retries(
        pool, OLLAMA_EMBED, record, lambda b: b.embed(OLLAMA_EMBED, ["hiring a data engineer"], TIMEOUTS), policy
    )


def new_record(model: str = OLLAMA_EMBED) -> CallRecord:
    return CallRecord(role="embed", template="embed", model=model)


# ---- backoff --------------------------------------------------------------------------------------


def test_retry_after_is_honoured_up_to_the_cap():
    policy = RetryPolicy(max_retries=3, backoff_base_s=0.5, backoff_cap_s=8.0)
    assert policy.delay(0, 2.0) == 2.0
    assert policy.delay(5, 0.0) == 0.0
    assert policy.delay(0, 30.0) == 8.0


@pytest.mark.parametrize("attempt, ceiling", [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (7, 8.0)])
def test_backoff_is_jittered_exponential_and_capped(attempt, ceiling):
    policy = RetryPolicy(max_retries=3, backoff_base_s=0.5, backoff_cap_s=8.0)
    delays = [policy.delay(attempt, None) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 100  # jittered: retrying workers do not stampede


# ---- retries and failover ---------------------------------------------------------------------------


def test_a_retryable_failure_moves_to_the_other_endpoint(pool_of):
    pool, (first, second) = pool_of(2)
    first.inject("503", path="/api/embed")
    record = new_record()
    response = embed_once(pool, record)

    assert len(response.vectors) == 1 and len(response.vectors[0]) == 384
    assert record.retries == 1 and record.engine_calls == 2 and record.endpoint == second.url
    assert first.requests["/api/embed"] == 1 and second.requests["/api/embed"] == 1
    failed, served = (pool.stats(b, OLLAMA_EMBED) for b in pool.backends)
    assert failed.consecutive_failures == 1 and served.consecutive_failures == 0  # held against the failed one
    assert failed.in_flight == served.in_flight == 0  # every slot given back


def test_retries_stop_after_max_retries_with_the_servers_error(pool_of):
    pool, (server,) = pool_of(1)
    server.inject("503", path="/api/embed", times=None)
    record = new_record()
    with pytest.raises(RetryableError, match="busy"):  # the error itself, not a wrapper
        embed_once(pool, record, RetryPolicy(max_retries=2, backoff_base_s=0.01, backoff_cap_s=0.05))
    assert server.requests["/api/embed"] == 3  # the one endpoint is retried when it is the only one
    assert record.retries == 2 and record.engine_calls == 3
    assert pool.stats(pool.backends[0], OLLAMA_EMBED).consecutive_failures == 3


def test_retry_after_delays_the_next_attempt(pool_of):
    pool, (server,) = pool_of(1)
    server.inject("503", path="/api/embed", retry_after="1")
    record = new_record()
    started = time.monotonic()
    embed_once(pool, record, RetryPolicy(max_retries=3, backoff_base_s=0.01, backoff_cap_s=5.0))
    assert time.monotonic() - started >= 1.0
    assert record.retries == 1 and record.engine_calls == 2


def test_a_rejected_request_is_not_retried_or_held_against_the_endpoint(pool_of):
    pool, (server,) = pool_of(1)
    server.inject("400", path="/api/embed")
    record = new_record()
    with pytest.raises(RequestRejected):
        embed_once(pool, record)
    assert server.requests["/api/embed"] == 1 and record.retries == 0 and record.engine_calls == 1
    stats = pool.stats(pool.backends[0], OLLAMA_EMBED)
    assert stats.consecutive_failures == 0 and stats.in_flight == 0


# ---- racing -------------------------------------------------------------------------------------------

REQUEST = ChatRequest(
    model=OLLAMA_SMALL, messages=score_messages("a linter"), max_tokens=32, seed=7, schema=SCORE_SCHEMA
)


def test_a_race_gives_back_both_slots(pool_of):
    pool, servers = pool_of(2)
    record = new_record(OLLAMA_SMALL)
    response = race(pool, REQUEST, record, lambda r: not r.truncated, TIMEOUTS)

    jsonschema.validate(json.loads(response.text), SCORE_SCHEMA)
    assert record.raced and record.engine_calls == 2
    assert record.endpoint in {s.url for s in servers}
    assert [s.requests["/api/chat"] for s in servers] == [1, 1]  # the two racers took different hosts
    stats = [pool.stats(b, OLLAMA_SMALL) for b in pool.backends]
    deadline = time.monotonic() + 30
    while any(s.in_flight for s in stats) and time.monotonic() < deadline:
        time.sleep(0.05)  # the loser gives its slot back once its cancelled stream stops
    assert [s.in_flight for s in stats] == [0, 0] and [s.peak_in_flight for s in stats] == [1, 1]


def test_a_race_with_every_circuit_open_raises_and_calls_no_engine(pool_of):
    pool, servers = pool_of(2, circuit_failures=1, circuit_cooldown_s=60.0)
    for backend in pool.backends:
        pool.report(backend, OLLAMA_SMALL, ok=False)
    record = new_record(OLLAMA_SMALL)
    with pytest.raises(CircuitOpen):
        race(pool, REQUEST, record, lambda r: not r.truncated, TIMEOUTS)
    assert record.raced and record.engine_calls == 0 and record.wasted_tokens == 0
    assert [s.requests["/api/chat"] for s in servers] == [0, 0]
    assert [pool.stats(b, OLLAMA_SMALL).in_flight for b in pool.backends] == [0, 0]
