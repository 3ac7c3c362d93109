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
from leadflow.llm.catalog import ROLES, load_catalog
from leadflow.llm.client import ClientSettings, LLMClient
from leadflow.llm.pool import EndpointPool
from leadflow.llm.prompts import PromptLibrary
from leadflow.paths import PROMPTS_DIR, RESOURCES_DIR

DAY_S = 86400.0


@dataclass(frozen=True)
class LLMSettings:
    backend: str = "embedded"  # embedded | ollama | openai
    base_urls: tuple[str, ...] = ()  # several URLs form a pool (least-busy routing)
    embed_backend: str = ""  # "" = same as `backend`
    embed_base_urls: tuple[str, ...] = ()
    api_key: str = ""
    model_overrides: tuple[tuple[str, str], ...] = ()
    use_quantized: bool = True
    max_concurrency: int = 2
    threads: int = 2
    model_dir: str = ".leadflow/models"
    catalog_path: str = str(RESOURCES_DIR / "models.yaml")
    prompts_dir: str = str(PROMPTS_DIR)
    cache_memory_mb: int = 64
    cache_path: str = ".leadflow/llm_cache.sqlite"
    redis_url: str = ""
    ttl_days: tuple[tuple[str, float], ...] = (("classification", 30.0), ("dossier", 14.0), ("embedding", 90.0))
    keep_alive: str = "30m"
    client: ClientSettings = field(default_factory=ClientSettings)


def _backends(kind: str, urls: tuple[str, ...], settings: LLMSettings, catalog) -> list[Backend]:
    if kind == "embedded":
        return [EmbeddedBackend(catalog, Path(settings.model_dir), settings.max_concurrency, settings.threads)]
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
    pools = {
        role: EndpointPool(
            embed if role == "embed" else chat,
            max_concurrency=settings.max_concurrency,
            circuit_failures=settings.client.circuit_failures,
            circuit_cooldown_s=settings.client.circuit_cooldown_s,
        )
        for role in ROLES
    }
    cache = build_cache(
        memory_max_bytes=settings.cache_memory_mb * 1024 * 1024,
        sqlite_path=settings.cache_path or None,
        redis_url=settings.redis_url or None,
        ttl_by_kind={kind: days * DAY_S if days else None for kind, days in settings.ttl_days},
    )
    client_settings = ClientSettings(
        **{
            **settings.client.__dict__,
            "use_quantized": settings.use_quantized,
            "model_overrides": settings.model_overrides,
        }
    )
    return LLMClient(catalog, PromptLibrary(Path(settings.prompts_dir)), pools, cache, client_settings)


_CLIENTS: dict[LLMSettings, LLMClient] = {}
_LOCK = threading.Lock()


def shared_client(settings: LLMSettings) -> LLMClient:
    """One client per process and settings: models load once per run, caches stay warm."""
    with _LOCK:
        if settings not in _CLIENTS:
            _CLIENTS[settings] = build_client(settings)
        return _CLIENTS[settings]
