"""OllamaBackend over real HTTP against an Ollama-protocol server backed by real inference
(tests/ollama_server.py), including every error class the client's policy depends on."""

from __future__ import annotations

import json
import time

import httpx
import jsonschema
import numpy as np
import pytest

from leadflow.llm.backends.ollama import OllamaBackend
from leadflow.llm.types import (
    ChatRequest,
    LLMError,
    ModelMissing,
    RequestRejected,
    RetryableError,
    TimeoutError_,
    Timeouts,
)
from tests.llm.conftest import EMBEDDER, OLLAMA_EMBED, OLLAMA_SMALL, SCORE_SCHEMA, score_messages

FAST = Timeouts(connect_s=2.0, first_token_s=60.0, total_s=120.0)


@pytest.fixture
def backend(ollama_server):
    backend = OllamaBackend(ollama_server.url, keep_alive="5m")
    yield backend
    backend.close()


def _request(stream: bool, item: str = "a fast JSON parser", **kw) -> ChatRequest:
    return ChatRequest(
        model=OLLAMA_SMALL,
        messages=score_messages(item),
        max_tokens=32,
        temperature=0.0,
        seed=7,
        num_ctx=2048,
        schema=SCORE_SCHEMA,
        stream=stream,
        **kw,
    )


# ---- real answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["single-object", "ndjson-stream"])
def test_chat_is_schema_valid_and_carries_ollama_options(backend, ollama_server, stream):
    response = backend.chat(_request(stream), FAST)

    value = json.loads(response.text)
    jsonschema.validate(value, SCORE_SCHEMA)
    assert response.finish_reason == "stop" and not response.truncated
    assert response.model == OLLAMA_SMALL
    assert response.endpoint == ollama_server.url
    assert response.prompt_tokens > 10 and 0 < response.completion_tokens <= 32
    assert (response.first_token_s is not None) is stream
    if stream:
        assert 0 < response.first_token_s <= response.total_s

    sent = ollama_server.chat_bodies[-1]
    assert sent["stream"] is stream
    assert sent["format"] == SCORE_SCHEMA  # the full schema, not just "json"
    assert sent["options"] == {"temperature": 0.0, "seed": 7, "num_predict": 32, "num_ctx": 2048}
    assert sent["keep_alive"] == "5m"
    assert ollama_server.requests["/api/chat"] == 1
    assert ollama_server.inferences["/api/chat"] == 1


def test_truncated_answer_reports_length(backend):
    request = ChatRequest(model=OLLAMA_SMALL, messages=score_messages("a linter"), max_tokens=3, stream=True)
    response = backend.chat(request, FAST)
    assert response.finish_reason == "length" and response.truncated
    assert response.completion_tokens == 3


def test_embed_is_batched_normalized_and_matches_the_engine(backend, ollama_server, embedded):
    texts = [
        "We are hiring a senior backend engineer.",
        "Job opening: experienced server-side developer wanted.",
        "My cat sleeps on the windowsill.",
    ]
    response = backend.embed(OLLAMA_EMBED, texts, FAST)

    assert ollama_server.requests["/api/embed"] == 1  # one batched request
    vectors = np.asarray(response.vectors)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert response.prompt_tokens > 0
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    direct = np.asarray(embedded.embed(EMBEDDER, texts, FAST).vectors)
    direct /= np.linalg.norm(direct, axis=1, keepdims=True)
    assert np.allclose((vectors * direct).sum(axis=1), 1.0, atol=1e-4)


def test_health_lists_models_with_digest_and_quantization(backend, ollama_server):
    report = backend.health([OLLAMA_SMALL, OLLAMA_EMBED])
    assert report.ok, report.problems
    assert report.reachable and report.version == "0.12.0-leadflow-test"
    small = report.models[OLLAMA_SMALL]
    assert small.quantization == "Q4_K_M" and len(small.digest) == 64
    assert report.models[OLLAMA_EMBED].quantization == "Q8_0"
    assert backend.model_digest(OLLAMA_SMALL) == small.digest
    assert backend.model_digest(OLLAMA_SMALL) == ollama_server.models[OLLAMA_SMALL].digest

    missing = backend.health([OLLAMA_SMALL, "llama3.1:8b"])
    assert not missing.ok and missing.reachable
    assert len(missing.problems) == 1 and "ollama pull llama3.1:8b" in missing.problems[0]


def test_health_of_an_unreachable_host(ollama_server):
    url = ollama_server.url
    ollama_server.close()
    backend = OllamaBackend(url)
    try:
        report = backend.health([OLLAMA_SMALL])
        assert not report.reachable and not report.ok
        assert "not reachable" in report.problems[0]
        with pytest.raises(RetryableError):
            backend.chat(_request(False), Timeouts(connect_s=1, first_token_s=2, total_s=5))
        assert backend.loaded_context(OLLAMA_SMALL) is None
    finally:
        backend.close()


def test_warm_and_loaded_context_follow_num_ctx(backend, ollama_server):
    assert backend.loaded_context(OLLAMA_SMALL) is None  # nothing loaded yet (/api/ps empty)
    assert backend.warm(OLLAMA_SMALL, "10m") >= 0.0
    assert ollama_server.loads == 1
    assert backend.loaded_context(OLLAMA_SMALL) == ollama_server.default_num_ctx
    ollama_server.set_loaded(OLLAMA_SMALL, 8192)
    assert backend.loaded_context(OLLAMA_SMALL) == 8192
    assert ollama_server.inferences["/api/chat"] == 0  # warming generates nothing


# ---- classified errors -------------------------------------------------------------------------


def test_unknown_model_is_model_missing_with_pull_hint(backend, ollama_server):
    request = ChatRequest(model="llama3.1:8b", messages=score_messages("x"), max_tokens=8)
    with pytest.raises(ModelMissing) as info:
        backend.chat(request, FAST)
    assert info.value.model == "llama3.1:8b"
    assert "llama3.1:8b" in str(info.value) and "ollama pull llama3.1:8b" in str(info.value)
    with pytest.raises(ModelMissing):
        backend.model_digest("llama3.1:8b")
    with pytest.raises(ModelMissing):
        backend.embed("nomic-embed-text", ["x"], FAST)
    assert ollama_server.inferences["/api/chat"] == 0


def test_404_fault_for_a_known_model_is_model_missing(backend, ollama_server):
    ollama_server.inject("404")
    with pytest.raises(ModelMissing, match="ollama pull"):
        backend.chat(_request(True), FAST)
    assert not ollama_server.pending_faults()


@pytest.mark.parametrize("stream", [False, True])
def test_503_queue_full_is_retryable_with_status(backend, ollama_server, stream):
    ollama_server.inject("503")
    ollama_server.inject("503", retry_after="2")
    with pytest.raises(RetryableError) as first:
        backend.chat(_request(stream), FAST)
    assert first.value.status == 503 and first.value.retry_after_s is None
    assert "maximum pending requests exceeded" in str(first.value)
    assert not isinstance(first.value, TimeoutError_)
    with pytest.raises(RetryableError) as second:
        backend.chat(_request(stream), FAST)
    assert second.value.status == 503 and second.value.retry_after_s == 2.0
    assert ollama_server.requests["/api/chat"] == 2 and ollama_server.inferences["/api/chat"] == 0


def test_503_on_embed_is_retryable(backend, ollama_server):
    ollama_server.inject("503", path="/api/embed")
    with pytest.raises(RetryableError) as info:
        backend.embed(OLLAMA_EMBED, ["a"], FAST)
    assert info.value.status == 503


@pytest.mark.parametrize("stream", [False, True])
def test_server_error_is_retryable(backend, ollama_server, stream):
    ollama_server.inject("error_mid_stream" if stream else "500", message="llama runner crashed")
    with pytest.raises(RetryableError, match="llama runner crashed") as info:
        backend.chat(_request(stream), FAST)
    assert not isinstance(info.value, TimeoutError_)


def test_error_mid_stream_is_retryable(backend, ollama_server):
    ollama_server.inject("error_mid_stream", chunks=3, message="CUDA out of memory")
    with pytest.raises(RetryableError, match="mid-stream: CUDA out of memory"):
        backend.chat(_request(True), FAST)


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_response_is_retryable(backend, ollama_server, stream):
    ollama_server.inject("malformed")
    with pytest.raises(RetryableError, match="malformed"):
        backend.chat(_request(stream), FAST)


@pytest.mark.parametrize("stream", [False, True])
def test_connection_reset_is_retryable(backend, ollama_server, stream):
    ollama_server.inject("reset")
    with pytest.raises(RetryableError) as info:
        backend.chat(_request(stream), FAST)
    assert isinstance(info.value.__cause__, httpx.TransportError)
    assert not isinstance(info.value, TimeoutError_)


def test_reset_on_health_paths_is_unreachable(backend, ollama_server):
    ollama_server.inject("reset", path="/api/version")
    report = backend.health([OLLAMA_SMALL])
    assert not report.reachable and "not reachable" in report.problems[0]


@pytest.mark.parametrize("stream", [False, True])
def test_slow_first_token_beyond_limit_times_out(backend, ollama_server, stream):
    ollama_server.inject("slow_first_token", delay_s=3.0)
    timeouts = Timeouts(connect_s=2.0, first_token_s=0.5, total_s=30.0)
    started = time.monotonic()
    with pytest.raises(TimeoutError_, match="timed out"):
        backend.chat(_request(stream), timeouts)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 2.5  # gave up at the first-token limit, not after the server's delay


def test_bad_request_fails_fast(backend, ollama_server):
    ollama_server.inject("400")
    with pytest.raises(RequestRejected, match="400") as info:
        backend.chat(_request(False), FAST)
    assert not isinstance(info.value, RetryableError)
    assert isinstance(info.value, LLMError)


def test_server_rejects_a_wrong_request_body(backend, ollama_server):
    # A real 400 (no scripted fault): the server cannot parse `format`.
    request = ChatRequest(model=OLLAMA_SMALL, messages=score_messages("x"), max_tokens=8, schema="yaml")  # type: ignore[arg-type]
    with pytest.raises(RequestRejected, match="invalid format"):
        backend.chat(request, FAST)
