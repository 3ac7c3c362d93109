"""Single-flight: concurrent identical requests reach the engine once and share its answer."""

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Runs `compute` once per key at a time; callers arriving meanwhile wait for its result
    (or its exception). The key is released when the computation ends, so a later call runs
    again (by then the answer is normally in the cache)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[T]] = {}

    def do(self, key: str, compute: Callable[[], T]) -> tuple[T, bool]:
        """(result, shared): `shared` is True for a caller that waited on another's computation."""
        with self._lock:
            future = self._inflight.get(key)
            leader = future is None
            if future is None:
                future = self._inflight[key] = Future()
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
            with self._lock:
                self._inflight.pop(key, None)
