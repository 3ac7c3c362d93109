"""Shared real parts for the LLM-layer tests: the model catalog, the embedded engines (loaded
once per session) and Ollama-protocol test servers backed by them.

Only the small chat model (Qwen2.5-Coder-0.5B Q4_K_M) and the MiniLM embedder are used: the
1.5B model is far too slow for a test run on two cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leadflow.llm.backends.embedded import EmbeddedBackend, EngineHandle
from leadflow.llm.catalog import Catalog, load_catalog
from leadflow.paths import RESOURCES_DIR
from tests.ollama_server import OllamaTestServer

REPO = Path(__file__).resolve().parents[2]
SMALL = "qwen2.5-coder-0.5b-instruct-q4_k_m"
EMBEDDER = "all-minilm-l6-v2-q8_0"
OLLAMA_SMALL = "qwen2.5-coder:0.5b-instruct-q4_K_M"
OLLAMA_EMBED = "all-minilm:l6-v2"
ENGINE_CTX = 4096  # per slot; the Ollama test server never asks the engine for more

# A bounded schema (every number has a maximum) and a short prompt keep generations ~10 tokens.
SCORE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["score", "verdict"],
    "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
        "verdict": {"type": "string", "enum": ["yes", "no"]},
    },
}


def score_messages(item: str) -> tuple[dict[str, str], ...]:
    return (
        {"role": "system", "content": "Rate how useful the item is for a software team. Answer with JSON only."},
        {"role": "user", "content": f"Item: {item}"},
    )


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return Path(os.environ.get("LEADFLOW_MODEL_DIR") or REPO / ".leadflow" / "models")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(RESOURCES_DIR / "models.yaml")


@pytest.fixture(scope="session")
def embedded(catalog: Catalog, model_dir: Path) -> EmbeddedBackend:
    return EmbeddedBackend(catalog, model_dir, n_parallel=2, threads=2)


@pytest.fixture(scope="session")
def chat_engine(embedded: EmbeddedBackend) -> EngineHandle:
    """The small chat model, loaded once (the module registry shares it with every backend)."""
    return embedded.engine(SMALL, ENGINE_CTX)


@pytest.fixture(scope="session")
def embed_engine(embedded: EmbeddedBackend) -> EngineHandle:
    return embedded.engine(EMBEDDER, embedding=True)


@pytest.fixture
def make_ollama_server(embedded: EmbeddedBackend, chat_engine: EngineHandle, embed_engine: EngineHandle):
    """Factory for Ollama-protocol servers over the shared engines; all closed at teardown."""
    servers: list[OllamaTestServer] = []

    def make(models: dict[str, str] | None = None) -> OllamaTestServer:
        server = OllamaTestServer(embedded, models=models).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def ollama_server(make_ollama_server) -> OllamaTestServer:
    return make_ollama_server()
