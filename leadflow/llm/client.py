"""The LLM client: the one entry point the pipeline, the CLI and the benchmark call. It puts
the parts together per request: cache lookup, single-flight coalescing, routing and context
sizing (`routing`), retries, failover and racing (`resilience`), validation and repair
(`validation`), the fallback chain and metrics, over any backend.

Dagster-free: the `LLMResource` builds one of these; tests and the benchmark call it directly.
"""

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

import numpy as np

from leadflow.llm import answer_entry
from leadflow.llm.backends.base import Backend
from leadflow.llm.budget import TokenBudget
from leadflow.llm.cache import CacheHit, TieredCache
from leadflow.llm.cache_key import cache_key, canonical_json, key_prefix, variables_key
from leadflow.llm.catalog import Catalog
from leadflow.llm.coalescing import SingleFlight
from leadflow.llm.context_window import DEFAULT_BUCKETS
from leadflow.llm.metrics import CallRecord, HitSource, MetricsHub
from leadflow.llm.pool import EndpointPool
from leadflow.llm.prompts import PromptLibrary, PromptTemplate
from leadflow.llm.resilience import RetryPolicy, race, with_retries
from leadflow.llm.routing import Router
from leadflow.llm.semantic_cache import TIER as SEMANTIC_TIER
from leadflow.llm.semantic_cache import Probe, SemanticCache, Similar
from leadflow.llm.stream_parse import SchemaWatch
from leadflow.llm.types import (
    ChatRequest,
    ChatResponse,
    CircuitOpen,
    EmbedResponse,
    HealthReport,
    InvalidOutput,
    LLMError,
    LLMHealthError,
    ModelMissing,
    RetryableError,
    Timeouts,
)
from leadflow.llm.validation import Accept, Validator, generate_valid, validate_json

log = logging.getLogger("leadflow.llm")

CACHE_KIND_BY_ROLE = {"prefilter": "classification", "dossier": "dossier", "embed": "embedding"}
MAX_KEY_FAMILIES = 1024  # (template, model, options) families whose key prefix is kept hashed


@dataclass(frozen=True)
class ClientSettings:
    """Call policy. These defaults are the only ones: `LLMResource` reads them for its fields."""

    use_quantized: bool = True
    max_retries: int = 3
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    timeouts: Timeouts = field(default_factory=Timeouts)
    context_buckets: tuple[int, ...] = DEFAULT_BUCKETS
    embed_batch_size: int = 32
    model_overrides: tuple[tuple[str, str], ...] = ()  # (role, model name) pairs
    stream_roles: tuple[str, ...] = ("dossier",)
    circuit_failures: int = 3
    circuit_cooldown_s: float = 30.0
    race: bool = False  # race two independent endpoints per request (first valid answer wins)
    semantic_threshold: float = 0.0  # > 0: classifications may be answered by a semantic hit (off)
    stream_abort: bool = True  # stop a streamed answer at its first piece that cannot match the schema


@dataclass(slots=True)
class Completion:
    """A validated JSON answer and how it was obtained."""

    value: dict[str, Any]
    model: str
    template: str
    cache_tier: str | None = None
    record: CallRecord | None = None


def _workers(pool: EndpointPool) -> int:
    """Threads that keep every endpoint of a pool saturated."""
    return max(1, pool.max_concurrency * len(pool.backends))


class LLMClient:
    def __init__(
        self,
        catalog: Catalog,
        prompts: PromptLibrary,
        pools: dict[str, EndpointPool],
        cache: TieredCache | None = None,
        settings: ClientSettings = ClientSettings(),
    ) -> None:
        self.catalog = catalog
        self.prompts = prompts
        self.pools = pools
        self.cache = cache
        self.settings = settings
        self.metrics = MetricsHub()
        self.semantic = SemanticCache(settings.semantic_threshold) if settings.semantic_threshold > 0 else None
        self.router = Router(
            catalog,
            pools,
            use_quantized=settings.use_quantized,
            model_overrides=settings.model_overrides,
            context_buckets=settings.context_buckets,
        )
        self.retry = RetryPolicy(settings.max_retries, settings.backoff_base_s, settings.backoff_cap_s)
        self._flights: SingleFlight[dict[str, Any]] = SingleFlight()
        self._shared_flight = cache.shared_flight() if cache is not None else None  # across processes
        self._ready: dict[str, float] | None = None
        self._ready_lock = threading.Lock()
        self._key_prefixes: dict[tuple[str, ...], Any] = {}  # request_key's hashed family prefixes
        self._template_prefixes: dict[tuple[str, ...], Any] = {}  # the same, by (role, template, model)

    # ---- routing (`Router`) -------------------------------------------------------------------

    def pool(self, role: str) -> EndpointPool:
        return self.router.pool(role)

    def model_chain(self, role: str) -> list[str]:
        return self.router.model_chain(role)

    def model_digest(self, role: str, model: str) -> str:
        return self.router.model_digest(role, model)

    # ---- requests, keys and the cache ---------------------------------------------------------

    def build_request(
        self, role: str, template: PromptTemplate, messages: Iterable[dict[str, str]], model: str
    ) -> ChatRequest:
        """The request without its context size: that is chosen only on a cache miss."""
        defaults = template.defaults
        return ChatRequest(
            model=model,
            messages=tuple(messages),
            max_tokens=int(defaults.get("max_tokens", 256)),
            temperature=float(defaults.get("temperature", 0.0)),
            seed=int(defaults.get("seed", 0)),
            schema=template.output_schema,
            stream=role in self.settings.stream_roles,
        )

    @staticmethod
    def _schema_hash(template: PromptTemplate, request: ChatRequest) -> str:
        """The template's precomputed hash when the request carries its schema (the hot path)."""
        if request.schema is template.output_schema:
            return template.schema_hash
        return hashlib.sha256(canonical_json(request.schema).encode()).hexdigest()

    def request_key(self, role: str, template: PromptTemplate, variables: dict[str, Any], request: ChatRequest) -> str:
        """SHA-256 over everything that changes the output (peers' lesson 1): the request's
        family (backend, model digest, template content, schema, options), hashed once, then
        the variables its messages are rendered from (`request.messages` is ignored: it is
        `template.render(variables)` or not rendered yet)."""
        return variables_key(self._family_prefix(role, template, request), variables)

    def template_key(self, role: str, template: PromptTemplate, variables: dict[str, Any], model: str) -> str:
        """`request_key` of the request `build_request` makes for `template` and `model`, without
        building it: the family is fixed by the role, the template's content and the model (and
        the model's digest, which the router keeps per endpoint), so its prefix is found by them."""
        shortcut = (role, template.id, template.content_hash, model)
        prefix = self._template_prefixes.get(shortcut)
        if prefix is None:
            if len(self._template_prefixes) >= MAX_KEY_FAMILIES:
                self._template_prefixes.clear()
            request = self.build_request(role, template, (), model)
            prefix = self._template_prefixes[shortcut] = self._family_prefix(role, template, request)
        return variables_key(prefix, variables)

    def _family_prefix(self, role: str, template: PromptTemplate, request: ChatRequest) -> Any:
        """The hashed family of `request` (a SHA-256 state), computed once per family."""
        options = request.options()
        # num_ctx only changes the output when the prompt would not fit, which the bucket
        # choice prevents; it is chosen after the lookup, so a hit costs no server round trip.
        options.pop("num_ctx")
        kind, digest = self.pool(role).kind, self.model_digest(role, request.model)
        schema_hash = self._schema_hash(template, request)
        family = (kind, request.model, digest, template.id, template.content_hash, schema_hash, repr(options))
        prefix = self._key_prefixes.get(family)
        if prefix is None:
            if len(self._key_prefixes) >= MAX_KEY_FAMILIES:
                self._key_prefixes.clear()
            prefix = key_prefix(
                {
                    "backend": kind,
                    "model": request.model,
                    "model_digest": digest,
                    "options": options,
                    "template": template.id,
                    "template_hash": template.content_hash,
                    "schema_hash": schema_hash,
                }
            )
            self._key_prefixes[family] = prefix
        return prefix

    def _cache_get(self, key: str, kind: str) -> CacheHit | None:
        return self.cache.get(key, kind) if self.cache is not None else None

    def _cache_set(self, key: str, kind: str, value: bytes) -> None:
        if self.cache is not None:
            self.cache.set(key, kind, value)

    # ---- structured completion ---------------------------------------------------------------

    def _send(self, role: str, record: CallRecord, request: ChatRequest, accept: Accept) -> ChatResponse:
        """One answer from the role's pool: raced across two hosts, or with retries and failover."""
        pool = self.pool(role)
        if self.settings.race and len(pool.backends) > 1:
            return race(pool, request, record, accept, self.settings.timeouts)
        return with_retries(
            pool,
            request.model,
            record,
            lambda backend: backend.chat(request, self.settings.timeouts, self._watch(request)),
            self.retry,
        )

    def _watch(self, request: ChatRequest) -> SchemaWatch | None:
        """A fresh early-abort watch for each streamed attempt that has a schema."""
        if self.settings.stream_abort and request.stream and request.schema is not None:
            return SchemaWatch(request.schema)
        return None

    @staticmethod
    def _replay(record: CallRecord, template: PromptTemplate, variables: dict[str, Any], entry: bytes) -> bytes:
        """A hit's record: the tokens its answer cost when generated (replayed, not spent) and
        what it answered (for the cache-hit audit). Returns the answer's JSON bytes."""
        value, cost = answer_entry.unpack(entry)
        if cost is not None:
            record.replayed_prompt_tokens, record.replayed_completion_tokens = cost
        record.hit = HitSource(template.id, variables, value)
        return value

    def _complete_with(
        self,
        role: str,
        template: PromptTemplate,
        variables: dict[str, Any],
        model: str,
        record: CallRecord,
        validate: Validator,
        budget: TokenBudget | None = None,
        probe: Probe | None = None,
    ) -> Completion:
        """One model of the chain: from the cache, shared with an identical request in flight,
        or generated, validated (and repaired) and then cached. The key needs the variables,
        not the rendered prompt, so a hit never renders it."""
        key = self.template_key(role, template, variables, model)
        kind = CACHE_KIND_BY_ROLE.get(role, role)
        hit = self._cache_get(key, kind)
        if hit is not None:
            record.cache_tier = hit.tier
            answer = self._replay(record, template, variables, hit.value)
            return Completion(answer_entry.decode(answer), model, template.label, hit.tier, record)
        semantic = self.semantic if probe is not None and kind == "classification" else None
        # The semantic scope: the exact key's family (template and content, model and digest,
        # options, schema) over the context variables only (the ICP, the signal kind).
        scope = self.template_key(role, template, probe.context, model) if semantic is not None and probe else ""
        if semantic is not None and probe is not None:
            near = semantic.lookup(scope, probe.vector)
            if near is not None:
                record.cache_tier = SEMANTIC_TIER
                record.hit = HitSource(template.id, variables, near.value)
                return Completion(json.loads(near.value), model, template.label, SEMANTIC_TIER, record)
        if budget is not None:
            budget.admit()
        request = self.build_request(role, template, template.render(variables), model)

        def compute() -> dict[str, Any]:
            send = partial(self._send, role, record)
            try:
                value = generate_valid(send, template, self.router.sized(role, request), record, validate)
            finally:
                if budget is not None:
                    budget.charge(record)
            encoded = json.dumps(value).encode()
            self._cache_set(key, kind, answer_entry.pack(encoded, record.prompt_tokens, record.completion_tokens))
            if semantic is not None and probe is not None:
                semantic.add(scope, probe.vector, encoded)
            return value

        def cached() -> dict[str, Any] | None:
            hit = self._cache_get(key, kind)
            return None if hit is None else answer_entry.answer(hit.value)

        def across_processes() -> dict[str, Any]:
            if self._shared_flight is None:
                return compute()
            value, shared = self._shared_flight.do(key, compute, cached)
            record.coalesced = record.coalesced or shared
            return value

        value, coalesced = self._flights.do(key, across_processes)
        record.coalesced = record.coalesced or coalesced
        return Completion(value, model, template.label, None, record)

    def complete_json(
        self,
        role: str,
        template_id: str,
        variables: dict[str, Any],
        validator: Validator | None = None,
        budget: TokenBudget | None = None,
        similar: Similar | None = None,
    ) -> Completion:
        """A schema-valid JSON object for `variables`, from cache or the first model in the
        fallback chain that produces one. `validator` adds checks beyond the schema. `budget`:
        a miss raises BudgetExhausted once it is spent. `similar`: a classification whose exact
        key misses may be answered by a semantic hit (when the client has a semantic cache)."""
        template = self.prompts.get(template_id)
        validate = validator or validate_json
        chain = self.model_chain(role)
        probe = similar.probe(variables) if similar is not None else None
        last_error: Exception | None = None
        for index, model in enumerate(chain):
            record = CallRecord(role=role, template=template.label, model=model, fallback=index > 0)
            started = time.perf_counter()
            try:
                completion = self._complete_with(role, template, variables, model, record, validate, budget, probe)
            except (InvalidOutput, CircuitOpen, RetryableError, ModelMissing) as exc:
                record.ok = False
                record.error = f"{type(exc).__name__}: {exc}"
                record.latency_s = time.perf_counter() - started
                self.metrics.record(record)
                log.warning(
                    "%s with %s failed (%s); %s",
                    template.label,
                    model,
                    exc,
                    "falling back" if index + 1 < len(chain) else "no fallback left",
                )
                last_error = exc
                continue
            record.latency_s = time.perf_counter() - started
            self.metrics.record(record)
            return completion
        raise LLMError(f"{template.label}: every model in {chain} failed; last error: {last_error}")

    def ask_again(self, role: str, hit: HitSource, model: str) -> dict[str, Any]:
        """What the engine answers now to the request a cache hit answered (the cache-hit audit):
        validated like any answer, never read from or written to a cache."""
        template = self.prompts.get(hit.template_id)
        request = self.build_request(role, template, template.render(hit.variables), model)
        record = CallRecord(role=role, template=template.label, model=model, audit=True)
        started = time.perf_counter()
        try:
            return generate_valid(
                partial(self._send, role, record), template, self.router.sized(role, request), record, validate_json
            )
        finally:
            record.latency_s = time.perf_counter() - started
            self.metrics.record(record)

    def map_concurrent(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        role: str,
        on_done: Callable[[int], None] | None = None,
    ) -> list[Any]:
        """Apply `fn` to items with enough threads to keep the role's endpoints saturated.

        Results keep input order; an item whose call fails yields its exception object.
        """
        items = list(items)
        results: list[Any] = [None] * len(items)

        def run(index_item: tuple[int, Any]) -> None:
            index, item = index_item
            try:
                results[index] = fn(item)
            except LLMError as exc:
                results[index] = exc
            if on_done is not None:
                on_done(index)

        with ThreadPoolExecutor(max_workers=_workers(self.pool(role)), thread_name_prefix=f"llm-{role}") as executor:
            list(executor.map(run, enumerate(items)))
        return results

    # ---- health and warm-up -------------------------------------------------------------------

    def health(self) -> list[HealthReport]:
        """One report per endpoint: reachable, version, every model of every role present
        (digest, quantization)."""
        reports: dict[str, HealthReport] = {}
        for role, pool in self.pools.items():
            for backend in pool.backends:
                report = backend.health(self.model_chain(role))
                merged = reports.setdefault(backend.endpoint, report)
                if merged is not report:
                    merged.models.update(report.models)
                    merged.problems.extend(p for p in report.problems if p not in merged.problems)
        return list(reports.values())

    def probe(self, role: str) -> ChatResponse:
        """A one-token request to the role's primary model on its first endpoint."""
        model = self.model_chain(role)[0]
        request = ChatRequest(model=model, messages=({"role": "user", "content": "Say OK"},), max_tokens=1)
        return self.pool(role).backends[0].chat(request, self.settings.timeouts)

    def ensure_ready(self, keep_alive: str = "30m") -> dict[str, float]:
        """Health check, warm-up and one-token probes, once per client; raises LLMHealthError
        with every problem in plain words. Returns the model load times in seconds."""
        with self._ready_lock:
            if self._ready is not None:
                return self._ready
        problems = [problem for report in self.health() for problem in report.problems]
        if problems:
            raise LLMHealthError("LLM backends are not ready:\n  - " + "\n  - ".join(problems))
        loads: dict[str, float] = {}
        for role, pool in self.pools.items():
            model = self.model_chain(role)[0]
            for backend in pool.backends:
                loads[f"{role}:{model}@{backend.endpoint}"] = backend.warm(model, keep_alive, embedding=role == "embed")
            if role != "embed":
                try:
                    self.probe(role)
                except LLMError as exc:
                    raise LLMHealthError(f"one-token probe of {model} ({role}) failed: {exc}") from exc
        with self._ready_lock:
            self._ready = loads
        return loads

    # ---- embeddings ----------------------------------------------------------------------------

    def embed_many(self, texts: list[str], role: str = "embed") -> np.ndarray:
        """L2-normalized float32 embeddings; cached per text, misses sent in batches."""
        model = self.model_chain(role)[0]
        pool = self.pool(role)
        digest = self.model_digest(role, model)
        keys = [
            cache_key({"backend": pool.kind, "model": model, "model_digest": digest, "input": text, "op": "embed"})
            for text in texts
        ]
        out: list[np.ndarray | None] = [None] * len(texts)
        misses: dict[str, list[int]] = {}
        for index, key in enumerate(keys):
            started = time.perf_counter()
            hit = self._cache_get(key, "embedding")
            if hit is not None:
                out[index] = np.frombuffer(hit.value, dtype=np.float32)
                self.metrics.record(
                    CallRecord(
                        role=role,
                        template="embed",
                        model=model,
                        cache_tier=hit.tier,
                        latency_s=time.perf_counter() - started,
                    )
                )
            else:
                misses.setdefault(key, []).append(index)  # identical texts are embedded once
        unique = list(misses.items())
        size = self.settings.embed_batch_size
        batches = [unique[i : i + size] for i in range(0, len(unique), size)]

        def run(batch: list[tuple[str, list[int]]]) -> None:
            record = CallRecord(role=role, template="embed", model=model)
            started = time.perf_counter()
            inputs = [texts[indices[0]] for _, indices in batch]

            def embed(backend: Backend) -> EmbedResponse:
                return backend.embed(model, inputs, self.settings.timeouts)

            response = with_retries(pool, model, record, embed, self.retry)
            record.prompt_tokens = response.prompt_tokens
            record.latency_s = time.perf_counter() - started
            self.metrics.record(record)
            for (key, indices), vector in zip(batch, response.vectors, strict=True):
                arr = np.asarray(vector, dtype=np.float32)
                norm = float(np.linalg.norm(arr))
                arr = arr / norm if norm > 0 else arr
                self._cache_set(key, "embedding", arr.tobytes())
                for idx in indices:
                    out[idx] = arr

        if batches:
            with ThreadPoolExecutor(max_workers=_workers(pool), thread_name_prefix="llm-embed") as executor:
                list(executor.map(run, batches))
        return np.vstack(cast(list[np.ndarray], out)) if out else np.zeros((0, 0), dtype=np.float32)
