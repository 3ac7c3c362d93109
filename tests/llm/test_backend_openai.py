"""OpenAIBackend against a real OpenAI-compatible server: the HTTP API that each loaded
xllamacpp engine serves at `EngineHandle.listening_address` (llama.cpp server routes)."""

from __future__ import annotations

import json
import socket
import time

import httpx
import jsonschema
import numpy as np
import pytest

from leadflow.llm.backends.openai import OpenAIBackend
from leadflow.llm.types import ChatRequest, RequestRejected, RetryableError, Timeouts
from tests.llm.conftest import EMBEDDER, SCORE_SCHEMA, score_messages

FAST = Timeouts(connect_s=2.0, first_token_s=60.0, total_s=120.0)
MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"  # llama.cpp answers for any name with its one model


@pytest.fixture
def chat_backend(chat_engine):
    backend = OpenAIBackend(chat_engine.listening_address)
    yield backend
    backend.close()


@pytest.fixture
def embed_backend(embed_engine):
    backend = OpenAIBackend(embed_engine.listening_address)
    yield backend
    backend.close()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_chat_with_json_schema_validates(chat_backend, chat_engine, stream):
    request = ChatRequest(
        model=MODEL,
        messages=score_messages("a type checker for Python"),
        max_tokens=32,
        temperature=0.0,
        seed=7,
        schema=SCORE_SCHEMA,
        stream=stream,
    )
    response = chat_backend.chat(request, FAST)

    jsonschema.validate(json.loads(response.text), SCORE_SCHEMA)
    assert response.finish_reason == "stop" and not response.truncated
    assert response.endpoint == chat_engine.listening_address
    assert response.prompt_tokens > 10 and 0 < response.completion_tokens <= 32
    assert 0 <= response.cached_prompt_tokens <= response.prompt_tokens
    if stream:
        assert response.first_token_s is not None and 0 < response.first_token_s <= response.total_s
    else:
        assert response.first_token_s is None


def test_streamed_truncation_reports_length(chat_backend):
    request = ChatRequest(model=MODEL, messages=score_messages("a debugger"), max_tokens=3, stream=True)
    response = chat_backend.chat(request, FAST)
    assert response.truncated and response.completion_tokens == 3


def test_a_schema_the_server_cannot_compile_is_rejected(chat_backend):
    request = ChatRequest(model=MODEL, messages=score_messages("x"), max_tokens=4, schema={"type": "no-such-type"})
    with pytest.raises(RequestRejected, match="400"):
        chat_backend.chat(request, FAST)


def test_embeddings_match_the_in_process_engine(embed_backend, embedded):
    texts = ["Series B funding round closed", "The company raised new venture capital", "Sourdough bread recipe"]
    response = embed_backend.embed("all-minilm-l6-v2", texts, FAST)

    vectors = np.asarray(response.vectors)
    assert vectors.shape == (3, 384)
    assert response.prompt_tokens > 0
    direct = np.asarray(embedded.embed(EMBEDDER, texts, FAST).vectors)
    cos = (vectors * direct).sum(1) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(direct, axis=1))
    assert np.all(cos > 0.9999)  # same model, same order
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2]


def test_health_and_digest_from_v1_models(chat_backend, chat_engine):
    report = chat_backend.health([MODEL])
    assert report.ok and report.reachable, report.problems
    info = report.models[MODEL]
    assert info.digest.startswith("meta:") and len(info.digest) == len("meta:") + 64
    assert info.context_length == 32768  # llama.cpp reports n_ctx_train in `meta`
    assert chat_backend.model_digest(MODEL) == info.digest


def test_digest_is_stable_across_clients_and_time(chat_engine):
    """The digest is part of every cache key: it must not change while the model does not.

    llama.cpp fills `created` in /v1/models with the current time, so a fingerprint over the
    whole entry would change every second and no cached answer would ever hit again in a new
    process. Poll (bounded) until the server's clock field has moved, then compare."""
    first = OpenAIBackend(chat_engine.listening_address)
    try:
        digest = first.model_digest(MODEL)
        created = httpx.get(f"{chat_engine.listening_address}/v1/models", timeout=5).json()["data"][0]["created"]
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            now = httpx.get(f"{chat_engine.listening_address}/v1/models", timeout=5).json()["data"][0]["created"]
            if now != created:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the server's `created` field did not change within 5 s")
    finally:
        first.close()
    second = OpenAIBackend(chat_engine.listening_address)
    try:
        assert second.model_digest(MODEL) == digest
    finally:
        second.close()


def test_embedder_and_chat_model_have_different_digests(chat_backend, embed_backend):
    assert chat_backend.model_digest(MODEL) != embed_backend.model_digest("all-minilm-l6-v2")


def test_unreachable_server_is_retryable_and_unhealthy():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(f"http://127.0.0.1:{port}")
    try:
        report = backend.health([MODEL])
        assert not report.reachable and "not reachable" in report.problems[0]
        with pytest.raises(RetryableError):
            backend.chat(
                ChatRequest(model=MODEL, messages=score_messages("x"), max_tokens=4),
                Timeouts(connect_s=1.0, first_token_s=2.0, total_s=5.0),
            )
    finally:
        backend.close()
