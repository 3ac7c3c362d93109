"""Probes that watch leadflow from the outside (no change to leadflow itself).

- `EngineProbe` wraps the xllamacpp servers leadflow loads: every request body that reaches
  the engine (so the raw-engine floor can replay exactly those) and the engine's own timings
  (prefill vs decode, cached prompt tokens).
- `ClientProbe` wraps one `LLMClient` instance: wall time of each LLM stage
  (`map_concurrent` per role), of `embed_many`, and the `complete_json` calls it served.
- `TimedDuckDBResource` times every connection block the assets open.
- `step_timings` reads per-step durations from the Dagster event log.
"""

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from dagster_duckdb import DuckDBResource

from leadflow.llm.backends.embedded import EmbeddedBackend

T = TypeVar("T")


class Phase:
    """The workload phase records are tagged with (set by the runner)."""

    name = "setup"


class EngineProbe:
    _installed = False
    entries: ClassVar[list[dict]] = []  # process-wide probe: one record list for all uses
    _lock = threading.Lock()

    @classmethod
    def install(cls) -> None:
        """Wrap `EmbeddedBackend.engine` so every handle it returns talks through a proxy."""
        if cls._installed:
            return
        original = EmbeddedBackend.engine

        def engine(self, model, num_ctx=None, embedding=False):
            handle = original(self, model, num_ctx, embedding)
            if not isinstance(handle.server, _ServerProxy):
                handle.server = _ServerProxy(handle.server, Path(handle.path).stem, handle)
            return handle

        EmbeddedBackend.engine = engine  # type: ignore[method-assign]  # on purpose: the probe wraps every engine the benchmark loads
        cls._installed = True

    @classmethod
    def add(cls, entry: dict) -> None:
        with cls._lock:
            cls.entries.append(entry)

    @classmethod
    def select(cls, *phases: str, kind: str | None = None) -> list[dict]:
        with cls._lock:
            return [e for e in cls.entries if e["phase"] in phases and (kind is None or e["kind"] == kind)]


class _ServerProxy:
    """Forwards to the real xllamacpp server and records what went through it."""

    def __init__(self, server, model: str, handle):
        self._server = server
        self._model = model
        self._n_parallel = None
        self._ctx_per_slot = handle.ctx_per_slot

    def handle_chat_completions(self, body, callback=None):
        started = time.perf_counter()
        phase = Phase.name
        if callback is None:
            result = self._server.handle_chat_completions(body)
            timings = (result or {}).get("timings") or {} if isinstance(result, dict) else {}
        else:
            state: dict[str, Any] = {"timings": {}}

            def on_chunk(chunk):
                if isinstance(chunk, dict) and chunk.get("timings"):
                    state["timings"] = chunk["timings"]
                callback(chunk)

            result = self._server.handle_chat_completions(body, on_chunk)
            timings = state["timings"]
        ended = time.perf_counter()
        EngineProbe.add(
            {
                "phase": phase,
                "kind": "chat",
                "model": self._model,
                "ctx_per_slot": self._ctx_per_slot,
                "body": {k: v for k, v in body.items() if k != "stream"},
                "stream": bool(body.get("stream")),
                "t0": started,
                "t1": ended,
                "wall_s": ended - started,
                **_timing_fields(timings),
            }
        )
        return result

    def handle_embeddings(self, body):
        started = time.perf_counter()
        phase = Phase.name
        result = self._server.handle_embeddings(body)
        ended = time.perf_counter()
        usage = (result.get("usage") or {}) if isinstance(result, dict) else {}
        inputs = body.get("input") or []
        EngineProbe.add(
            {
                "phase": phase,
                "kind": "embed",
                "model": self._model,
                "inputs": len(inputs),
                "input_chars": sum(len(t) for t in inputs),
                "prompt_n": int(usage.get("prompt_tokens") or 0),
                "t0": started,
                "t1": ended,
                "wall_s": ended - started,
            }
        )
        return result

    def __getattr__(self, name):
        return getattr(self._server, name)


def _timing_fields(timings: dict) -> dict:
    return {
        "prompt_n": int(timings.get("prompt_n") or 0),
        "cache_n": int(timings.get("cache_n") or 0),
        "prompt_ms": float(timings.get("prompt_ms") or 0.0),
        "predicted_n": int(timings.get("predicted_n") or 0),
        "predicted_ms": float(timings.get("predicted_ms") or 0.0),
    }


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """Wall time covered by possibly overlapping intervals."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


class ClientProbe:
    """Times the LLM stages of one client instance (instance attributes shadow the methods)."""

    def __init__(self, client):
        self.client = client
        self.stages: list[dict] = []
        self.calls: list[dict] = []
        self._lock = threading.Lock()
        map_concurrent, embed_many, complete_json = client.map_concurrent, client.embed_many, client.complete_json

        def timed_map(fn, items, role, on_done=None):
            items = list(items)
            before = len(EngineProbe.select(Phase.name, kind="chat"))
            started = time.perf_counter()
            try:
                return map_concurrent(fn, items, role, on_done)
            finally:
                ended = time.perf_counter()
                engine_calls = len(EngineProbe.select(Phase.name, kind="chat")) - before
                self._add(
                    {
                        "phase": Phase.name,
                        "op": "map_concurrent",
                        "role": role,
                        "items": len(items),
                        "engine_calls": engine_calls,
                        "t0": started,
                        "t1": ended,
                        "wall_s": ended - started,
                    }
                )

        def timed_embed(texts, role="embed"):
            started = time.perf_counter()
            try:
                return embed_many(texts, role)
            finally:
                ended = time.perf_counter()
                self._add(
                    {
                        "phase": Phase.name,
                        "op": "embed_many",
                        "role": role,
                        "items": len(texts),
                        "t0": started,
                        "t1": ended,
                        "wall_s": ended - started,
                    }
                )

        def recorded_complete(role, template_id, variables, validator=None, **options):
            with self._lock:
                self.calls.append(
                    {
                        "phase": Phase.name,
                        "role": role,
                        "template_id": template_id,
                        "variables": dict(variables),
                        "validator": validator,
                    }
                )
            return complete_json(role, template_id, variables, validator, **options)

        client.map_concurrent = timed_map
        client.embed_many = timed_embed
        client.complete_json = recorded_complete
        self.raw_complete_json = complete_json
        self.raw_embed_many = embed_many

    def _add(self, entry: dict) -> None:
        with self._lock:
            self.stages.append(entry)

    def select(self, phase: str, op: str | None = None) -> list[dict]:
        with self._lock:
            return [s for s in self.stages if s["phase"] == phase and (op is None or s["op"] == op)]


class DuckTimer:
    entries: ClassVar[list[dict]] = []  # process-wide probe: one record list for all uses
    _lock = threading.Lock()

    @classmethod
    def add(cls, seconds: float) -> None:
        with cls._lock:
            cls.entries.append({"phase": Phase.name, "wall_s": seconds})

    @classmethod
    def total(cls, phase: str) -> tuple[float, int]:
        with cls._lock:
            rows = [e["wall_s"] for e in cls.entries if e["phase"] == phase]
        return sum(rows), len(rows)


class TimedDuckDBResource(DuckDBResource):
    """DuckDBResource whose connection blocks (open, SQL, commit, close) are timed."""

    @contextmanager
    def get_connection(self):
        started = time.perf_counter()
        try:
            with super().get_connection() as conn:
                yield conn
        finally:
            DuckTimer.add(time.perf_counter() - started)


def step_timings(instance, run_id: str) -> dict:
    """Per-step durations, run duration and event count from the Dagster event log."""
    starts: dict[str, float] = {}
    steps: dict[str, float] = {}
    run_start = run_end = None
    events = 0
    for record in instance.all_logs(run_id):
        events += 1
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind in ("RUN_START", "PIPELINE_START"):
            run_start = record.timestamp
        elif kind in ("RUN_SUCCESS", "RUN_FAILURE", "PIPELINE_SUCCESS", "PIPELINE_FAILURE"):
            run_end = record.timestamp
        elif kind == "STEP_START":
            starts[event.step_key] = record.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            steps[event.step_key] = round(record.timestamp - starts[event.step_key], 4)
    return {
        "steps_s": steps,
        "steps_total_s": round(sum(steps.values()), 4),
        "run_s": round(run_end - run_start, 4) if run_start and run_end else None,
        "event_log_entries": events,
    }


def vm_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets VmHWM to the current RSS (per-phase peaks)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _package_of(filename: str) -> str:
    """'dagster', 'sqlalchemy', 'leadflow', ... for a code object's file; builtins by name."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins/C"
    path = filename.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return path.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    for name in ("leadflow", "bench"):
        if f"/{name}/" in path:
            return name
    return "python stdlib"


def profile_by_package(fn: Callable[[], T]) -> tuple[T, dict]:
    """Run fn under cProfile; own time (tottime) per top-level package, and the top functions.

    Builtins (C functions such as sqlite3 execute or time.sleep) are attributed to the package
    of their caller, so "sqlalchemy" includes the SQLite calls it makes.
    """
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = {}
    top = []
    total = 0.0
    # Stats.stats (the raw table, with callers) is missing from typeshed; get_stats_profile() drops the callers.
    for (filename, line, name), (_cc, nc, tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]
        package = _package_of(filename)
        if package == "builtins/C" and callers:
            # the caller that spent most time calling it
            caller = max(callers.items(), key=lambda kv: kv[1][2])[0]
            package = _package_of(caller[0])
            if package == "builtins/C":
                package = "python stdlib"
        by_package[package] = by_package.get(package, 0.0) + tt
        total += tt
        top.append((tt, f"{package}: {name} ({filename.rsplit('/', 1)[-1]}:{line})", nc))
    top.sort(reverse=True)
    shares = {
        k: {"seconds": round(v, 3), "share": round(v / total, 3) if total else None}
        for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
        if v >= 0.001
    }
    return result, {
        "profiled_s": round(total, 3),
        "by_package": shares,
        "top_functions": [{"seconds": round(t, 3), "calls": n, "function": f} for t, f, n in top[:15]],
    }
