"""Tiered LLM cache against real SQLite files and a real Redis server (no mocks)."""

import logging
import multiprocessing
import random
import socket
import sqlite3
import threading
import time

import pytest
import redis

from leadflow.llm.cache import (
    CacheHit,
    CacheUnavailable,
    MemoryLRUTier,
    RedisTier,
    SqliteTier,
    TieredCache,
    build_cache,
)
from tests.redis_server import redis_url, start_redis_server

TTLS = {"classification": 3600.0, "dossier": None, "embedding": 86400.0}


def _hit(cache: TieredCache, key: str, kind: str) -> CacheHit:
    """A lookup that must hit."""
    hit = cache.get(key, kind)
    assert isinstance(hit, CacheHit), f"{kind}:{key} missed"
    return hit


@pytest.fixture
def redis_db():
    url = redis_url()
    client = redis.Redis.from_url(url)
    assert client.connection_pool.connection_kwargs["db"] == 15
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def raw_redis(redis_db):
    client = redis.Redis.from_url(redis_db)
    yield client
    client.close()


@pytest.fixture
def sqlite_path(tmp_path):
    return str(tmp_path / "cache" / "llm_cache.sqlite")


# ---------------------------------------------------------------- MemoryLRUTier


def entry(i: int, size: int = 96) -> tuple[str, bytes]:
    """Key of 3 chars + kind "c" + value of ``size`` bytes: weight 4 + size."""
    return f"k{i:02d}", bytes([i % 256]) * size


def test_memory_evicts_least_recently_used_by_bytes():
    tier = MemoryLRUTier(max_bytes=1000)  # exactly 10 entries of 100 bytes
    for i in range(10):
        key, value = entry(i)
        tier.set(key, "c", value, None)
    assert tier.size() == (10, 1000)
    assert tier.get("k00", "c") == entry(0)[1]  # k00 becomes most recent
    key, value = entry(10)
    tier.set(key, "c", value, None)
    assert tier.get("k01", "c") is None  # least recently used went first
    assert tier.get("k00", "c") == entry(0)[1]
    assert tier.get("k10", "c") == value
    assert tier.size() == (10, 1000)


def test_memory_bytes_never_exceed_bound_under_churn():
    rng = random.Random(7)
    tier = MemoryLRUTier(max_bytes=5000)
    for i in range(2000):
        value = b"x" * rng.randint(0, 1500)
        tier.set(f"key-{rng.randint(0, 300)}", rng.choice(["classification", "dossier"]), value, None)
        _entries, nbytes = tier.size()
        assert nbytes <= 5000
        if i % 100 == 0 and rng.random() < 0.5:
            tier.get(f"key-{rng.randint(0, 300)}", "dossier")
    # accounted bytes equal the real sum
    assert nbytes == sum(len(k.encode()) + len(kind.encode()) + len(v) for (kind, k), (v, _, _) in tier._data.items())


def test_memory_value_larger_than_bound_is_not_stored():
    tier = MemoryLRUTier(max_bytes=100)
    tier.set("a", "c", b"x" * 50, None)
    tier.set("big", "c", b"x" * 200, None)
    assert tier.get("big", "c") is None
    assert tier.get("a", "c") == b"x" * 50  # nothing evicted for it
    tier.set("a", "c", b"y" * 200, None)  # an oversize replacement drops the stale value
    assert tier.get("a", "c") is None
    assert tier.size() == (0, 0)


def test_memory_ttl_and_expire():
    tier = MemoryLRUTier(max_bytes=10_000)
    tier.set("short1", "c", b"1", 0.05)
    tier.set("short2", "c", b"2", 0.05)
    tier.set("forever", "c", b"3", None)
    assert tier.get("short1", "c") == b"1"
    time.sleep(0.08)
    assert tier.get("short1", "c") is None  # lazy expiry
    assert tier.expire() == 1  # short2
    assert tier.size()[0] == 1
    assert tier.get("forever", "c") == b"3"


def test_memory_kinds_are_separate_and_clear_by_kind():
    tier = MemoryLRUTier(max_bytes=10_000)
    tier.set("k", "classification", b"a", None)
    tier.set("k", "dossier", b"b", None)
    tier.set("k2", "dossier", b"c", None)
    assert tier.get("k", "classification") == b"a"
    assert tier.clear("dossier") == 2
    assert tier.get("k", "dossier") is None
    assert tier.get("k", "classification") == b"a"
    tier.delete("k", "classification")
    assert tier.size() == (0, 0)


def test_memory_is_thread_safe():
    tier = MemoryLRUTier(max_bytes=20_000)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(3000):
            k = f"k{rng.randint(0, 500)}"
            if rng.random() < 0.5:
                tier.set(k, "c", b"v" * rng.randint(1, 400), None)
            else:
                tier.get(k, "c")

    threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries, nbytes = tier.size()
    assert nbytes <= 20_000
    assert nbytes == sum(n for _, _, n in tier._data.values())
    assert entries == len(tier._data)


# ---------------------------------------------------------------- SqliteTier


def test_sqlite_persists_across_instances(sqlite_path):
    first = SqliteTier(sqlite_path)
    first.set("k1", "dossier", b"\x00binary\xff", None)
    first.close()
    second = SqliteTier(sqlite_path)
    assert second.get("k1", "dossier") == b"\x00binary\xff"
    assert second.get("k1", "classification") is None  # kind is part of the lookup
    assert second.size() == (1, len("k1") + len("dossier") + 8)
    journal = sqlite3.connect(sqlite_path).execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"
    second.close()


def test_sqlite_ttl_expiry_and_expire_count(sqlite_path):
    tier = SqliteTier(sqlite_path)
    for i in range(3):
        tier.set(f"short{i}", "classification", b"x", 0.05)
    tier.set("long", "classification", b"y", 3600)
    tier.set("forever", "dossier", b"z", None)
    time.sleep(0.08)
    assert tier.get("short0", "classification") is None  # miss, and lazily deleted
    assert tier.size()[0] == 2  # expired rows are not counted
    assert tier.expire() == 2  # short1, short2 (short0 already gone)
    assert tier.expire() == 0
    assert tier.get("long", "classification") == b"y"
    assert tier.get("forever", "dossier") == b"z"
    tier.close()


def test_sqlite_clear_only_that_kind(sqlite_path):
    tier = SqliteTier(sqlite_path)
    for i in range(5):
        tier.set(f"c{i}", "classification", b"c", None)
    for i in range(3):
        tier.set(f"d{i}", "dossier", b"d", None)
    tier.set("e0", "embedding", b"e", None)
    assert tier.clear("dossier") == 3
    assert tier.get("d0", "dossier") is None
    assert tier.get("c0", "classification") == b"c"
    assert tier.size()[0] == 6
    assert tier.clear() == 6
    assert tier.size() == (0, 0)
    tier.close()


def test_sqlite_insert_or_replace(sqlite_path):
    tier = SqliteTier(sqlite_path)
    tier.set("k", "c", b"old", None)
    tier.set("k", "c", b"new", None)
    assert tier.get("k", "c") == b"new"
    assert tier.size()[0] == 1
    tier.delete("k", "c")
    assert tier.get("k", "c") is None
    tier.close()


def _sqlite_writer(path: str, worker: int, n: int, start, errors) -> None:
    tier = SqliteTier(path)
    start.wait(30)
    try:
        for i in range(n):
            key = f"w{worker}-{i}"
            value = f"{worker}:{i}:".encode() * 20
            tier.set(key, "classification", value, None)
            tier.set("shared", "dossier", value, None)  # both processes fight over one row
            assert tier.get(key, "classification") == value
    except Exception as exc:  # reported to the parent, which fails the test
        errors.put(repr(exc))
        raise
    finally:
        tier.close()


def test_sqlite_two_processes_write_concurrently_without_loss(sqlite_path):
    SqliteTier(sqlite_path).close()  # create the schema first, as a run would
    ctx = multiprocessing.get_context("spawn")
    start, errors = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_sqlite_writer, args=(sqlite_path, w, 200, start, errors)) for w in range(2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0], errors.get(timeout=1) if not errors.empty() else ""
    tier = SqliteTier(sqlite_path)
    assert tier.size()[0] == 401
    for w in range(2):
        for i in range(200):
            assert tier.get(f"w{w}-{i}", "classification") == f"{w}:{i}:".encode() * 20
    assert tier.get("shared", "dossier") in {b"0:199:" * 20, b"1:199:" * 20}
    tier.close()


def test_sqlite_threads_share_one_tier(sqlite_path):
    tier = SqliteTier(sqlite_path)
    failures: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(100):
                tier.set(f"t{t}-{i}", "embedding", bytes([t, i]), None)
                assert tier.get(f"t{t}-{i}", "embedding") == bytes([t, i])
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert tier.size()[0] == 800
    tier.close()


# ---------------------------------------------------------------- RedisTier


def test_redis_set_get_ttl(redis_db, raw_redis):
    tier = RedisTier(redis_db, prefix="lftest:")
    tier.set("k1", "classification", b"\x00v1\xff", 0.3)
    tier.set("k2", "dossier", b"v2", None)
    assert tier.get("k1", "classification") == b"\x00v1\xff"
    assert tier.get("k1", "dossier") is None
    assert raw_redis.get("lftest:classification:k1") == b"\x00v1\xff"
    assert 0 < raw_redis.pttl("lftest:classification:k1") <= 300  # SET ... PX
    assert raw_redis.pttl("lftest:dossier:k2") == -1  # no expiry
    assert tier.size() == (2, len("k1classification") + 4 + len("k2dossier") + 2)
    time.sleep(0.4)
    assert tier.get("k1", "classification") is None
    assert tier.get("k2", "dossier") == b"v2"
    tier.delete("k2", "dossier")
    assert tier.get("k2", "dossier") is None
    assert tier.expire() == 0
    tier.close()


def test_redis_clear_by_kind(redis_db, raw_redis):
    tier = RedisTier(redis_db, prefix="lftest:")
    raw_redis.set("other:classification:x", b"not ours")
    for i in range(1500):  # more than one SCAN/DEL batch
        tier.set(f"c{i}", "classification", b"c", None)
    for i in range(7):
        tier.set(f"d{i}", "dossier", b"d", None)
    assert tier.clear("classification") == 1500
    assert tier.get("c1", "classification") is None
    assert tier.get("d1", "dossier") == b"d"
    assert tier.clear() == 7
    assert raw_redis.get("other:classification:x") == b"not ours"  # prefix respected
    assert tier.size() == (0, 0)
    tier.close()


def test_redis_rejects_kinds_that_break_scan_patterns(redis_db):
    tier = RedisTier(redis_db)
    with pytest.raises(ValueError):
        tier.set("k", "class*", b"v", None)
    tier.close()


# ---------------------------------------------------------------- TieredCache


@pytest.mark.parametrize("tier_name", ["memory", "sqlite", "redis"])
def test_kind_namespaces_entries_in_every_tier(tier_name, sqlite_path, redis_db):
    tier = {
        "memory": lambda: MemoryLRUTier(1 << 20),
        "sqlite": lambda: SqliteTier(sqlite_path),
        "redis": lambda: RedisTier(redis_db),
    }[tier_name]()
    tier.set("same-key", "classification", b"c", None)
    tier.set("same-key", "dossier", b"d", None)
    assert tier.get("same-key", "classification") == b"c"
    assert tier.get("same-key", "dossier") == b"d"
    assert tier.size()[0] == 2
    tier.delete("same-key", "dossier")
    assert tier.get("same-key", "classification") == b"c"
    tier.close()


def test_sqlite_hit_is_promoted_to_memory(sqlite_path):
    seed = SqliteTier(sqlite_path)
    seed.set("k", "dossier", b"from-disk", None)
    seed.close()
    memory = MemoryLRUTier(1 << 20)
    cache = TieredCache([memory, SqliteTier(sqlite_path)], TTLS)
    first = cache.get("k", "dossier")
    assert isinstance(first, CacheHit)
    assert (first.value, first.tier) == (b"from-disk", "sqlite")
    assert memory.get("k", "dossier") == b"from-disk"
    second = _hit(cache, "k", "dossier")
    assert (second.value, second.tier) == (b"from-disk", "memory")
    stats = cache.stats()
    assert stats["memory"] | {"hit_rate": None} == {
        "hits": 1,
        "misses": 1,
        "sets": 0,
        "errors": 0,
        "promotions": 1,
        "skipped": 0,
        "hit_rate": None,
        "entries": 1,
        "bytes": len("kdossier") + 9,
    }
    assert stats["memory"]["hit_rate"] == 0.5
    assert (stats["sqlite"]["hits"], stats["sqlite"]["misses"]) == (1, 0)
    cache.close()


def test_redis_hit_is_promoted_into_memory_and_sqlite(sqlite_path, redis_db):
    seed = RedisTier(redis_db)
    seed.set("k", "classification", b"from-redis", None)
    seed.close()
    cache = build_cache(1 << 20, sqlite_path, redis_db, TTLS)
    assert [t.name for t in cache.tiers] == ["memory", "sqlite", "redis"]
    assert _hit(cache, "k", "classification").tier == "redis"
    assert cache.tiers[1].get("k", "classification") == b"from-redis"
    assert _hit(cache, "k", "classification").tier == "memory"
    stats = cache.stats()
    assert stats["memory"]["promotions"] == stats["sqlite"]["promotions"] == 1
    assert stats["redis"]["promotions"] == 0
    cache.close()


def test_set_writes_through_every_tier(sqlite_path, redis_db):
    cache = build_cache(1 << 20, sqlite_path, redis_db, TTLS)
    cache.set("k", "embedding", b"\x01\x02")
    for tier in cache.tiers:
        assert tier.get("k", "embedding") == b"\x01\x02", tier.name
    assert {name: s["sets"] for name, s in cache.stats().items()} == {"memory": 1, "sqlite": 1, "redis": 1}
    with pytest.raises(TypeError):
        cache.set("k", "embedding", "not bytes")  # type: ignore[arg-type]  # on purpose: the runtime type check is under test
    cache.close()


def test_stats_add_up(sqlite_path, redis_db):
    rng = random.Random(3)
    cache = build_cache(1 << 20, sqlite_path, redis_db, TTLS)
    sqlite_tier, redis_tier = cache.tiers[1], cache.tiers[2]
    for i in range(30):  # seed the slower tiers directly
        if i % 3 == 0:
            sqlite_tier.set(f"k{i}", "classification", b"s", None)
        elif i % 3 == 1:
            redis_tier.set(f"k{i}", "classification", b"r", None)
    lookups, results = 200, []
    for _ in range(lookups):
        hit = cache.get(f"k{rng.randint(0, 39)}", "classification")
        results.append(None if hit is None else hit.tier)
    stats = cache.stats()
    mem, sq, rd = stats["memory"], stats["sqlite"], stats["redis"]
    assert mem["hits"] + mem["misses"] == lookups
    assert sq["hits"] + sq["misses"] == mem["misses"]
    assert rd["hits"] + rd["misses"] == sq["misses"]
    assert (mem["hits"], sq["hits"], rd["hits"]) == tuple(results.count(t) for t in ("memory", "sqlite", "redis"))
    assert rd["misses"] == results.count(None)
    assert mem["promotions"] == sq["hits"] + rd["hits"]
    assert sq["promotions"] == rd["hits"]
    assert mem["hit_rate"] == pytest.approx(mem["hits"] / lookups)
    assert all(s["errors"] == 0 for s in stats.values())
    cache.close()


def test_per_kind_ttl(sqlite_path, redis_db, raw_redis):
    ttls = {"classification": 0.2, "dossier": None, "embedding": 60.0}
    cache = build_cache(1 << 20, sqlite_path, redis_db, ttls)
    for kind in ("classification", "dossier", "embedding", "unknown"):
        cache.set("k", kind, kind.encode())
    assert 0 < raw_redis.pttl("leadflow:llm:classification:k") <= 200
    assert 59_000 < raw_redis.pttl("leadflow:llm:embedding:k") <= 60_000
    assert raw_redis.pttl("leadflow:llm:dossier:k") == -1
    assert raw_redis.pttl("leadflow:llm:unknown:k") == -1  # unknown kind: default None
    rows = dict(sqlite3.connect(sqlite_path).execute("SELECT kind, expires_at - created_at FROM llm_cache"))
    assert rows["classification"] == pytest.approx(0.2)
    assert rows["embedding"] == pytest.approx(60.0)
    assert rows["dossier"] is None and rows["unknown"] is None
    time.sleep(0.3)
    assert cache.get("k", "classification") is None  # expired in every tier
    assert _hit(cache, "k", "dossier").tier == "memory"
    assert cache.expire() == {"memory": 0, "sqlite": 0, "redis": 0}  # memory/sqlite: lazy-deleted
    assert cache.clear("dossier") == {"memory": 1, "sqlite": 1, "redis": 1}
    assert cache.clear() == {"memory": 2, "sqlite": 2, "redis": 2}
    cache.close()


def test_expire_counts_per_tier(sqlite_path, redis_db):
    cache = build_cache(1 << 20, sqlite_path, redis_db, {"classification": 0.05})
    for i in range(4):
        cache.set(f"k{i}", "classification", b"v")
    cache.set("keep", "dossier", b"v")
    time.sleep(0.1)
    assert cache.expire() == {"memory": 4, "sqlite": 4, "redis": 0}
    assert {n: s["entries"] for n, s in cache.stats().items()} == {"memory": 1, "sqlite": 1, "redis": 1}
    cache.close()


def test_build_cache_omits_empty_tiers(sqlite_path):
    assert [t.name for t in build_cache(0, None, None, TTLS).tiers] == []
    assert [t.name for t in build_cache(1024, None, "", TTLS).tiers] == ["memory"]
    assert [t.name for t in build_cache(0, sqlite_path, None, TTLS).tiers] == ["sqlite"]
    empty = build_cache(0, None, None, TTLS)
    empty.set("k", "dossier", b"v")
    assert empty.get("k", "dossier") is None


def test_invalid_ttls_rejected():
    with pytest.raises(ValueError):
        TieredCache([MemoryLRUTier(100)], {"classification": 0})
    with pytest.raises(ValueError):
        MemoryLRUTier(100).set("k", "c", b"v", -1)


# ---------------------------------------------------------------- Redis down


def test_redis_down_falls_through_and_never_raises(sqlite_path, caplog):
    url, stop = start_redis_server()
    logger = logging.getLogger("leadflow.test.redis_down")
    try:
        # Redis in the middle, so a lookup must get past the broken tier to reach SQLite.
        up = TieredCache([MemoryLRUTier(1 << 20), RedisTier(url), SqliteTier(sqlite_path)], TTLS)
        up.set("before", "classification", b"cached-while-up")
        assert up.tiers[1].get("before", "classification") == b"cached-while-up"
        up.close()
    finally:
        stop()

    # A new run: empty memory, Redis gone, the same SQLite file. Cooldown 0: every call
    # tries Redis, so every call pays (and counts) the failure.
    cache = TieredCache(
        [MemoryLRUTier(1 << 20), RedisTier(url), SqliteTier(sqlite_path)], TTLS, logger=logger, error_cooldown_s=0
    )
    with pytest.raises(CacheUnavailable):
        cache.tiers[1].get("before", "classification")
    slowest = 0.0
    with caplog.at_level(logging.WARNING, logger=logger.name):
        t0 = time.perf_counter()
        hit = cache.get("before", "classification")
        slowest = max(slowest, time.perf_counter() - t0)
        assert isinstance(hit, CacheHit)
        assert (hit.value, hit.tier) == (b"cached-while-up", "sqlite")
        assert _hit(cache, "before", "classification").tier == "memory"  # promoted
        for i in range(20):
            t0 = time.perf_counter()
            assert cache.get(f"missing{i}", "classification") is None
            cache.set(f"new{i}", "dossier", b"v")
            slowest = max(slowest, time.perf_counter() - t0)
        stats = cache.stats()
    for i in range(20):
        assert cache.tiers[0].get(f"new{i}", "dossier") == b"v"
        assert cache.tiers[2].get(f"new{i}", "dossier") == b"v"
    # get(before): 1 get + 1 promotion; 20 x (get + set); stats(): size
    assert stats["redis"]["errors"] == 2 + 40 + 1
    assert stats["redis"]["entries"] is None and stats["redis"]["bytes"] is None
    assert stats["redis"]["hits"] == 0 and stats["redis"]["misses"] == 21
    assert stats["sqlite"]["sets"] == 20 and stats["memory"]["sets"] == 20
    assert stats["sqlite"]["errors"] == stats["memory"]["errors"] == 0
    warnings = [r for r in caplog.records if r.name == logger.name]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # one per tier per 60 s
    assert "redis" in warnings[0].getMessage()
    print(f"\n[cache] redis down: slowest get+set {slowest * 1e3:.2f} ms")
    assert slowest < 1.0  # refused connects are instant; timeouts bound the rest
    assert cache.clear() == {"memory": 21, "sqlite": 21}  # the failing tier is absent
    cache.close()


def test_redis_down_cooldown_skips_the_tier(sqlite_path):
    url, stop = start_redis_server()
    stop()
    cache = TieredCache([MemoryLRUTier(1 << 20), RedisTier(url), SqliteTier(sqlite_path)], TTLS, error_cooldown_s=30)
    for i in range(50):
        assert cache.get(f"k{i}", "dossier") is None
        cache.set(f"k{i}", "dossier", b"v")
    redis_stats = cache.stats()["redis"]
    # one failed GET opened the cooldown; later calls (stats() sizing too) skipped the tier
    assert redis_stats["errors"] == 1
    assert redis_stats["skipped"] == 49 + 50
    assert redis_stats["entries"] is None
    cache.delete("k0", "dossier")
    assert cache.stats()["redis"]["skipped"] == 49 + 50 + 1
    assert cache.tiers[2].get("k0", "dossier") is None
    assert cache.tiers[2].get("k49", "dossier") == b"v"
    cache.close()


def test_unresponsive_redis_is_bounded_by_op_timeout(sqlite_path):
    """A server that accepts TCP connections but never answers (hung Redis): each op fails
    after the 1 s op timeout instead of redis-py's default 10 retries."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)  # the kernel completes handshakes; nothing ever reads or replies
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/15"
        cache = TieredCache([RedisTier(url), SqliteTier(sqlite_path)], TTLS)
        t0 = time.perf_counter()
        assert cache.get("k", "dossier") is None
        cache.set("k", "dossier", b"v")  # redis in cooldown: straight to sqlite
        elapsed = time.perf_counter() - t0
        assert cache.tiers[1].get("k", "dossier") == b"v"
        assert cache.stats()["redis"]["skipped"] == 1
        cache.close()
    print(f"\n[cache] hung redis: get+set took {elapsed:.2f} s")
    assert 0.9 < elapsed < 2.5


# ---------------------------------------------------------------- hit cost


def _mean_us(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


@pytest.mark.parametrize("tier_name", ["memory", "sqlite", "redis"])
def test_hit_cost_per_tier(tier_name, sqlite_path, redis_db):
    n = 10_000
    tier = {
        "memory": lambda: MemoryLRUTier(64 << 20),
        "sqlite": lambda: SqliteTier(sqlite_path),
        "redis": lambda: RedisTier(redis_db),
    }[tier_name]()
    cache = TieredCache([tier], TTLS)
    value = b"{" + b"x" * 1022 + b"}"  # a 1 KiB classification
    for i in range(1000):
        cache.set(f"{i:064x}", "classification", value)
    key = f"{500:064x}"
    assert _hit(cache, key, "classification").tier == tier_name
    raw_us = _mean_us(lambda: tier.get(key, "classification"), n)
    cached_us = _mean_us(lambda: cache.get(key, "classification"), n)
    assert cache.stats()[tier_name]["hits"] == n + 1
    print(
        f"\n[cache] {tier_name} hit: {cached_us:.2f} us via TieredCache.get, "
        f"{raw_us:.2f} us raw tier.get (mean of {n} lookups, 1 KiB value)"
    )
    assert cached_us < 5000  # sanity only; real numbers are printed
    cache.close()
