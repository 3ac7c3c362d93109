"""The cache tiers' faults during a run of the LLM client (the real embedder: cheap inference):
Redis killed and restarted mid-run, and a cache folder with no room left.

Covered elsewhere, not repeated here: Redis down from the start or hung, with its cool-down
(tests/llm/test_cache.py::test_redis_down_falls_through_and_never_raises,
::test_redis_down_cooldown_skips_the_tier, ::test_unresponsive_redis_is_bounded_by_op_timeout).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import redis

from leadflow.paths import PROJECT_ROOT
from tests.redis_server import start_redis_server

COOLDOWN_S = 0.3  # a failed tier's cool-down (5 s in production): short, so the test can wait it out
PREFIX = "leadflow:llm:embedding:*"


def _batch(name: str) -> list[str]:
    return [f"{name}, signal {i}: hiring a data engineer in Lisbon" for i in range(10)]


def _keys(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return len(list(client.scan_iter(match=PREFIX)))


def test_redis_killed_mid_run_cools_down_and_is_used_again_once_restarted(make_client):
    url, stop = start_redis_server()
    try:
        client = make_client([], backend="embedded", redis_url=url)
        assert client.cache is not None and [t.name for t in client.cache.tiers] == ["memory", "sqlite", "redis"]
        client.cache.error_cooldown_s = COOLDOWN_S
        for name in ("before 1", "before 2"):
            client.embed_many(_batch(name))
        assert _keys(url) == 20

        with redis.Redis.from_url(url) as admin:
            os.kill(int(admin.info()["process_id"]), signal.SIGKILL)
        while True:  # until the port refuses connections
            try:
                redis.Redis.from_url(url, socket_connect_timeout=0.2).ping()
            except redis.ConnectionError:
                break
        for name in ("down 1", "down 2"):
            started = time.perf_counter()
            vectors = client.embed_many(_batch(name))
            assert vectors.shape == (10, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
            assert time.perf_counter() - started < 2.0  # a dead Redis costs a refused connect, no timeout
        down = client.cache.stats()["redis"]
        assert down["errors"] >= 1 and down["skipped"] >= 1 and down["sets"] == 20

        restarted, stop = start_redis_server(port=int(url.rsplit(":", 1)[1].split("/")[0]))
        assert restarted == url  # empty: the private server keeps nothing across a restart
        time.sleep(COOLDOWN_S)
        for name in ("after 1", "after 2"):
            client.embed_many(_batch(name))
        assert _keys(url) == 20  # written again once it was back; nothing from the outage
        stats = client.cache.stats()
        assert stats["redis"]["sets"] == 40 and stats["redis"]["errors"] == down["errors"]
        assert stats["sqlite"]["entries"] == 60 and stats["memory"]["entries"] == 60  # the run lost nothing

        other_host = make_client([], backend="embedded", cache_path="", redis_url=url)  # memory + Redis only
        with other_host.metrics.track() as recorder:
            other_host.embed_many(_batch("after 1"))
        assert recorder.summary()["cache_hits_by_tier"] == {"redis": 10} and recorder.summary()["llm_calls"] == 0
    finally:
        stop()


def _can_mount_tmpfs() -> bool:
    """A private user and mount namespace, where anyone may mount a tmpfs (the kernel may forbid it)."""
    try:
        done = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.parametrize("limit", ["tmpfs", "fsize"], ids=["full-tmpfs", "file-size-limit"])
def test_a_cache_folder_without_room_fails_the_sqlite_tier_soft(tmp_path, model_dir, limit):
    folder = tmp_path / "cache"
    folder.mkdir()
    command = [sys.executable, "-m", "tests.faults.full_disk", "--dir", str(folder), "--limit", limit]
    command += ["--model-dir", str(model_dir)]
    if limit == "tmpfs":
        if not _can_mount_tmpfs():
            pytest.skip("this kernel allows no unprivileged mount namespace; the file-size limit variant runs")
        mount = 'mount -t tmpfs -o size=16m tmpfs "$0" && exec "$@"'
        command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount, str(folder), *command]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]  # never a crash
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    phases = report["phases"]
    assert all(p["vectors"] == 60 and p["unit_norm"] for p in phases.values())  # the run went on

    def sqlite(phase: str, counter: str) -> int:
        return phases[phase]["stats"]["sqlite"][counter]

    # Full before the cache opened: the client was built, the tier failed soft and counted it.
    assert sqlite("full", "sets") == 0 and sqlite("full", "errors") >= 1
    assert phases["full"]["stats"]["memory"]["sets"] == 60
    # A little room: some answers stored, then full again mid-run.
    assert sqlite("little", "sets") >= 1 and sqlite("little", "errors") > sqlite("full", "errors")
    # Room again: the tier is back after its cool-down, with every answer of the phase.
    assert sqlite("free", "sets") - sqlite("little", "sets") == 60
    assert sqlite("free", "errors") == sqlite("little", "errors")
    # The file is sound and holds exactly the answers it accepted, each intact.
    assert report["integrity"] == "ok"
    assert report["stored"] == sqlite("free", "sets") and report["stored_intact"]
