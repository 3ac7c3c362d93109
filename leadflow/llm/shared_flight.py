"""Single-flight across processes and hosts, over the shared Redis of the cache: of several
workers that miss the cache on the same request at once, one computes and the others wait for
its answer to reach the cache, so no two workers pay the engine for the same answer.

The leader holds `flight:<key>` (SET NX with a lease it refreshes while it computes); the
others poll the cache until the answer is there, or until the key is gone without one (the
leader failed or died: its lease runs out), and then try to lead themselves. Without Redis
(down, or no Redis tier) every process computes for itself, as the cache then fails soft too.
"""

import contextlib
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import redis

T = TypeVar("T")

LEASE_S = 30.0  # a dead leader's key is gone this long after its last refresh at most
POLL_S = 0.05
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_REFRESH = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


class RedisFlight:
    """`do(key, compute, cached)` once across every process that shares this Redis."""

    def __init__(self, client: redis.Redis, prefix: str, lease_s: float = LEASE_S, poll_s: float = POLL_S) -> None:
        self._client, self._prefix = client, prefix
        self._lease_ms, self._poll_s = max(1, round(lease_s * 1000)), poll_s

    def do(self, key: str, compute: Callable[[], T], cached: Callable[[], T | None]) -> tuple[T, bool]:
        """(result, shared): `shared` is True when another process computed it."""
        flight, token = f"{self._prefix}flight:{key}", uuid.uuid4().hex
        while True:
            try:
                leader = bool(self._client.set(flight, token, nx=True, px=self._lease_ms))
            except (redis.RedisError, OSError):
                return compute(), False
            if leader:
                return self._lead(flight, token, compute), False
            found = self._wait(flight, cached)
            if found is not None:
                return found, True

    def _lead(self, flight: str, token: str, compute: Callable[[], T]) -> T:
        done = threading.Event()
        refresher = threading.Thread(target=self._refresh, args=(flight, token, done), daemon=True)
        refresher.start()
        try:
            return compute()
        finally:
            done.set()
            refresher.join()
            with contextlib.suppress(redis.RedisError, OSError):  # else the lease runs out by itself
                self._client.eval(_RELEASE, 1, flight, token)

    def _refresh(self, flight: str, token: str, done: threading.Event) -> None:
        while not done.wait(self._lease_ms / 3000):
            try:
                self._client.eval(_REFRESH, 1, flight, token, self._lease_ms)
            except (redis.RedisError, OSError):
                return

    def _wait(self, flight: str, cached: Callable[[], T | None]) -> T | None:
        """The answer once the leader has cached it; None when the leader went away without one."""
        while True:
            found = cached()
            if found is not None:
                return found
            try:
                if not self._client.exists(flight):
                    return cached()
            except (redis.RedisError, OSError):
                return None
            time.sleep(self._poll_s)
