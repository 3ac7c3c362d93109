"""Endpoint pools: a concurrency bound per (endpoint, model), least-busy routing and circuit breakers.

The bound is a slot held until the response (or stream) is fully read, so it is never
exceeded. Its size comes from `concurrency.Sizer` (the setting, the server's slots, or a
calibration on the first requests). It is per process; the cross-run bound is the Dagster pool
the assets declare.
"""

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from leadflow.llm.backends.base import Backend
from leadflow.llm.concurrency import Limit, Sizer, SizingStore
from leadflow.llm.types import CircuitOpen, LLMError


@dataclass
class SlotStats:
    in_flight: int = 0
    peak_in_flight: int = 0
    consecutive_failures: int = 0
    open_until: float = 0.0
    opened: int = 0
    last_error: str = ""  # what the latest failure said: an open circuit's error repeats it


class EndpointPool:
    """The backends serving one role; hands out slots on the least-busy healthy one."""

    def __init__(
        self,
        backends: list[Backend],
        max_concurrency: int = 0,
        circuit_failures: int = 3,
        circuit_cooldown_s: float = 30.0,
        sizing_store: SizingStore | None = None,
    ):
        """`max_concurrency`: in flight per (endpoint, model); 0 sizes it to the engine."""
        if not backends:
            raise ValueError("an endpoint pool needs at least one backend")
        self.backends = backends
        self.sizer = Sizer(max_concurrency, sizing_store)
        self.circuit_failures = circuit_failures
        self.circuit_cooldown_s = circuit_cooldown_s
        self._cond = threading.Condition()
        self._stats: dict[tuple[str, str], SlotStats] = {}
        self._limits: dict[tuple[str, str], Limit] = {}
        self._slots: dict[str, int | None] = {}

    def _parallel_slots(self, backend: Backend) -> int | None:
        """What the server reports, asked once per endpoint (an unreachable one reports nothing)."""
        if backend.endpoint not in self._slots:
            try:
                self._slots[backend.endpoint] = backend.parallel_slots()
            except LLMError:
                self._slots[backend.endpoint] = None  # down now: calibrated like a server that says nothing
        return self._slots[backend.endpoint]

    @property
    def max_concurrency(self) -> int:
        """The most requests one endpoint may get at once: threads that keep it saturated."""
        return max(self.sizer.ceiling(self._parallel_slots(b)) for b in self.backends)

    def limit(self, backend: Backend, model: str) -> Limit:
        key = (backend.endpoint, model)
        if key not in self._limits:
            self._limits[key] = self.sizer.limit(backend, model, self._parallel_slots(backend))
        return self._limits[key]

    def sizing(self) -> dict[str, dict]:
        """Each (endpoint, model)'s bound and where it came from ("endpoint model" -> report)."""
        with self._cond:
            return {f"{endpoint} {model}": limit.report() for (endpoint, model), limit in self._limits.items()}

    @property
    def kind(self) -> str:
        return self.backends[0].kind

    def stats(self, backend: Backend, model: str) -> SlotStats:
        return self._stats.setdefault((backend.endpoint, model), SlotStats())

    def _candidates(self, model: str, now: float) -> list[Backend]:
        healthy = [b for b in self.backends if self.stats(b, model).open_until <= now]
        return sorted(healthy, key=lambda b: self.stats(b, model).in_flight)

    @contextmanager
    def slot(self, model: str, exclude: frozenset[str] = frozenset()):
        """Wait for a free slot on the least-busy healthy endpoint; yields (backend, queue_wait_s)."""
        started = time.monotonic()
        with self._cond:
            while True:
                now = time.monotonic()
                candidates = self._candidates(model, now)
                if not candidates:
                    causes = "; ".join(self.stats(b, model).last_error or f"{b.endpoint} failed" for b in self.backends)
                    raise CircuitOpen(
                        f"every endpoint for {model!r} is cooling down after {self.circuit_failures} failures "
                        f"(last: {causes})"
                    )
                preferred = [b for b in candidates if b.endpoint not in exclude] or candidates
                free = [b for b in preferred if self.limit(b, model).admits(self.stats(b, model).in_flight)]
                if free:
                    backend = free[0]
                    stats = self.stats(backend, model)
                    stats.in_flight += 1
                    stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
                    self.limit(backend, model).admit(now)
                    break
                self._cond.wait(timeout=0.5)
        try:
            yield backend, time.monotonic() - started
        finally:
            with self._cond:
                self.stats(backend, model).in_flight -= 1
                self.limit(backend, model).release(time.monotonic())
                self._cond.notify_all()

    def report(self, backend: Backend, model: str, ok: bool, error: str = "") -> None:
        """Count a success or a failure (`error` says what failed); N consecutive failures open
        the circuit for the cool-down."""
        with self._cond:
            stats = self.stats(backend, model)
            if ok:
                stats.consecutive_failures = 0
                return
            stats.last_error = error
            stats.consecutive_failures += 1
            if stats.consecutive_failures >= self.circuit_failures:
                stats.open_until = time.monotonic() + self.circuit_cooldown_s
                stats.consecutive_failures = 0
                stats.opened += 1
