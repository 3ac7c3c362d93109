"""Router: model chains (quantized switch, overrides, fallbacks), digests from the first
endpoint that answers (real HTTP to Ollama-protocol test servers) and context sizing."""

from __future__ import annotations

import pytest
import yaml

from leadflow.llm.backends.ollama import OllamaBackend
from leadflow.llm.catalog import Catalog, load_catalog
from leadflow.llm.context_window import DEFAULT_BUCKETS
from leadflow.llm.pool import EndpointPool
from leadflow.llm.routing import Router
from leadflow.llm.types import ChatRequest, LLMError, RetryableError
from tests.llm.conftest import EMBEDDER, OLLAMA_EMBED, OLLAMA_SMALL, SMALL, score_messages

ROLE = "prefilter"
CHAIN_CATALOG = {
    "artifacts": {},
    "tiers": {
        "prefilter": {"ollama": {"model": "small:fp16", "quantized": "small:q4"}, "fallbacks": ["backup", "last"]},
        "backup": {"ollama": {"model": "backup:fp16", "quantized": "backup:q4"}},
        "last": {"ollama": {"model": "small:fp16", "quantized": "small:q4"}},  # repeats are dropped
    },
}


@pytest.fixture
def chain_catalog(tmp_path) -> Catalog:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(CHAIN_CATALOG))
    return load_catalog(path)


@pytest.fixture
def backends():
    made: list[OllamaBackend] = []

    def make(*urls: str) -> list[OllamaBackend]:
        made.extend(OllamaBackend(url) for url in urls)
        return made[-len(urls) :]

    yield make
    for backend in made:
        backend.close()


def router(catalog: Catalog, pool: EndpointPool, **kw) -> Router:
    settings = {"use_quantized": True, "model_overrides": (), "context_buckets": DEFAULT_BUCKETS, **kw}
    return Router(catalog, {ROLE: pool}, **settings)


def test_the_chain_follows_the_quantized_switch_and_puts_an_override_first(chain_catalog, backends):
    pool = EndpointPool(backends("http://127.0.0.1:9"), max_concurrency=1)  # never contacted
    assert router(chain_catalog, pool).model_chain(ROLE) == ["small:q4", "backup:q4"]
    assert router(chain_catalog, pool, use_quantized=False).model_chain(ROLE) == ["small:fp16", "backup:fp16"]
    override = router(chain_catalog, pool, model_overrides=((ROLE, "backup:q4"),))
    assert override.model_chain(ROLE) == ["backup:q4"]  # not repeated as its own fallback
    assert router(chain_catalog, pool, model_overrides=((ROLE, "big:8b"),)).model_chain(ROLE) == ["big:8b", "backup:q4"]
    with pytest.raises(LLMError, match="no endpoints configured for role 'dossier'"):
        router(chain_catalog, pool).pool("dossier")


def test_the_digest_comes_from_the_first_endpoint_that_answers_and_is_remembered(
    chain_catalog, backends, make_ollama_server
):
    broken, healthy = make_ollama_server(), make_ollama_server()
    broken.inject("reset", path="*", times=None)
    routes = router(chain_catalog, EndpointPool(backends(broken.url, healthy.url), max_concurrency=1))

    assert routes.model_digest(ROLE, OLLAMA_SMALL) == healthy.models[OLLAMA_SMALL].digest
    asked = (broken.requests["/api/tags"], healthy.requests["/api/tags"])
    assert routes.model_digest(ROLE, OLLAMA_SMALL) == healthy.models[OLLAMA_SMALL].digest
    assert (broken.requests["/api/tags"], healthy.requests["/api/tags"]) == asked  # no host asked again
    assert routes.model_digest(ROLE, OLLAMA_EMBED) == healthy.models[OLLAMA_EMBED].digest  # per model


def test_no_endpoint_answering_raises_the_last_error(chain_catalog, backends, make_ollama_server):
    down = [make_ollama_server(), make_ollama_server()]
    for server in down:
        server.inject("reset", path="*", times=None)
    routes = router(chain_catalog, EndpointPool(backends(*(s.url for s in down)), max_concurrency=1))
    with pytest.raises(RetryableError):
        routes.model_digest(ROLE, OLLAMA_SMALL)
    assert [s.requests["/api/tags"] for s in down] == [1, 1]


def test_the_context_is_a_bucket_or_the_loaded_size(chain_catalog, backends, make_ollama_server):
    server = make_ollama_server({OLLAMA_SMALL: SMALL, OLLAMA_EMBED: EMBEDDER})
    routes = router(chain_catalog, EndpointPool(backends(server.url), max_concurrency=1), context_buckets=(1024, 4096))
    short = ChatRequest(model=OLLAMA_SMALL, messages=score_messages("a linter"), max_tokens=32)
    long = ChatRequest(model=OLLAMA_SMALL, messages=score_messages("x" * 6000), max_tokens=32)
    assert routes.sized(ROLE, short).num_ctx == 1024
    assert routes.sized(ROLE, long).num_ctx == 4096  # ~2000 tokens + output do not fit 1024
    server.set_loaded(OLLAMA_SMALL, 8192)
    assert routes.sized(ROLE, long).num_ctx == 8192  # the loaded size fits: no reload
    assert {**routes.sized(ROLE, short).__dict__, "num_ctx": None} == short.__dict__  # nothing else changes
