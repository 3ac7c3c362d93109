"""Per-call LLM metrics and their aggregation into the figures Dagster metadata carries."""

import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


class HitSource(NamedTuple):
    """What a cache hit answered, kept so that an audit can ask the engine again (a tuple:
    one is made on every hit)."""

    template_id: str
    variables: dict[str, Any]  # the request's variables: its prompt is rendered only if re-asked
    value: bytes


@dataclass(slots=True)
class CallRecord:
    """One logical request: served from a cache tier, coalesced, or by the engine (slots: one is
    made for every request, cache hits included)."""

    role: str
    template: str
    model: str
    endpoint: str = ""
    cache_tier: str | None = None  # "memory" | "sqlite" | "redis" | None (miss)
    coalesced: bool = False
    latency_s: float = 0.0
    queue_wait_s: float = 0.0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    replayed_prompt_tokens: int = 0  # a cache hit: what its answer cost when generated (not spent now)
    replayed_completion_tokens: int = 0
    hit: HitSource | None = None  # a cache hit of a structured answer
    stream_aborted: int = 0  # streams stopped early: they could no longer match the schema
    audit: bool = False  # a cache hit re-asked of the engine by the cache-hit audit
    load_s: float = 0.0
    engine_calls: int = 0  # requests that reached an engine (retries and repairs included)
    retries: int = 0
    invalid: int = 0  # responses that failed validation
    repaired: bool = False
    fallback: bool = False
    truncated: int = 0
    raced: bool = False
    wasted_tokens: int = 0  # tokens a cancelled racer generated
    ok: bool = True
    error: str = ""


@dataclass(frozen=True)
class ModelLoad:
    """One model loaded into an engine of this process (a reload for a larger context too)."""

    model: str
    seconds: float
    finished: float  # time.monotonic() when the load ended


class LoadLog:
    """The model loads of this process. Engines are shared by every client of the process, and a
    load often happens before any request (the warm-up), so loads are kept apart from the
    CallRecords: a recorder counts those that ended while it was tracking."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loads: list[ModelLoad] = []

    def add(self, model: str, seconds: float) -> None:
        with self._lock:
            self._loads.append(ModelLoad(model, seconds, time.monotonic()))

    def between(self, start: float, end: float | None = None) -> list[ModelLoad]:
        with self._lock:
            return [load for load in self._loads if start <= load.finished and (end is None or load.finished <= end)]


MODEL_LOADS = LoadLog()


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def summarize(records: list[CallRecord], loads: Sequence[ModelLoad] = ()) -> dict:
    """Aggregate figures; every count here adds up (hits + coalesced + misses + audit_requests ==
    requests). `llm_calls` are the engine calls of the work itself, `audit_calls` those of the
    cache-hit audit (a re-run served from the cache makes none of the first; the token figures
    count both, as both were spent). `load_s` is None when no model was loaded: the backend
    reported no load time and `loads` is empty."""
    engine = [r for r in records if r.cache_tier is None and not r.coalesced]
    hits_by_tier: dict[str, int] = {}
    for r in records:
        if r.cache_tier:
            hits_by_tier[r.cache_tier] = hits_by_tier.get(r.cache_tier, 0) + 1
    hits = sum(hits_by_tier.values())
    coalesced = sum(1 for r in records if r.coalesced)
    decode_tokens = sum(r.completion_tokens for r in engine)
    engine_time = sum(r.latency_s for r in engine)
    latencies = [r.latency_s for r in engine]
    invalid = sum(r.invalid for r in records)
    engine_calls = sum(r.engine_calls for r in records)
    audits = sum(1 for r in records if r.audit)
    audit_calls = sum(r.engine_calls for r in records if r.audit)
    reported_load = sum(r.load_s for r in records)  # a server's own figure (Ollama's load_duration)
    return {
        "requests": len(records),
        "cache_hits": hits,
        "cache_hits_by_tier": hits_by_tier,
        "cache_hit_rate": round(hits / len(records), 4) if records else 0.0,
        "coalesced": coalesced,
        "misses": len(records) - hits - coalesced - audits,
        "llm_calls": engine_calls - audit_calls,
        "retries": sum(r.retries for r in records),
        "invalid_outputs": invalid,
        "invalid_rate": round(invalid / engine_calls, 4) if engine_calls else 0.0,
        "repaired": sum(1 for r in records if r.repaired),
        "fallbacks": sum(1 for r in records if r.fallback),
        "truncated": sum(r.truncated for r in records),
        "raced": sum(1 for r in records if r.raced),
        "wasted_tokens": sum(r.wasted_tokens for r in records),
        "failed": sum(1 for r in records if not r.ok),
        "tokens_in": sum(r.prompt_tokens for r in engine),
        "tokens_in_cached": sum(r.cached_prompt_tokens for r in engine),
        "tokens_out": decode_tokens,
        "tokens_replayed_in": sum(r.replayed_prompt_tokens for r in records if r.cache_tier),
        "tokens_replayed_out": sum(r.replayed_completion_tokens for r in records if r.cache_tier),
        "stream_aborted": sum(r.stream_aborted for r in records),
        "audit_requests": audits,
        "audit_calls": audit_calls,
        "tokens_per_s": round(decode_tokens / engine_time, 2) if engine_time else None,
        "latency_p50_s": _percentile(latencies, 50),
        "latency_p95_s": _percentile(latencies, 95),
        "latency_p99_s": _percentile(latencies, 99),
        "queue_wait_p95_s": _percentile([r.queue_wait_s for r in engine], 95),
        "load_s": round(reported_load + sum(load.seconds for load in loads), 3) if reported_load or loads else None,
        "models_loaded": [f"{load.model} {load.seconds:.1f}s" for load in loads],
        "models": sorted({r.model for r in records if r.model}),
    }


class MetricsRecorder:
    """Collects CallRecords while active; several can be active at once (run, asset, test).
    Its summary counts the model loads that ended between its start and its `stop`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[CallRecord] = []
        self.started = time.monotonic()
        self.stopped: float | None = None

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)

    def stop(self) -> None:
        self.stopped = time.monotonic()

    def served(self) -> tuple[int, int]:
        """(requests answered by a cache or an identical request in flight, requests that reached an engine)."""
        with self._lock:
            engine = sum(1 for r in self.records if r.cache_tier is None and not r.coalesced)
            return len(self.records) - engine, engine

    def summary(self) -> dict:
        with self._lock:
            records = list(self.records)
        return summarize(records, MODEL_LOADS.between(self.started, self.stopped))


class MetricsHub:
    """Fans each record out to every recorder that is currently tracking. The active recorders
    are a tuple replaced when one starts or stops, so recording (on every request) takes no lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: tuple[MetricsRecorder, ...] = ()
        self.lifetime = MetricsRecorder()

    def record(self, record: CallRecord) -> None:
        self.lifetime.add(record)
        for recorder in self._active:
            recorder.add(record)

    @contextmanager
    def track(self):
        recorder = MetricsRecorder()
        with self._lock:
            self._active = (*self._active, recorder)
        try:
            yield recorder
        finally:
            recorder.stop()
            with self._lock:
                self._active = tuple(r for r in self._active if r is not recorder)
