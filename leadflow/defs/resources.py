"""The one typed place for configuration: Dagster resources read from environment variables.

Every setting has a default that runs the zero-setup demo (embedded engine, local files);
the README's configuration table lists them all.
"""

import os
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from leadflow.llm.client import ClientSettings, LLMClient
from leadflow.llm.factory import LLMSettings, shared_client
from leadflow.llm.types import LLMHealthError, Timeouts
from leadflow.paths import PROMPTS_DIR, RESOURCES_DIR, data_dir, resolve
from leadflow.scoring.cascade import Thresholds


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


class LLMResource(dg.ConfigurableResource):
    """LLM backends, models, caches and call policy. Builds one shared `LLMClient` per process."""

    backend: str = Field(default="embedded", description="embedded | ollama | openai")
    base_urls: str = Field(default="", description="Comma-separated server URLs; several form a pool.")
    embed_backend: str = Field(default="", description="Backend for embeddings; empty = same as backend.")
    embed_base_urls: str = Field(default="", description="Server URLs for embeddings; empty = base_urls.")
    api_key: str = Field(default="", description="Bearer token for OpenAI-compatible servers.")
    prefilter_model: str = Field(default="", description="Override the catalog's prefilter model name.")
    dossier_model: str = Field(default="", description="Override the catalog's dossier model name.")
    embed_model: str = Field(default="", description="Override the catalog's embedding model name.")
    use_quantized: bool = Field(default=True, description="Pick each tier's quantized variant.")
    max_concurrency: int = Field(default=2, description="In-flight requests per (endpoint, model).")
    threads: int = Field(default=2, description="CPU threads for the embedded engine.")
    model_dir: str = Field(default="", description="Assembled model files; default <data dir>/models.")
    cache_memory_mb: int = Field(default=64, description="In-memory LRU tier bound, in MiB (0 = off).")
    cache_path: str = Field(
        default="", description="Persistent SQLite tier; default <data dir>/llm_cache.sqlite; 'off' disables."
    )
    redis_url: str = Field(default="", description="Redis tier, e.g. redis://127.0.0.1:6379/0 (empty = off).")
    ttl_classification_days: float = 30.0
    ttl_dossier_days: float = 14.0
    ttl_embedding_days: float = 90.0
    max_retries: int = 3
    circuit_failures: int = 3
    circuit_cooldown_s: float = 30.0
    connect_timeout_s: float = 5.0
    first_token_timeout_s: float = 120.0
    total_timeout_s: float = 600.0
    keep_alive: str = "30m"
    stream_dossiers: bool = True
    race: bool = Field(default=False, description="Race two endpoints of a pool per request (separate hosts only).")
    prompts_dir: str = Field(default=str(PROMPTS_DIR), description="Prompt templates (relative to the project root).")
    _safe_profile: bool = PrivateAttr(default=False)

    warm_up: bool = Field(default=True, description="Health check, model preload and probe at run start.")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Runs tagged leadflow/profile=safe (the quality-gate sensor's re-runs) use full precision.
        run = context.dagster_run
        self._safe_profile = bool(run and run.tags.get("leadflow/profile") == "safe")
        if self.warm_up:
            try:
                loads = self.client().ensure_ready(self.keep_alive)
            except LLMHealthError as exc:
                raise dg.Failure(description=str(exc)) from None
            if context.log is not None and any(loads.values()):
                context.log.info(f"LLM models ready: {', '.join(f'{k} {v:.1f}s' for k, v in loads.items())}")

    def settings(self) -> LLMSettings:
        overrides = tuple(
            (role, name)
            for role, name in (
                ("prefilter", self.prefilter_model),
                ("dossier", self.dossier_model),
                ("embed", self.embed_model),
            )
            if name
        )
        return LLMSettings(
            backend=self.backend,
            base_urls=_split(self.base_urls),
            embed_backend=self.embed_backend,
            embed_base_urls=_split(self.embed_base_urls),
            api_key=self.api_key,
            model_overrides=overrides,
            use_quantized=self.use_quantized and not self._safe_profile,
            max_concurrency=self.max_concurrency,
            threads=self.threads,
            model_dir=str(resolve(self.model_dir) if self.model_dir else data_dir() / "models"),
            catalog_path=str(RESOURCES_DIR / "models.yaml"),
            prompts_dir=str(resolve(self.prompts_dir)),
            cache_memory_mb=self.cache_memory_mb,
            cache_path=""
            if self.cache_path == "off"
            else str(resolve(self.cache_path) if self.cache_path else data_dir() / "llm_cache.sqlite"),
            redis_url=self.redis_url,
            ttl_days=(
                ("classification", self.ttl_classification_days),
                ("dossier", self.ttl_dossier_days),
                ("embedding", self.ttl_embedding_days),
            ),
            keep_alive=self.keep_alive,
            client=ClientSettings(
                max_retries=self.max_retries,
                circuit_failures=self.circuit_failures,
                circuit_cooldown_s=self.circuit_cooldown_s,
                timeouts=Timeouts(self.connect_timeout_s, self.first_token_timeout_s, self.total_timeout_s),
                stream_roles=("dossier",) if self.stream_dossiers else (),
                race=self.race,
            ),
        )

    def client(self) -> LLMClient:
        return shared_client(self.settings())


class PipelineSettings(dg.ConfigurableResource):
    """Inputs and thresholds of the scoring cascade."""

    sources_path: str = Field(
        default=str(RESOURCES_DIR / "sources.yaml"), description="Signal sources (relative to the project root)."
    )
    icp_path: str = Field(default=str(RESOURCES_DIR / "icp.yaml"), description="Ideal Customer Profiles.")
    golden_path: str = Field(default=str(RESOURCES_DIR / "golden" / "golden_100.jsonl"), description="Labelled golden set.")
    red_hot: int = 80
    warm: int = 60
    nurture: int = 40
    parked: int = 20
    dossier_threshold: int = Field(default=70, description="Minimum final score that gets a dossier.")
    llm_min_score: int = Field(default=30, description="Cheap score from which the small model is asked.")
    llm_weight: float = Field(default=0.2, description="Weight of the small model's score in the blend.")
    max_text_chars: int = Field(default=1200, description="Signal text sent to the models.")
    max_quarantine_rate: float = Field(default=0.25, description="Gate: quarantined share of records read.")
    min_valid_output_rate: float = Field(default=0.9, description="Gate: small-model answers that validate.")
    max_error_rate: float = Field(default=0.2, description="Gate: invalid LLM outputs over all outputs.")
    error_rate_min_outputs: int = Field(default=10, description="Outputs needed before the error-rate gate judges.")
    golden_tolerance: float = Field(default=0.1, description="Gate: allowed golden-set F1 drop vs published.")
    psi_warn: float = Field(default=0.25, description="Bucket drift (PSI) that warns.")
    psi_rollback: float = Field(default=0.5, description="Bucket drift (PSI) after publish that rolls back.")

    def thresholds(self) -> Thresholds:
        return Thresholds(
            red_hot=self.red_hot,
            warm=self.warm,
            nurture=self.nurture,
            parked=self.parked,
            dossier=self.dossier_threshold,
            llm_min_score=self.llm_min_score,
            llm_weight=self.llm_weight,
        )

    imports_dir: str = Field(
        default="", description="Folder watched for dropped import files; default <data dir>/imports."
    )

    def path(self, value: str) -> Path:
        return resolve(value)

    def imports_folder(self) -> Path:
        return resolve(self.imports_dir) if self.imports_dir else data_dir() / "imports"


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _llm_from_env() -> LLMResource:
    ollama = os.environ.get("OLLAMA_BASE_URL", "")
    backend = _env("LEADFLOW_LLM_BACKEND", "ollama" if ollama else "embedded")
    return LLMResource(
        backend=backend,
        base_urls=_env("LEADFLOW_LLM_BASE_URLS", ollama),
        embed_backend=_env("LEADFLOW_EMBED_BACKEND", ""),
        embed_base_urls=_env("LEADFLOW_EMBED_BASE_URLS", ""),
        api_key=dg.EnvVar("LEADFLOW_LLM_API_KEY") if os.environ.get("LEADFLOW_LLM_API_KEY") else "",
        prefilter_model=_env("LEADFLOW_PREFILTER_MODEL", ""),
        dossier_model=_env("LEADFLOW_DOSSIER_MODEL", ""),
        embed_model=_env("LEADFLOW_EMBED_MODEL", ""),
        use_quantized=_env("LEADFLOW_USE_QUANTIZED", "true").lower() in ("1", "true", "yes"),
        max_concurrency=int(_env("LEADFLOW_MAX_CONCURRENCY", "2")),
        threads=int(_env("LEADFLOW_THREADS", str(min(os.cpu_count() or 2, 8)))),
        cache_memory_mb=int(_env("LEADFLOW_CACHE_MEMORY_MB", "64")),
        cache_path=_env("LEADFLOW_CACHE_PATH", ""),
        model_dir=_env("LEADFLOW_MODEL_DIR", ""),
        prompts_dir=_env("LEADFLOW_PROMPTS_DIR", str(PROMPTS_DIR)),
        race=_env("LEADFLOW_LLM_RACE", "false").lower() in ("1", "true", "yes"),
        redis_url=_env("LEADFLOW_REDIS_URL", ""),
    )


def _pipeline_from_env() -> PipelineSettings:
    return PipelineSettings(
        sources_path=_env("LEADFLOW_SOURCES_PATH", str(RESOURCES_DIR / "sources.yaml")),
        dossier_threshold=int(_env("LEADFLOW_DOSSIER_THRESHOLD", "70")),
        llm_min_score=int(_env("LEADFLOW_LLM_MIN_SCORE", "30")),
        imports_dir=_env("LEADFLOW_IMPORTS_DIR", ""),
    )


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "duckdb": DuckDBResource(database=_env("LEADFLOW_DUCKDB_PATH", str(data_dir() / "leadflow.duckdb"))),
            "llm": _llm_from_env(),
            "pipeline": _pipeline_from_env(),
        }
    )
