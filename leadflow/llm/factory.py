"""Build an `LLMClient` from plain settings: backends per role, endpoint pools and cache tiers.

Dagster-free (the Dagster resource, the CLI and the benchmark all call it). Clients are
memoised per process and settings, so Dagster building a resource per step does not reload
models or reopen caches.
"""

import threading
from dataclasses import dataclass, field
from pathlib import Path

from leadflow.llm.backends.base import Backend
from leadflow.llm.backends.embedded import EmbeddedBackend
from leadflow.llm.backends.ollama import OllamaBackend
from leadflow.llm.backends.openai import OpenAIBackend
from leadflow.llm.cache import build_cache
from leadflow.llm.catalog import ROLES, Catalog, load_catalog
from leadflow.llm.client import ClientSettings, LLMClient
from leadflow.llm.concurrency import AUTO_SLOTS, SizingStore
from leadflow.llm.pool import EndpointPool
from leadflow.llm.prompts import PromptLibrary

DAY_S = 86400.0


@dataclass(frozen=True, kw_only=True)
class LLMSettings:
    """Everything `build_client` needs, resolved. No defaults: `LLMResource` declares them once.
    The secrets (API key, a Redis URL's password) are left out of the repr."""

    backend: str  # embedded | ollama | openai
    base_urls: tuple[str, ...]  # several URLs form a pool (least-busy routing)
    embed_backend: str  # "" = same as `backend`
    embed_base_urls: tuple[str, ...]  # () = same as `base_urls`
    api_key: str = field(repr=False)
    max_concurrency: int  # 0 = sized to the engine (`concurrency`)
    concurrency_path: str  # where calibrated concurrencies are remembered; "" = nowhere
    threads: int
    model_dir: str
    catalog_path: str
    prompts_dir: str
    cache_memory_mb: int  # 0 = no memory tier
    cache_path: str  # "" = no persistent tier
    redis_url: str = field(repr=False)  # "" = no Redis tier
    ttl_days: tuple[tuple[str, float], ...]  # (cache kind, days); 0 = never expires
    keep_alive: str
    client: ClientSettings


def _backends(kind: str, urls: tuple[str, ...], settings: LLMSettings, catalog: Catalog) -> list[Backend]:
    if kind == "embedded":
        slots = settings.max_concurrency or AUTO_SLOTS
        return [EmbeddedBackend(catalog, Path(settings.model_dir), slots, settings.threads)]
    if not urls:
        raise ValueError(f"backend {kind!r} needs at least one base URL")
    if kind == "ollama":
        return [OllamaBackend(url, keep_alive=settings.keep_alive) for url in urls]
    if kind == "openai":
        return [OpenAIBackend(url, api_key=settings.api_key) for url in urls]
    raise ValueError(f"unknown backend {kind!r}: use embedded, ollama or openai")


def build_client(settings: LLMSettings) -> LLMClient:
    catalog = load_catalog(Path(settings.catalog_path))
    chat = _backends(settings.backend, settings.base_urls, settings, catalog)
    embed_kind = settings.embed_backend or settings.backend
    embed = (
        chat
        if embed_kind == settings.backend and not settings.embed_base_urls
        else _backends(embed_kind, settings.embed_base_urls or settings.base_urls, settings, catalog)
    )
    store = SizingStore(Path(settings.concurrency_path)) if settings.concurrency_path else None
    pools = {
        role: EndpointPool(
            embed if role == "embed" else chat,
            max_concurrency=settings.max_concurrency,
            circuit_failures=settings.client.circuit_failures,
            circuit_cooldown_s=settings.client.circuit_cooldown_s,
            sizing_store=store,
        )
        for role in ROLES
    }
    cache = build_cache(
        memory_max_bytes=settings.cache_memory_mb * 1024 * 1024,
        sqlite_path=settings.cache_path or None,
        redis_url=settings.redis_url or None,
        ttl_by_kind={kind: days * DAY_S if days else None for kind, days in settings.ttl_days},
    )
    return LLMClient(catalog, PromptLibrary(Path(settings.prompts_dir)), pools, cache, settings.client)


_CLIENTS: dict[LLMSettings, LLMClient] = {}
_LOCK = threading.Lock()


def shared_client(settings: LLMSettings) -> LLMClient:
    """One client per process and settings: models load once per run, caches stay warm. The
    prompt files are looked at again, so the work asking for the client sees them as they are."""
    with _LOCK:
        if settings not in _CLIENTS:
            _CLIENTS[settings] = build_client(settings)
        client = _CLIENTS[settings]
    client.prompts.recheck()
    return client
