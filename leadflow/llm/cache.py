"""Tiered response cache for the LLM client (plain Python: stdlib + redis-py, no Dagster).

Tiers are ordered fastest first: an in-process byte-bounded LRU, a SQLite file shared by every
run process on the host, and optionally Redis shared across hosts. Reads go through the tiers
in order and promote a hit into the faster tiers; writes go to every tier. A failing tier is a
miss or a skipped write, never a failed LLM call: Redis being down must not stop a run.

The cache stores opaque bytes. Deciding what may be cached (never errors, truncated output or
output that failed validation) is the caller's job; so is the key (see ``cache_key``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from leadflow.llm.shared_flight import RedisFlight
from leadflow.storage.private import private_file, private_parent

_log = logging.getLogger(__name__)


class CacheUnavailable(Exception):
    """A cache tier cannot be reached or failed; callers treat it as a miss."""


# Errors a tier may raise that TieredCache turns into a miss / skipped write.
TIER_ERRORS: tuple[type[Exception], ...] = (CacheUnavailable, OSError, sqlite3.Error)


class CacheHit(NamedTuple):
    """A cached value and the tier that served it (a tuple: one is made on every hit)."""

    value: bytes
    tier: str


def _check_ttl(ttl_s: float | None) -> None:
    if ttl_s is not None and not ttl_s > 0:
        raise ValueError(f"ttl_s must be > 0 or None (no expiry), got {ttl_s!r}")


class CacheTier(ABC):
    """One storage level. ``kind`` namespaces entries ("classification", "dossier", ...)."""

    name: str

    @abstractmethod
    def get(self, key: str, kind: str) -> bytes | None:
        """The value, or None when absent or expired."""

    @abstractmethod
    def set(self, key: str, kind: str, value: bytes, ttl_s: float | None) -> None:
        """Store ``value``; ``ttl_s`` None means no expiry."""

    @abstractmethod
    def delete(self, key: str, kind: str) -> None:
        """Remove one entry if present."""

    @abstractmethod
    def clear(self, kind: str | None = None) -> int:
        """Remove every entry (of ``kind`` when given); return how many were removed."""

    @abstractmethod
    def expire(self) -> int:
        """Remove expired entries now; return how many were removed."""

    @abstractmethod
    def size(self) -> tuple[int, int]:
        """(live entries, bytes of keys + values)."""

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default, not abstract
        """Release connections; the default tier holds none."""


class MemoryLRUTier(CacheTier):
    """In-process LRU bounded by bytes, not entries: one dossier can weigh as much as a
    thousand classifications, so an entry count bounds nothing useful."""

    def __init__(self, max_bytes: int, name: str = "memory") -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be > 0")
        self.name = name
        self.max_bytes = max_bytes
        # (kind, key) -> (value, expires_at on the monotonic clock or None, accounted bytes)
        self._data: OrderedDict[tuple[str, str], tuple[bytes, float | None, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _weight(key: str, kind: str, value: bytes) -> int:
        return len(key.encode()) + len(kind.encode()) + len(value)

    def _pop(self, slot: tuple[str, str]) -> None:
        _, _, nbytes = self._data.pop(slot)
        self._bytes -= nbytes

    def get(self, key: str, kind: str) -> bytes | None:
        slot = (kind, key)
        with self._lock:
            entry = self._data.get(slot)
            if entry is None:
                return None
            value, expires_at, _ = entry
            if expires_at is not None and expires_at <= time.monotonic():
                self._pop(slot)
                return None
            self._data.move_to_end(slot)
            return value

    def set(self, key: str, kind: str, value: bytes, ttl_s: float | None) -> None:
        _check_ttl(ttl_s)
        slot = (kind, key)
        nbytes = self._weight(key, kind, value)
        expires_at = None if ttl_s is None else time.monotonic() + ttl_s
        with self._lock:
            if slot in self._data:
                self._pop(slot)
            if nbytes > self.max_bytes:
                return  # would evict everything and still not fit
            self._data[slot] = (value, expires_at, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                self._pop(next(iter(self._data)))

    def delete(self, key: str, kind: str) -> None:
        with self._lock:
            if (kind, key) in self._data:
                self._pop((kind, key))

    def clear(self, kind: str | None = None) -> int:
        with self._lock:
            slots = [s for s in self._data if kind is None or s[0] == kind]
            for slot in slots:
                self._pop(slot)
            return len(slots)

    def expire(self) -> int:
        now = time.monotonic()
        with self._lock:
            slots = [s for s, (_, exp, _) in self._data.items() if exp is not None and exp <= now]
            for slot in slots:
                self._pop(slot)
            return len(slots)

    def size(self) -> tuple[int, int]:
        with self._lock:
            return len(self._data), self._bytes


class SqliteTier(CacheTier):
    """Host-wide persistent tier in one SQLite file, shared across runs and processes.

    SQLite rather than DuckDB on purpose: DuckDB allows a single writer *process* per database
    file, while this cache is written by several concurrent Dagster run processes. WAL mode lets
    readers proceed during a write and busy_timeout makes writers queue instead of failing.
    Each thread (and each process after a fork) gets its own connection. Expiry uses wall-clock
    time because the monotonic clock is not comparable across processes or reboots. Rows are
    keyed by (key, kind), like the other tiers, so one key under two kinds is two entries.
    A file that cannot be created yet (a full disk) does not fail the constructor: every use
    tries again and raises, which TieredCache counts as a failed tier until there is room.
    """

    JOURNALS = ("-wal", "-shm")  # WAL mode's files next to the database
    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS llm_cache ("
        " key TEXT NOT NULL, kind TEXT NOT NULL, value BLOB NOT NULL,"
        " created_at REAL NOT NULL, expires_at REAL NULL, bytes INTEGER NOT NULL,"
        " PRIMARY KEY (key, kind))",
        "CREATE INDEX IF NOT EXISTS llm_cache_kind ON llm_cache(kind)",
        "CREATE INDEX IF NOT EXISTS llm_cache_expires_at ON llm_cache(expires_at)",
    )

    def __init__(self, path: str, busy_timeout_s: float = 5.0, name: str = "sqlite") -> None:
        self.name = name
        self.path = os.fspath(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        # (pid, owning thread, connection): lets close() and dead-thread reaping find them.
        self._conns: list[tuple[int, weakref.ref[threading.Thread], sqlite3.Connection]] = []
        self._conns_lock = threading.Lock()
        self._ready = False  # the file and its schema exist
        self._ready_lock = threading.Lock()
        with contextlib.suppress(*TIER_ERRORS):  # tried again, and counted, on every use
            self._conn()

    def _create(self) -> None:
        """The file, owner-only before SQLite writes a byte (the -wal and -shm files take its
        mode), and the schema."""
        private_parent(self.path)
        private_file(self.path, *self.JOURNALS, create=True)
        conn = self._connect()
        for stmt in self._SCHEMA:
            conn.execute(stmt)
        self._ready = True

    def _conn(self) -> sqlite3.Connection:
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self._create()
        return self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        # isolation_level=None: autocommit, every statement is its own short transaction.
        # check_same_thread=False only so close() may close other threads' connections; each
        # connection is still used by the one thread that opened it.
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable enough for a cache under WAL
        except sqlite3.Error:
            conn.close()
            raise
        pid = os.getpid()
        self._local.conn, self._local.pid = conn, pid
        with self._conns_lock:
            keep = []
            for owner_pid, owner, other in self._conns:
                thread = owner()
                if owner_pid != pid:
                    continue  # inherited across fork: never touch the parent's connection
                if thread is None or not thread.is_alive():
                    other.close()  # its thread is gone; don't leak one connection per thread
                    continue
                keep.append((owner_pid, owner, other))
            keep.append((pid, weakref.ref(threading.current_thread()), conn))
            self._conns = keep
        return conn

    def get(self, key: str, kind: str) -> bytes | None:
        conn = self._conn()
        row = conn.execute("SELECT value, expires_at FROM llm_cache WHERE key = ? AND kind = ?", (key, kind)).fetchone()
        if row is None:
            return None
        value, expires_at = row
        now = time.time()
        if expires_at is not None and expires_at <= now:
            # Lazy delete; the guard keeps a concurrent fresh write from being removed.
            conn.execute(
                "DELETE FROM llm_cache WHERE key = ? AND kind = ? AND expires_at <= ?",
                (key, kind, now),
            )
            return None
        return bytes(value)

    def set(self, key: str, kind: str, value: bytes, ttl_s: float | None) -> None:
        _check_ttl(ttl_s)
        now = time.time()
        self._conn().execute(
            "INSERT OR REPLACE INTO llm_cache (key, kind, value, created_at, expires_at, bytes)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                kind,
                value,
                now,
                None if ttl_s is None else now + ttl_s,
                len(key.encode()) + len(kind.encode()) + len(value),
            ),
        )

    def delete(self, key: str, kind: str) -> None:
        self._conn().execute("DELETE FROM llm_cache WHERE key = ? AND kind = ?", (key, kind))

    def clear(self, kind: str | None = None) -> int:
        if kind is None:
            cur = self._conn().execute("DELETE FROM llm_cache")
        else:
            cur = self._conn().execute("DELETE FROM llm_cache WHERE kind = ?", (kind,))
        return cur.rowcount

    def expire(self) -> int:
        cur = self._conn().execute(
            "DELETE FROM llm_cache WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (time.time(),),
        )
        return cur.rowcount

    def size(self) -> tuple[int, int]:
        entries, nbytes = (
            self._conn()
            .execute(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM llm_cache WHERE expires_at IS NULL OR expires_at > ?",
                (time.time(),),
            )
            .fetchone()
        )
        return int(entries), int(nbytes)

    def close(self) -> None:
        pid = os.getpid()
        with self._conns_lock:
            conns, self._conns = self._conns, []
            self._local = threading.local()
        for owner_pid, _, conn in conns:
            if owner_pid == pid:
                conn.close()


class RedisTier(CacheTier):
    """Cross-host tier. Entries live at ``{prefix}{kind}:{key}`` so ``clear(kind)`` is one SCAN.

    Timeouts are short (connect 0.5 s, op 1 s) and redis-py's own retries are off (its default
    is 10 retries with backoff): a dead Redis must cost a call milliseconds, not seconds.
    Every redis error surfaces as CacheUnavailable. Redis expires keys itself (``SET ... PX``).
    """

    def __init__(
        self,
        url: str,
        prefix: str = "leadflow:llm:",
        connect_timeout_s: float = 0.5,
        op_timeout_s: float = 1.0,
        name: str = "redis",
    ) -> None:
        self.name = name
        self.prefix = prefix
        self._client = redis.Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=op_timeout_s,
            retry=Retry(NoBackoff(), 0),
        )

    def _rkey(self, key: str, kind: str) -> str:
        if not kind or any(c in kind for c in ":*?[]\\"):
            raise ValueError(f"kind {kind!r} must be non-empty without ':' or glob characters")
        return f"{self.prefix}{kind}:{key}"

    def _pattern(self, kind: str | None) -> str:
        return self.prefix + "*" if kind is None else self._rkey("*", kind)

    def get(self, key: str, kind: str) -> bytes | None:
        rkey = self._rkey(key, kind)
        try:
            value = self._client.get(rkey)
        except (redis.RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis GET failed: {exc}") from exc
        assert not isinstance(value, str)  # the client is built without decode_responses: values are bytes
        return value

    def set(self, key: str, kind: str, value: bytes, ttl_s: float | None) -> None:
        _check_ttl(ttl_s)
        rkey = self._rkey(key, kind)
        px = None if ttl_s is None else max(1, round(ttl_s * 1000))
        try:
            self._client.set(rkey, value, px=px)
        except (redis.RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis SET failed: {exc}") from exc

    def delete(self, key: str, kind: str) -> None:
        rkey = self._rkey(key, kind)
        try:
            self._client.delete(rkey)
        except (redis.RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis DEL failed: {exc}") from exc

    def flight(self) -> RedisFlight:
        """Single-flight across the processes that share this Redis (`leadflow.llm.shared_flight`)."""
        return RedisFlight(self._client, self.prefix)

    def clear(self, kind: str | None = None) -> int:
        pattern = self._pattern(kind)
        removed = 0
        try:
            batch: list[bytes] = []
            for rkey in self._client.scan_iter(match=pattern, count=1000):
                batch.append(rkey)
                if len(batch) >= 1000:
                    removed += self._client.delete(*batch)
                    batch = []
            if batch:
                removed += self._client.delete(*batch)
        except (redis.RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis clear failed: {exc}") from exc
        return removed

    def expire(self) -> int:
        return 0  # Redis drops expired keys itself

    def size(self) -> tuple[int, int]:
        entries = nbytes = 0
        try:
            keys = list(self._client.scan_iter(match=self._pattern(None), count=1000))
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                pipe = self._client.pipeline(transaction=False)
                for rkey in chunk:
                    pipe.strlen(rkey)
                for rkey, strlen in zip(chunk, pipe.execute(), strict=True):
                    if strlen:  # 0: expired or deleted since the SCAN
                        entries += 1
                        # Same accounting as the other tiers: key (sans prefix) + kind + value.
                        nbytes += len(rkey) - len(self.prefix.encode()) - 1 + strlen
        except (redis.RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis size failed: {exc}") from exc
        return entries, nbytes

    def close(self) -> None:
        self._client.close()


@dataclass
class _TierStats:
    hits: int = 0
    misses: int = 0
    sets: int = 0
    errors: int = 0
    promotions: int = 0
    skipped: int = 0
    last_warning: float = float("-inf")
    suppressed: int = 0
    down_until: float = float("-inf")


class TieredCache:
    """Read-through, write-through cache over ordered tiers (fastest first).

    A tier error (CacheUnavailable, OSError, sqlite3.Error) is counted, logged at most once per
    tier per ``warn_interval_s``, and treated as a miss or a skipped write. After an error the
    tier is skipped (by get, set, delete and stats sizing; clear/expire always try) for
    ``error_cooldown_s`` so that an unreachable Redis costs one timeout per cooldown instead of
    one per call; skipped lookups count as misses (and as ``skipped``).
    """

    def __init__(
        self,
        tiers: list[CacheTier],
        ttl_by_kind: dict[str, float | None],
        logger: logging.Logger | None = None,
        error_cooldown_s: float = 5.0,
        warn_interval_s: float = 60.0,
    ) -> None:
        names = [t.name for t in tiers]
        if len(set(names)) != len(names):
            raise ValueError(f"tier names must be unique: {names}")
        for ttl in ttl_by_kind.values():
            _check_ttl(ttl)
        self.tiers = list(tiers)
        self.ttl_by_kind = dict(ttl_by_kind)
        self.error_cooldown_s = error_cooldown_s
        self.warn_interval_s = warn_interval_s
        self._log = logger or _log
        self._stats = {t.name: _TierStats() for t in tiers}
        self._lock = threading.Lock()

    def ttl_for(self, kind: str) -> float | None:
        """Per-kind TTL in seconds; unknown kinds never expire."""
        return self.ttl_by_kind.get(kind)

    def shared_flight(self) -> RedisFlight | None:
        """Single-flight across processes, over the first Redis tier; None without one."""
        return next((tier.flight() for tier in self.tiers if isinstance(tier, RedisTier)), None)

    def _available(self, tier: CacheTier) -> bool:
        return self._stats[tier.name].down_until <= time.monotonic()

    def _count(self, tier: CacheTier, field: str) -> None:
        with self._lock:
            st = self._stats[tier.name]
            setattr(st, field, getattr(st, field) + 1)

    def _failed(self, tier: CacheTier, op: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            st = self._stats[tier.name]
            st.errors += 1
            st.down_until = now + self.error_cooldown_s
            if now - st.last_warning < self.warn_interval_s:
                st.suppressed += 1
                return
            suppressed, st.suppressed, st.last_warning = st.suppressed, 0, now
        self._log.warning(
            "LLM cache tier %r failed on %s, treating as a miss (%s: %s); %d more failures since the last warning",
            tier.name,
            op,
            type(exc).__name__,
            exc,
            suppressed,
        )

    def get(self, key: str, kind: str) -> CacheHit | None:
        """First hit in tier order, promoted into every faster tier; None on a miss. On every
        cache hit's path: one clock reading decides which tiers are cooling down."""
        now = time.monotonic()
        for i, tier in enumerate(self.tiers):
            stats = self._stats[tier.name]
            if stats.down_until > now:
                with self._lock:
                    stats.misses += 1
                    stats.skipped += 1
                continue
            try:
                value = tier.get(key, kind)
            except TIER_ERRORS as exc:
                self._count(tier, "misses")
                self._failed(tier, "get", exc)
                continue
            if value is None:
                with self._lock:
                    stats.misses += 1
                continue
            with self._lock:
                stats.hits += 1
            if i:
                self._write(self.tiers[:i], key, kind, value, "promotions")
            return CacheHit(value, tier.name)
        return None

    def set(self, key: str, kind: str, value: bytes) -> None:
        """Write ``value`` to every tier with the kind's TTL."""
        if not isinstance(value, bytes):
            raise TypeError(f"cache values are bytes, got {type(value).__name__}")
        self._write(self.tiers, key, kind, value, "sets")

    def _write(self, tiers: list[CacheTier], key: str, kind: str, value: bytes, counter: str) -> None:
        ttl = self.ttl_for(kind)
        for tier in tiers:
            if not self._available(tier):
                self._count(tier, "skipped")
                continue
            try:
                tier.set(key, kind, value, ttl)
            except TIER_ERRORS as exc:
                self._failed(tier, "set", exc)
            else:
                self._count(tier, counter)

    def delete(self, key: str, kind: str) -> None:
        """Remove one entry from every reachable tier."""
        for tier in self.tiers:
            if not self._available(tier):
                self._count(tier, "skipped")
                continue
            try:
                tier.delete(key, kind)
            except TIER_ERRORS as exc:
                self._failed(tier, "delete", exc)

    def clear(self, kind: str | None = None) -> dict[str, int]:
        """Entries removed per tier; a failing tier is absent from the result."""
        return self._each("clear", lambda t: t.clear(kind))

    def expire(self) -> dict[str, int]:
        """Expired entries removed per tier; a failing tier is absent from the result."""
        return self._each("expire", lambda t: t.expire())

    def _each(self, op: str, fn: Callable[[CacheTier], int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for tier in self.tiers:
            try:
                out[tier.name] = fn(tier)
            except TIER_ERRORS as exc:
                self._failed(tier, op, exc)
        return out

    def stats(self) -> dict[str, dict]:
        """Per tier: hits, misses (hits + misses == lookups), sets, promotions (entries copied
        into this tier from a slower one), errors, skipped, hit_rate, entries and bytes (None
        when the tier cannot be sized right now)."""
        out: dict[str, dict] = {}
        for tier in self.tiers:
            entries = nbytes = None
            if self._available(tier):
                try:
                    entries, nbytes = tier.size()
                except TIER_ERRORS as exc:
                    self._failed(tier, "size", exc)
            with self._lock:
                st = self._stats[tier.name]
                lookups = st.hits + st.misses
                out[tier.name] = {
                    "hits": st.hits,
                    "misses": st.misses,
                    "sets": st.sets,
                    "errors": st.errors,
                    "promotions": st.promotions,
                    "skipped": st.skipped,
                    "hit_rate": st.hits / lookups if lookups else 0.0,
                    "entries": entries,
                    "bytes": nbytes,
                }
        return out

    def close(self) -> None:
        for tier in self.tiers:
            tier.close()


def build_cache(
    memory_max_bytes: int,
    sqlite_path: str | None,
    redis_url: str | None,
    ttl_by_kind: dict[str, float | None],
    logger: logging.Logger | None = None,
) -> TieredCache:
    """Memory -> SQLite -> Redis, omitting any tier whose setting is empty/None/0.

    SQLite comes before Redis: a local point read beats a network round trip, and the host-wide
    file keeps serving when Redis is down.
    """
    tiers: list[CacheTier] = []
    if memory_max_bytes:
        tiers.append(MemoryLRUTier(memory_max_bytes))
    if sqlite_path:
        tiers.append(SqliteTier(sqlite_path))
    if redis_url:
        tiers.append(RedisTier(redis_url))
    return TieredCache(tiers, ttl_by_kind, logger=logger)
