"""The one typed place for configuration: Dagster resources whose fields are the settings.

Each field is declared once, with `setting()`: its default, a one-line doc and, for what an
operator sets, the environment variable `from_env()` reads it from; the README's configuration
table is rendered from these fields (`leadflow.config_docs`). A default is written once: where a
Dagster-free dataclass has one (`ClientSettings`, `Timeouts`, `Thresholds`: tests and backends
build those on their own), the field reads it from there; `LLMSettings`, which only this module
builds, has none. An empty path means the bundled file or one in the data dir.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Self

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr
from pydantic.fields import FieldInfo

from leadflow.analysis.golden import GOLDEN_LABELS, GOLDEN_MBOX
from leadflow.defs.constants import PROFILE_TAG, SAFE_PROFILE
from leadflow.dossier.writer import DEFAULT_PROSE
from leadflow.ingest.source_file import seed_sources
from leadflow.llm.budget import TokenBudget
from leadflow.llm.client import ClientSettings, LLMClient
from leadflow.llm.concurrency import STORE_FILE as CONCURRENCY_FILE
from leadflow.llm.factory import LLMSettings, shared_client
from leadflow.llm.ledger import PriceList, load_price_list
from leadflow.llm.prompts import PromptLibrary
from leadflow.llm.types import LLMHealthError, Timeouts
from leadflow.paths import PROMPTS_DIR, RESOURCES_DIR, data_dir, resolve
from leadflow.scoring.cascade import Thresholds
from leadflow.storage.connections import DUCKDB_WAL
from leadflow.storage.private import private_file, private_parent
from leadflow.storage.writer_lease import writer_lease

_CLIENT = ClientSettings()
_THRESHOLDS = Thresholds()
SOURCES_FILE = "sources.yaml"
BUNDLED_SOURCES = RESOURCES_DIR / SOURCES_FILE

_PARSERS: dict[Any, Callable[[str], Any]] = {
    bool: lambda raw: raw.strip().lower() in ("1", "true", "yes"),
    int: int,
    float: float,
    str: str,
}


def setting(default: Any, description: str, env: str = "", secret: bool = False) -> Any:
    """A resource field. `env`: the variable `from_env` reads; `secret`: passed as `dg.EnvVar`
    (Dagster shows the variable's name, not its value) and left out of the resource's repr."""
    return Field(
        default=default, description=description, repr=not secret, json_schema_extra={"env": env, "secret": secret}
    )


def _extra(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def is_setting(info: FieldInfo) -> bool:
    """Declared through `setting()` (not a field inherited from a library resource)."""
    return "env" in _extra(info)


def env_var(info: FieldInfo) -> str:
    """The environment variable a field is read from ("" = set in code or run config only)."""
    return str(_extra(info).get("env", ""))


def _path(value: str, default: Path) -> Path:
    return resolve(value) if value else default


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _secret(value: str) -> str:
    """A secret setting's value: outside a run (CLI, benchmark) Dagster leaves an EnvVar unresolved."""
    return (value.get_value("") or "") if isinstance(value, dg.EnvVar) else value


class EnvResource(dg.ConfigurableResource):
    """A resource that can be built from the environment variables its fields name."""

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Fields from their (non-empty) environment variables, else defaults; `overrides` win."""
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            var = env_var(info)
            raw = os.environ.get(var) if var else None
            if raw:
                values[name] = dg.EnvVar(var) if _extra(info)["secret"] else _PARSERS[info.annotation](raw)
        return cls(**{**values, **overrides})


class DuckDBWarehouse(DuckDBResource, EnvResource):
    """The DuckDB warehouse. Build it with `from_env()`, which fills in the default file."""

    database: str = setting(
        "", "The warehouse file; empty = `$LEADFLOW_HOME/leadflow.duckdb`.", env="LEADFLOW_DUCKDB_PATH"
    )
    writer_lease_url: str = setting(
        "",
        "PostgreSQL URL of the cluster-wide writer lease (`postgresql://user@host/db`): workers on several hosts "
        "then write one warehouse file on shared storage, one connection at a time (docs/scaling.md); "
        "empty = one host, DuckDB's own file lock.",
        env="LEADFLOW_WAREHOUSE_LEASE_URL",
        secret=True,
    )

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        found = super().from_env(**overrides)
        if found.database:
            return found
        return super().from_env(**(overrides | {"database": str(data_dir() / "leadflow.duckdb")}))

    def lease_url(self) -> str:
        """The writer lease's URL, resolved ("" = none: one host)."""
        return _secret(self.writer_lease_url)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to a file made owner-only (0600, with its write-ahead log) at open and
        again at close; a log DuckDB recreates in between has the umask's mode, which the data
        dir's 0700 keeps from other users."""
        on_disk = not self.database.startswith(":memory:")
        if on_disk:
            private_parent(self.database)
        lease_url = self.lease_url()
        try:
            with (
                writer_lease(lease_url, self.database) if lease_url else nullcontext(),
                super().get_connection() as conn,
            ):
                if on_disk:
                    private_file(self.database, DUCKDB_WAL)
                yield conn
        finally:
            if on_disk:
                private_file(self.database, DUCKDB_WAL)


class LLMResource(EnvResource):
    """LLM backends, models, caches and call policy. Builds one shared `LLMClient` per process."""

    backend: str = setting(
        "",
        "`embedded`, `ollama` or `openai`; empty = `ollama` when `OLLAMA_BASE_URL` is set, else `embedded`.",
        env="LEADFLOW_LLM_BACKEND",
    )
    ollama_base_url: str = setting(
        "", "Ollama server; implies the `ollama` backend and is the default base URL.", env="OLLAMA_BASE_URL"
    )
    base_urls: str = setting(
        "", "Comma-separated server URLs (a pool); empty = `OLLAMA_BASE_URL`.", env="LEADFLOW_LLM_BASE_URLS"
    )
    api_key: str = setting(
        "", "Bearer token for OpenAI-compatible servers (read through `dg.EnvVar`).", "LEADFLOW_LLM_API_KEY", True
    )
    embed_backend: str = setting("", "Backend for embeddings; empty = same as chat.", env="LEADFLOW_EMBED_BACKEND")
    embed_base_urls: str = setting(
        "", "Server URLs for embeddings; empty = same as chat.", env="LEADFLOW_EMBED_BASE_URLS"
    )
    prefilter_model: str = setting(
        "",
        "Prefilter model name; empty = from the catalog, `leadflow/resources/models.yaml`.",
        env="LEADFLOW_PREFILTER_MODEL",
    )
    dossier_model: str = setting("", "Dossier model name; empty = from the catalog.", env="LEADFLOW_DOSSIER_MODEL")
    embed_model: str = setting("", "Embedding model name; empty = from the catalog.", env="LEADFLOW_EMBED_MODEL")
    use_quantized: bool = setting(
        _CLIENT.use_quantized, "Pick each tier's quantized variant from the catalog.", env="LEADFLOW_USE_QUANTIZED"
    )
    max_concurrency: int = setting(
        0,
        "In-flight requests per (endpoint, model); 0 = sized to the engine: the slots the server reports "
        "(llama.cpp `/slots`, `OLLAMA_NUM_PARALLEL`), else the best of 1, 2, 4 ... concurrent on the run's first "
        "requests, remembered per host and model in `$LEADFLOW_HOME/concurrency.json`.",
        env="LEADFLOW_MAX_CONCURRENCY",
    )
    threads: int = setting(0, "Threads of the embedded engine; 0 = CPU count, at most 8.", env="LEADFLOW_THREADS")
    model_dir: str = setting(
        "", "Where model files are assembled and verified; empty = `$LEADFLOW_HOME/models`.", env="LEADFLOW_MODEL_DIR"
    )
    cache_memory_mb: int = setting(
        64, "In-memory LRU cache tier, bounded in MiB (0 = off).", env="LEADFLOW_CACHE_MEMORY_MB"
    )
    cache_path: str = setting(
        "",
        "Persistent SQLite cache tier, shared across runs and processes; empty = "
        "`$LEADFLOW_HOME/llm_cache.sqlite`, `off` disables.",
        env="LEADFLOW_CACHE_PATH",
    )
    redis_url: str = setting(
        "",
        "Redis cache tier for several workers, e.g. `redis://127.0.0.1:6379/0`; empty = off. Read through "
        "`dg.EnvVar`: it may hold a password.",
        env="LEADFLOW_REDIS_URL",
        secret=True,
    )
    race: bool = setting(
        _CLIENT.race,
        "Race two endpoints of a pool per request (separate hosts only); the loser is cancelled.",
        env="LEADFLOW_LLM_RACE",
    )
    semantic_cache_threshold: float = setting(
        _CLIENT.semantic_threshold,
        "Cosine from which a classification whose exact key misses takes the answer of a near-identical signal "
        "(same template, model, prompt version, ICP and signal kind; this run's answers); 0 = off, the default "
        "(README: its measured false hits).",
        env="LEADFLOW_SEMANTIC_CACHE",
    )
    stream_abort: bool = setting(
        _CLIENT.stream_abort,
        "Stop a streamed answer at its first piece after which it can no longer match the schema (then repair).",
        env="LEADFLOW_STREAM_ABORT",
    )
    run_token_budget: int = setting(
        0,
        "Engine tokens (prompt + completion) one run may spend; once spent, the work still needing the engine "
        "(email extractions, classifications, dossiers) is deferred to the next run. 0 = no budget.",
        env="LEADFLOW_RUN_TOKEN_BUDGET",
    )
    price_list: str = setting(
        "",
        "Hosted-model prices the token ledger costs tokens at; empty = the bundled `leadflow/resources/prices.yaml`.",
        env="LEADFLOW_PRICE_LIST",
    )
    cache_audit_sample: int = setting(
        2,
        "Cache hits per run and stage re-asked of the live engine to see whether its decision changed; 0 = off.",
        env="LEADFLOW_CACHE_AUDIT_SAMPLE",
    )
    prompts_dir: str = setting(
        "", "Prompt templates, re-read when edited; empty = the bundled `leadflow/prompts`.", env="LEADFLOW_PROMPTS_DIR"
    )
    ttl_classification_days: float = setting(30.0, "Cache lifetime of classifications, days (0 = forever).")
    ttl_dossier_days: float = setting(14.0, "Cache lifetime of dossiers, days (0 = forever).")
    ttl_embedding_days: float = setting(90.0, "Cache lifetime of embeddings, days (0 = forever).")
    max_retries: int = setting(_CLIENT.max_retries, "Retries of a failed request.")
    circuit_failures: int = setting(_CLIENT.circuit_failures, "Consecutive failures that open an endpoint's circuit.")
    circuit_cooldown_s: float = setting(_CLIENT.circuit_cooldown_s, "Seconds an open circuit waits before a retry.")
    connect_timeout_s: float = setting(_CLIENT.timeouts.connect_s, "Connect timeout, seconds.")
    first_token_timeout_s: float = setting(_CLIENT.timeouts.first_token_s, "Timeout to the first token, seconds.")
    total_timeout_s: float = setting(_CLIENT.timeouts.total_s, "Timeout of a whole request, seconds.")
    keep_alive: str = setting("30m", "How long Ollama keeps a model loaded.")
    stream_dossiers: bool = setting("dossier" in _CLIENT.stream_roles, "Stream dossier answers.")
    warm_up: bool = setting(
        True, "At run start: health check, model preload and a one-token probe; fail plainly if one is missing."
    )
    _safe_profile: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Runs tagged leadflow/profile=safe (the quality-gate sensor's re-runs) use full precision.
        run = context.dagster_run
        self._safe_profile = bool(run and run.tags.get(PROFILE_TAG) == SAFE_PROFILE)
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
            backend=self.backend or ("ollama" if self.ollama_base_url else "embedded"),
            base_urls=_split(self.base_urls or self.ollama_base_url),
            embed_backend=self.embed_backend,
            embed_base_urls=_split(self.embed_base_urls),
            api_key=_secret(self.api_key),
            max_concurrency=self.max_concurrency,
            concurrency_path=str(data_dir() / CONCURRENCY_FILE),
            threads=self.threads or min(os.cpu_count() or 2, 8),
            model_dir=str(_path(self.model_dir, data_dir() / "models")),
            catalog_path=str(RESOURCES_DIR / "models.yaml"),
            prompts_dir=str(self.prompts_path()),
            cache_memory_mb=self.cache_memory_mb,
            cache_path="" if self.cache_path == "off" else str(_path(self.cache_path, data_dir() / "llm_cache.sqlite")),
            redis_url=_secret(self.redis_url),
            ttl_days=(
                ("classification", self.ttl_classification_days),
                ("dossier", self.ttl_dossier_days),
                ("embedding", self.ttl_embedding_days),
            ),
            keep_alive=self.keep_alive,
            client=ClientSettings(
                use_quantized=self.use_quantized and not self._safe_profile,
                model_overrides=overrides,
                max_retries=self.max_retries,
                circuit_failures=self.circuit_failures,
                circuit_cooldown_s=self.circuit_cooldown_s,
                timeouts=Timeouts(self.connect_timeout_s, self.first_token_timeout_s, self.total_timeout_s),
                stream_roles=("dossier",) if self.stream_dossiers else (),
                race=self.race,
                semantic_threshold=self.semantic_cache_threshold,
                stream_abort=self.stream_abort,
            ),
        )

    def client(self) -> LLMClient:
        return shared_client(self.settings())

    def prices(self) -> PriceList:
        return load_price_list(_path(self.price_list, RESOURCES_DIR / "prices.yaml"))

    def budget(self, spent: int) -> TokenBudget | None:
        """The rest of the run's token budget, `spent` by its earlier stages; None = no budget."""
        return TokenBudget(self.run_token_budget, spent) if self.run_token_budget else None

    def prompts_path(self) -> Path:
        return _path(self.prompts_dir, PROMPTS_DIR)

    def prompt_library(self) -> PromptLibrary:
        """The prompt templates alone, for readers of a schema that need no client."""
        return PromptLibrary(self.prompts_path())


class PipelineSettings(EnvResource):
    """Inputs, thresholds and quality gates of the scoring cascade."""

    sources_path: str = setting(
        "",
        "Signal sources; empty = `$LEADFLOW_HOME/sources.yaml` once `leadflow import` or `leadflow sources add` "
        "created it (seeded with the bundled entries), else the bundled `leadflow/resources/sources.yaml`.",
        env="LEADFLOW_SOURCES_PATH",
    )
    imports_dir: str = setting(
        "", "Folder watched by `import_folder_sensor`; empty = `$LEADFLOW_HOME/imports`.", env="LEADFLOW_IMPORTS_DIR"
    )
    exports_dir: str = setting(
        "",
        "Folder the `export` asset writes `leads-<date>.csv` to; empty = `$LEADFLOW_HOME/exports`.",
        env="LEADFLOW_EXPORTS_DIR",
    )
    first_partition: str = setting(
        "1997-01-01",
        "First daily partition, `YYYY-MM-DD`: signals dated before it are quarantined and the UI lists the days "
        "from it on. The default covers the bundled sample archive (its oldest email: 1997-03-05); set your data's "
        "first day so the partitions are the days you have.",
        env="LEADFLOW_FIRST_PARTITION",
    )
    dossier_threshold: int = setting(
        _THRESHOLDS.dossier, "Minimum final score that gets a dossier.", env="LEADFLOW_DOSSIER_THRESHOLD"
    )
    llm_min_score: int = setting(
        _THRESHOLDS.llm_min_score, "Cheap score from which the small model is asked.", env="LEADFLOW_LLM_MIN_SCORE"
    )
    icp_path: str = setting("", "Ideal Customer Profiles; empty = the bundled `leadflow/resources/icp.yaml`.")
    golden_path: str = setting(
        "", "Labelled golden set; empty = the bundled `leadflow/resources/golden/golden_100.jsonl`."
    )
    email_golden_mbox: str = setting("", "Labelled email golden set (mbox); empty = the bundled `enron_600.mbox`.")
    email_golden_labels: str = setting(
        "", "Its labels (Berkeley codes by message_id); empty = the bundled `enron_600_labels.jsonl`."
    )
    red_hot: int = setting(_THRESHOLDS.red_hot, "Final score from which a lead is `red_hot`.")
    warm: int = setting(_THRESHOLDS.warm, "Final score from which a lead is `warm`.")
    nurture: int = setting(_THRESHOLDS.nurture, "Final score from which a lead is `nurture`.")
    parked: int = setting(_THRESHOLDS.parked, "Final score from which a lead is `parked` (below: `filtered`).")
    llm_weight: float = setting(_THRESHOLDS.llm_weight, "Weight of the small model's score in the blend.")
    max_text_chars: int = setting(1200, "Signal text sent to the models, characters.")
    tiering: bool = setting(
        False,
        "Tiered classification: complex signals, and small-model answers that are uncertain or contradict the "
        "cheap stage, go to the bigger (dossier) model. Off: measured in bench/semantic_tiering.",
        env="LEADFLOW_TIERING",
    )
    dossier_prose: str = setting(
        DEFAULT_PROSE,
        "Who writes a dossier's summary and opener from its facts: `small` (the small model), `dossier` "
        "(the dossier model, slower) or `composed` (rules only, no model call).",
        env="LEADFLOW_DOSSIER_PROSE",
    )
    own_domains: str = setting(
        "",
        "Your own email domains, comma-separated (`acme.com,acme.de`): like free mail, mail from them names no "
        "account, so colleagues' messages do not all resolve to your own company.",
        env="LEADFLOW_OWN_DOMAINS",
    )
    redact_email_text: bool = setting(
        True,
        "Keep email subjects, bodies and summaries out of Dagster metadata previews and the CLI summary "
        "(job postings stay visible).",
        env="LEADFLOW_REDACT_EMAIL_TEXT",
    )
    max_quarantine_rate: float = setting(0.25, "Gate: quarantined share of records read.")
    min_valid_output_rate: float = setting(0.9, "Gate: small-model answers that validate.")
    max_error_rate: float = setting(0.2, "Gate: invalid LLM outputs over all outputs.")
    error_rate_min_outputs: int = setting(10, "Outputs needed before the error-rate gate judges.")
    golden_tolerance: float = setting(0.1, "Gate: allowed golden-set F1 drop below the published version's.")
    psi_warn: float = setting(0.25, "Bucket drift (PSI) vs the trailing 14 published days that warns.")
    psi_rollback: float = setting(0.5, "Bucket drift (PSI) after publish that rolls back.")

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

    def own_domain_set(self) -> frozenset[str]:
        return frozenset(domain.lower() for domain in _split(self.own_domains))

    def sources_file(self) -> Path:
        user = data_dir() / SOURCES_FILE
        return _path(self.sources_path, user if user.is_file() else BUNDLED_SOURCES)

    def editable_sources_file(self) -> Path:
        """The sources file `leadflow sources add|remove` and `leadflow import` edit: never the
        bundled one (package data), which is first copied to `$LEADFLOW_HOME/sources.yaml`."""
        current = self.sources_file()
        if current != BUNDLED_SOURCES:
            return current
        seed_sources(BUNDLED_SOURCES, data_dir() / SOURCES_FILE)
        return data_dir() / SOURCES_FILE

    def icp_file(self) -> Path:
        return _path(self.icp_path, RESOURCES_DIR / "icp.yaml")

    def golden_file(self) -> Path:
        return _path(self.golden_path, RESOURCES_DIR / "golden" / "golden_100.jsonl")

    def email_golden_files(self) -> tuple[Path, Path]:
        """(mbox, labels) of the email golden set the typer trains on and is judged by."""
        return _path(self.email_golden_mbox, GOLDEN_MBOX), _path(self.email_golden_labels, GOLDEN_LABELS)

    def imports_folder(self) -> Path:
        return _path(self.imports_dir, data_dir() / "imports")

    def exports_folder(self) -> Path:
        return _path(self.exports_dir, data_dir() / "exports")


class ClusterSettings(EnvResource):
    """Running on several machines (docs/scaling.md): which Dagster instance profile a process
    prepares (leadflow.instance) and what the cluster profile connects to."""

    instance_profile: str = setting(
        "local",
        "Dagster instance profile: `local` (SQLite in `$LEADFLOW_HOME/dagster`, runs on this machine) or "
        "`cluster` (PostgreSQL storage, a run queue, runs executed by Celery workers on any host).",
        env="LEADFLOW_INSTANCE_PROFILE",
    )
    dagster_postgres_url: str = setting(
        "",
        "Cluster profile: PostgreSQL URL of the Dagster instance (runs, events, schedules, pool slots), the same "
        "on every host: `postgresql+psycopg2://user:password@host:5432/db` (dagster-postgres's driver).",
        env="LEADFLOW_DAGSTER_POSTGRES_URL",
        secret=True,
    )
    celery_broker_url: str = setting(
        "",
        "Cluster profile: the Celery broker runs are queued on (`pyamqp://user:password@host:5672//`).",
        env="LEADFLOW_CELERY_BROKER_URL",
        secret=True,
    )
    concurrent_runs: int = setting(
        2,
        "Cluster profile: runs at once across the cluster (the run queue's limit, backfills included) and so "
        "pipeline steps (the limit of the `duckdb_write` pool every pipeline asset runs in). Each step keeps at most "
        "`LEADFLOW_MAX_CONCURRENCY` requests in flight per LLM host: a host sees at most this times that.",
        env="LEADFLOW_CLUSTER_RUNS",
    )


RESOURCE_CLASSES: dict[str, type[EnvResource]] = {
    "duckdb": DuckDBWarehouse,
    "llm": LLMResource,
    "pipeline": PipelineSettings,
    "cluster": ClusterSettings,
}


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={key: cls.from_env() for key, cls in RESOURCE_CLASSES.items()})
