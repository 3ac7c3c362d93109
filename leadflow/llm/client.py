"""The LLM client: one place for caching, coalescing, concurrency, retries, validation, repair,
fallback chains, context sizing and metrics, over any backend.

Dagster-free: the `LLMResource` builds one of these; tests and the benchmark call it directly.
"""

import hashlib
import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import jsonschema
import numpy as np

from leadflow.llm.backends.base import Backend
from leadflow.llm.cache import TieredCache
from leadflow.llm.cache_key import cache_key, canonical_json
from leadflow.llm.catalog import Catalog
from leadflow.llm.context_window import DEFAULT_BUCKETS, choose_num_ctx, estimate_tokens
from leadflow.llm.metrics import CallRecord, MetricsHub
from leadflow.llm.pool import EndpointPool
from leadflow.llm.prompts import PromptLibrary, PromptTemplate
from leadflow.llm.types import (
    Cancellation,
    Cancelled,
    ChatRequest,
    ChatResponse,
    CircuitOpen,
    HealthReport,
    InvalidOutput,
    LLMError,
    LLMHealthError,
    ModelMissing,
    RetryableError,
    Timeouts,
)

log = logging.getLogger("leadflow.llm")

CACHE_KIND_BY_ROLE = {"prefilter": "classification", "dossier": "dossier", "embed": "embedding"}
REPAIR_INSTRUCTION = (
    "Your previous answer was not valid: {error}. Answer again with only a JSON object that matches the schema exactly."
)


@dataclass(frozen=True)
class ClientSettings:
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


@dataclass
class Completion:
    """A validated JSON answer and how it was obtained."""

    value: dict[str, Any]
    model: str
    template: str
    cache_tier: str | None = None
    record: CallRecord | None = None


def _tokens_of(outcome: tuple) -> int:
    """Tokens a racer produced: its completion, or the chunks it streamed before cancellation."""
    _, response, error = outcome
    return response.completion_tokens if response is not None else getattr(error, "tokens", 0)


class LLMClient:
    def __init__(
        self,
        catalog: Catalog,
        prompts: PromptLibrary,
        pools: dict[str, EndpointPool],
        cache: TieredCache | None = None,
        settings: ClientSettings = ClientSettings(),
    ):
        self.catalog = catalog
        self.prompts = prompts
        self.pools = pools
        self.cache = cache
        self.settings = settings
        self.metrics = MetricsHub()
        self._inflight: dict[str, Future] = {}
        self._inflight_lock = threading.Lock()
        self._digests: dict[tuple[str, str], str] = {}
        self._ready: dict[str, float] | None = None

    # ---- model selection -------------------------------------------------------------------

    def pool(self, role: str) -> EndpointPool:
        try:
            return self.pools[role]
        except KeyError as exc:
            raise LLMError(f"no endpoints configured for role {role!r}") from exc

    def model_chain(self, role: str) -> list[str]:
        """The role's model, then its fallbacks, for the role's backend kind."""
        kind = self.pool(role).kind
        chain = self.catalog.chain(role, kind, self.settings.use_quantized)
        override = dict(self.settings.model_overrides).get(role)
        if override:
            chain = [override, *[m for m in chain[1:] if m != override]]
        return chain

    def model_digest(self, role: str, model: str) -> str:
        """The model's digest from the first endpoint of the pool that answers: one host being
        down must not stop the others from serving (the key is needed before any routing)."""
        backends = self.pool(role).backends
        for backend in backends:
            if (backend.endpoint, model) in self._digests:
                return self._digests[(backend.endpoint, model)]
        error: RetryableError | None = None
        for backend in backends:
            try:
                digest = backend.model_digest(model)
            except RetryableError as exc:
                error = exc
                continue
            self._digests[(backend.endpoint, model)] = digest
            return digest
        raise error

    # ---- coalescing and caching -------------------------------------------------------------

    def _coalesced(self, key: str, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """Run `compute` once per key at a time; concurrent identical requests share the result."""
        with self._inflight_lock:
            future = self._inflight.get(key)
            leader = future is None
            if leader:
                future = Future()
                self._inflight[key] = future
        if not leader:
            return future.result(), True
        try:
            result = compute()
            future.set_result(result)
            return result, False
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._inflight_lock:
                self._inflight.pop(key, None)

    def _cache_get(self, key: str, kind: str):
        return self.cache.get(key, kind) if self.cache is not None else None

    def _cache_set(self, key: str, kind: str, value: bytes) -> None:
        if self.cache is not None:
            self.cache.set(key, kind, value)

    # ---- the engine call with retries -------------------------------------------------------

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.settings.backoff_cap_s)
        ceiling = min(self.settings.backoff_cap_s, self.settings.backoff_base_s * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # jitter so retrying workers do not stampede

    def _with_retries(self, role: str, model: str, record: CallRecord, operation: Callable[[Backend], Any]) -> Any:
        """Run `operation` on a pool slot; retryable failures back off (with jitter) and move to
        another endpoint when there is one; 400-class errors propagate at once."""
        pool = self.pool(role)
        failed: set[str] = set()
        attempt = 0
        while True:
            with pool.slot(model, exclude=frozenset(failed)) as (backend, waited):
                record.queue_wait_s += waited
                record.engine_calls += 1
                record.endpoint = backend.endpoint
                try:
                    result = operation(backend)
                except RetryableError as exc:
                    pool.report(backend, model, ok=False)
                    failed.add(backend.endpoint)
                    if attempt == self.settings.max_retries:
                        raise
                    delay = self._backoff(attempt, exc.retry_after_s)
                    log.warning("retrying %s on %s in %.2fs: %s", model, backend.endpoint, delay, exc)
                else:
                    pool.report(backend, model, ok=True)
                    return result
            attempt += 1
            record.retries += 1
            time.sleep(delay)

    def _call(
        self, role: str, request: ChatRequest, record: CallRecord, accept: Callable[[ChatResponse], bool] | None = None
    ) -> ChatResponse:
        if self.settings.race and len(self.pool(role).backends) > 1:
            return self._race(role, request, record, accept or (lambda response: not response.truncated))
        return self._with_retries(
            role, request.model, record, lambda backend: backend.chat(request, self.settings.timeouts)
        )

    def _race(
        self, role: str, request: ChatRequest, record: CallRecord, accept: Callable[[ChatResponse], bool]
    ) -> ChatResponse:
        """Send the request to two independent endpoints; the first acceptable answer wins and
        the other stream is cancelled, its tokens counted as waste (also when it ends after
        the winner has been returned). Only for separate hosts: two racers on one CPU/GPU
        would just halve each other's speed."""
        pool = self.pool(role)
        streamed = replace(request, stream=True)
        outcomes: queue.Queue = queue.Queue()
        race_over = threading.Event()
        lock = threading.Lock()
        taken: set[str] = set()
        cancels = [Cancellation(), Cancellation()]

        def waste(tokens: int) -> None:
            with lock:
                record.wasted_tokens += tokens

        def racer(cancel: Cancellation) -> None:
            try:
                with lock:  # pick the two endpoints in turn so they differ
                    slot = pool.slot(request.model, exclude=frozenset(taken))
                    backend, _ = slot.__enter__()
                    taken.add(backend.endpoint)
            except LLMError as exc:  # no slot could be had (every circuit open)
                outcomes.put((None, None, exc))
                return
            try:
                response = backend.chat(streamed, self.settings.timeouts, cancel)
                pool.report(backend, request.model, ok=True)
                outcome = (backend, response, None)
            except Cancelled as exc:
                outcome = (backend, None, exc)
            except LLMError as exc:
                if isinstance(exc, RetryableError):
                    pool.report(backend, request.model, ok=False)
                outcome = (backend, None, exc)
            finally:
                slot.__exit__(None, None, None)
            with lock:
                if not race_over.is_set():
                    outcomes.put(outcome)
                    return
            waste(_tokens_of(outcome))  # the loser, finishing after the winner was returned

        for cancel in cancels:
            threading.Thread(target=racer, args=(cancel,), daemon=True, name="llm-race").start()
        record.raced = True
        fallback: ChatResponse | None = None
        errors: list[LLMError] = []
        for _ in cancels:
            backend, response, error = outcomes.get()
            if error is not None:
                if isinstance(error, Cancelled):
                    waste(error.tokens)
                else:
                    errors.append(error)
            elif accept(response):
                with lock:
                    race_over.set()
                    while not outcomes.empty():  # a loser that finished at the same moment
                        record.wasted_tokens += _tokens_of(outcomes.get_nowait())
                for cancel in cancels:
                    cancel.cancel()  # the winner's stream has ended: this stops only the loser
                record.endpoint = backend.endpoint
                record.engine_calls += len(taken)  # every racer that got a slot reached an engine
                return response
            else:
                fallback = response
        record.engine_calls += len(taken)
        if fallback is not None:
            return fallback
        raise errors[0]

    # ---- structured completion ---------------------------------------------------------------

    def _request(self, role: str, template: PromptTemplate, messages, model: str) -> ChatRequest:
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

    def _sized(self, role: str, request: ChatRequest) -> ChatRequest:
        """Round the context up to a bucket, reusing the size the model is loaded with if it fits."""
        pool = self.pool(role)
        limit = self.catalog.artifact(request.model).context_length if pool.kind == "embedded" else None
        prompt_tokens = estimate_tokens(request.messages)
        num_ctx = choose_num_ctx(
            prompt_tokens,
            request.max_tokens,
            self.settings.context_buckets,
            loaded=pool.backends[0].loaded_context(request.model),
            model_limit=limit,
        )
        if prompt_tokens + request.max_tokens > num_ctx:
            log.warning(
                "prompt of ~%d tokens + %d to generate exceeds the largest context (%d) for %s: "
                "the server may truncate it",
                prompt_tokens,
                request.max_tokens,
                num_ctx,
                request.model,
            )
        return replace(request, num_ctx=num_ctx)

    @staticmethod
    def _schema_hash(template: PromptTemplate, request: ChatRequest) -> str:
        """The template's precomputed hash when the request carries its schema (the hot path)."""
        if request.schema is template.output_schema:
            return template.schema_hash
        return hashlib.sha256(canonical_json(request.schema).encode()).hexdigest()

    def request_key(self, role: str, template: PromptTemplate, request: ChatRequest) -> str:
        """SHA-256 over everything that changes the output (peers' lesson 1)."""
        options = request.options()
        # num_ctx only changes the output when the prompt would not fit, which the bucket
        # choice prevents; it is chosen after the lookup, so a hit costs no server round trip.
        options.pop("num_ctx")
        return cache_key(
            {
                "backend": self.pool(role).kind,
                "model": request.model,
                "model_digest": self.model_digest(role, request.model),
                "options": options,
                "template": template.id,
                "template_hash": template.content_hash,
                "messages": list(request.messages),
                "schema_hash": self._schema_hash(template, request),
            }
        )

    @staticmethod
    def _validate(template: PromptTemplate, response: ChatResponse) -> dict:
        if response.truncated:
            raise InvalidOutput(f"output truncated at {response.completion_tokens} tokens", response.text)
        try:
            value = json.loads(response.text)
        except json.JSONDecodeError as exc:
            raise InvalidOutput(f"not JSON ({exc.msg} at char {exc.pos})", response.text) from exc
        if template.output_schema is not None:
            try:
                jsonschema.validate(value, template.output_schema)
            except jsonschema.ValidationError as exc:
                path = "/".join(str(p) for p in exc.absolute_path) or "(root)"
                raise InvalidOutput(f"schema violation at {path}: {exc.message}", response.text) from exc
        return value

    def _generate_valid(self, role, template, request, record, validator) -> dict:
        """One call, then one repair re-ask carrying the validation error."""

        def acceptable(response: ChatResponse) -> bool:
            try:
                validator(template, response)
            except InvalidOutput:
                return False
            return True

        response = self._call(role, request, record, acceptable)
        self._account(record, response)
        try:
            return validator(template, response)
        except InvalidOutput as first:
            record.invalid += 1
            record.truncated += int(response.truncated)
            repair = replace(
                request,
                messages=(
                    *request.messages,
                    {"role": "assistant", "content": first.text[:2000]},
                    {"role": "user", "content": REPAIR_INSTRUCTION.format(error=str(first))},
                ),
            )
            response = self._call(role, repair, record, acceptable)
            self._account(record, response)
            try:
                value = validator(template, response)
            except InvalidOutput:
                record.invalid += 1
                record.truncated += int(response.truncated)
                raise
            record.repaired = True
            return value

    @staticmethod
    def _account(record: CallRecord, response: ChatResponse) -> None:
        record.prompt_tokens += response.prompt_tokens
        record.cached_prompt_tokens += response.cached_prompt_tokens
        record.completion_tokens += response.completion_tokens
        record.load_s += response.load_s

    def complete_json(
        self,
        role: str,
        template_id: str,
        variables: dict[str, Any],
        validator: Callable[[PromptTemplate, ChatResponse], dict] | None = None,
    ) -> Completion:
        """A schema-valid JSON object for `variables`, from cache or the first model in the
        fallback chain that produces one. `validator` adds checks beyond the schema."""
        template = self.prompts.get(template_id)
        validate = validator or self._validate
        messages = template.render(variables)
        chain = self.model_chain(role)
        kind = CACHE_KIND_BY_ROLE.get(role, role)
        last_error: Exception | None = None
        for index, model in enumerate(chain):
            record = CallRecord(role=role, template=template.label, model=model, fallback=index > 0)
            started = time.perf_counter()
            try:
                request = self._request(role, template, messages, model)
                key = self.request_key(role, template, request)
                hit = self._cache_get(key, kind)
                if hit is not None:
                    record.cache_tier = hit.tier
                    record.latency_s = time.perf_counter() - started
                    self.metrics.record(record)
                    return Completion(json.loads(hit.value), model, template.label, hit.tier, record)

                def compute() -> dict:
                    value = self._generate_valid(role, template, self._sized(role, request), record, validate)
                    self._cache_set(key, kind, json.dumps(value).encode())
                    return value

                value, record.coalesced = self._coalesced(key, compute)
                if record.coalesced:
                    record.engine_calls = record.invalid = record.retries = 0
                    record.prompt_tokens = record.completion_tokens = record.cached_prompt_tokens = 0
                record.latency_s = time.perf_counter() - started
                self.metrics.record(record)
                return Completion(value, model, template.label, None, record)
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
        raise LLMError(f"{template.label}: every model in {chain} failed; last error: {last_error}")

    def map_concurrent(self, fn: Callable[[Any], Any], items: Iterable[Any], role: str, on_done=None) -> list:
        """Apply `fn` to items with enough threads to keep the role's endpoints saturated.

        Results keep input order; an item whose call fails yields its exception object.
        """
        items = list(items)
        pool = self.pool(role)
        workers = max(1, pool.max_concurrency * len(pool.backends))
        results: list[Any] = [None] * len(items)

        def run(index_item):
            index, item = index_item
            try:
                results[index] = fn(item)
            except LLMError as exc:
                results[index] = exc
            if on_done is not None:
                on_done(index)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"llm-{role}") as executor:
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
        with self._inflight_lock:
            if self._ready is not None:
                return self._ready
        problems = [problem for report in self.health() for problem in report.problems]
        if problems:
            raise LLMHealthError("LLM backends are not ready:\n  - " + "\n  - ".join(problems))
        loads = {}
        for role, pool in self.pools.items():
            model = self.model_chain(role)[0]
            for backend in pool.backends:
                loads[f"{role}:{model}@{backend.endpoint}"] = backend.warm(model, keep_alive, embedding=role == "embed")
            if role != "embed":
                try:
                    self.probe(role)
                except LLMError as exc:
                    raise LLMHealthError(f"one-token probe of {model} ({role}) failed: {exc}") from exc
        with self._inflight_lock:
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
        batches = [
            unique[i : i + self.settings.embed_batch_size]
            for i in range(0, len(unique), self.settings.embed_batch_size)
        ]

        def run(batch):
            record = CallRecord(role=role, template="embed", model=model)
            started = time.perf_counter()
            inputs = [texts[indices[0]] for _, indices in batch]
            response = self._with_retries(
                role, model, record, lambda backend: backend.embed(model, inputs, self.settings.timeouts)
            )
            record.prompt_tokens = response.prompt_tokens
            record.latency_s = time.perf_counter() - started
            self.metrics.record(record)
            for (key, indices), vector in zip(batch, response.vectors):
                arr = np.asarray(vector, dtype=np.float32)
                norm = float(np.linalg.norm(arr))
                arr = arr / norm if norm > 0 else arr
                self._cache_set(key, "embedding", arr.tobytes())
                for idx in indices:
                    out[idx] = arr

        if batches:
            workers = max(1, pool.max_concurrency * len(pool.backends))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm-embed") as executor:
                list(executor.map(run, batches))
        return np.vstack(out) if out else np.zeros((0, 0), dtype=np.float32)
