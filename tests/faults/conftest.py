"""Real parts for the fault matrix: the LLM server process, clients built by the production
factory (`build_client`) over a small catalog and a one-word template, and their cache files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from leadflow.llm.client import ClientSettings, Completion, LLMClient
from leadflow.llm.factory import LLMSettings, build_client
from leadflow.llm.types import Timeouts
from leadflow.paths import RESOURCES_DIR
from tests.faults.llm_server import LLMServer

ROLE = "prefilter"
TEMPLATE = "verdict"
SMALL = "leadflow-small"  # llama.cpp serves its one model under any name: two names, two tiers
BACKUP = "leadflow-backup"
CATALOG = {
    "artifacts": {},
    "tiers": {
        "prefilter": {
            "openai": {"model": SMALL, "quantized": SMALL},
            "ollama": {"model": SMALL, "quantized": SMALL},
            "fallbacks": ["backup"],
        },
        "backup": {"openai": {"model": BACKUP, "quantized": BACKUP}, "ollama": {"model": BACKUP, "quantized": BACKUP}},
        "dossier": {"openai": {"model": SMALL, "quantized": SMALL}, "ollama": {"model": SMALL, "quantized": SMALL}},
        "embed": {"openai": {"model": SMALL, "quantized": SMALL}, "ollama": {"model": SMALL, "quantized": SMALL}},
    },
}
# A one-word answer (about ten tokens with the model's whitespace) keeps real inference cheap.
VERDICT_TEMPLATE = {
    "id": TEMPLATE,
    "version": 1,
    "role": ROLE,
    "description": "Is the item useful to a software team (one word of JSON).",
    "variables": ["item"],
    "defaults": {"max_tokens": 24, "temperature": 0.0, "seed": 7},
    "messages": [
        {"role": "system", "content": "Is the item useful to a software team? Answer with JSON only."},
        {"role": "user", "content": "Item: {item}"},
    ],
    "output_schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["verdict"],
        "properties": {"verdict": {"type": "string", "enum": ["yes", "no"]}},
    },
}
TIMEOUTS = Timeouts(connect_s=2.0, first_token_s=30.0, total_s=60.0)


def ask(client: LLMClient, item: str) -> Completion:
    return client.complete_json(ROLE, TEMPLATE, {"item": item})


@pytest.fixture(scope="module")
def llm_server(model_dir: Path) -> Iterator[LLMServer]:
    """One server process for a module's tests; each test starts with no fault and zero counts."""
    server = LLMServer(model_dir).start()
    yield server
    server.close()


@pytest.fixture
def server(llm_server: LLMServer) -> LLMServer:
    llm_server.reset()
    return llm_server


@pytest.fixture
def make_client(tmp_path: Path, model_dir: Path) -> Iterator[Callable[..., LLMClient]]:
    """make_client(urls, backend=..., cache_path=..., redis_url=..., **ClientSettings fields): a
    client as `LLMResource` builds it, over the small catalog (the bundled one for the embedded
    backend). Every client of a test shares one SQLite cache file; cache_path="" has none."""
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / f"{TEMPLATE}.yaml").write_text(yaml.safe_dump(VERDICT_TEMPLATE, sort_keys=False))
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(CATALOG))
    clients: list[LLMClient] = []

    def make(
        urls: list[str], backend: str = "openai", cache_path: str | None = None, redis_url: str = "", **policy: Any
    ) -> LLMClient:
        catalog = RESOURCES_DIR / "models.yaml" if backend == "embedded" else tmp_path / "models.yaml"
        client = build_client(
            LLMSettings(
                backend=backend,
                base_urls=tuple(urls),
                embed_backend="",
                embed_base_urls=(),
                api_key="",
                max_concurrency=2,  # the server's two slots
                threads=1,
                model_dir=str(model_dir),
                catalog_path=str(catalog),
                prompts_dir=str(tmp_path / "prompts"),
                cache_memory_mb=8,
                cache_path=str(tmp_path / "llm_cache.sqlite") if cache_path is None else cache_path,
                redis_url=redis_url,
                ttl_days=(),
                keep_alive="5m",
                concurrency_path="",  # the fault tests set max_concurrency themselves
                client=ClientSettings(
                    **{"max_retries": 3, "backoff_base_s": 0.05, "backoff_cap_s": 0.2, "timeouts": TIMEOUTS, **policy}
                ),
            )
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        for pool in client.pools.values():
            for backend in pool.backends:
                backend.close()
        if client.cache is not None:
            client.cache.close()
