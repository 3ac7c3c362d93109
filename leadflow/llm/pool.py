"""Endpoint pools: a concurrency bound per (endpoint, model), least-busy routing and circuit breakers.

The bound is a semaphore held until the response (or stream) is fully read, so it is never
exceeded. It is per process; the cross-run bound is the Dagster pool the assets declare.
"""

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from leadflow.llm.backends.base import Backend
from leadflow.llm.types import CircuitOpen


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
        max_concurrency: int,
        circuit_failures: int = 3,
        circuit_cooldown_s: float = 30.0,
    ):
        if not backends:
            raise ValueError("an endpoint pool needs at least one backend")
        self.backends = backends
        self.max_concurrency = max_concurrency
        self.circuit_failures = circuit_failures
        self.circuit_cooldown_s = circuit_cooldown_s
        self._cond = threading.Condition()
        self._stats: dict[tuple[str, str], SlotStats] = {}

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
                free = [b for b in preferred if self.stats(b, model).in_flight < self.max_concurrency]
                if free:
                    backend = free[0]
                    stats = self.stats(backend, model)
                    stats.in_flight += 1
                    stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
                    break
                self._cond.wait(timeout=0.5)
        try:
            yield backend, time.monotonic() - started
        finally:
            with self._cond:
                self.stats(backend, model).in_flight -= 1
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
