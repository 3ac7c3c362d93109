"""A real Redis for tests: a private, non-persistent ``redis-server`` the tests start.

Never the machine's own Redis: tests FLUSHDB, and a local server may hold a user's data.
Tests that need Redis fail loudly when none can be had instead of skipping, so a green run
always means the Redis paths were exercised.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable

import redis

TEST_DB = 15
INSTALL_HINT = "Redis tests start a private redis-server: install the binary (apt-get install redis-server)."


def _answers(url: str, timeout_s: float = 0.5) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis_server(timeout_s: float = 10.0, port: int | None = None) -> tuple[str, Callable[[], None]]:
    """Start a private, non-persistent redis-server; return (url on db 15, stop).

    ``stop`` terminates it (idempotent), which is also how tests simulate "Redis went down".
    ``port`` restarts a server where one was (a free port by default).
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(INSTALL_HINT)
    fixed = port
    for _attempt in range(3):  # the free port can be taken between probe and bind
        port = fixed or _free_port()
        workdir = tempfile.mkdtemp(prefix="leadflow-redis-")
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=workdir,
        )
        url = f"redis://127.0.0.1:{port}/{TEST_DB}"

        def stop(proc: subprocess.Popen = proc, workdir: str = workdir) -> None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            shutil.rmtree(workdir, ignore_errors=True)

        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            if _answers(url, timeout_s=0.2):
                return url, stop
            time.sleep(0.02)
        stop()
    raise RuntimeError(f"redis-server ({binary}) did not start answering PING; {INSTALL_HINT}")


@functools.cache
def redis_url() -> str:
    """URL of the tests' private Redis (db 15), which they may FLUSHDB.

    Started at most once per test process and stopped at exit. Raises RuntimeError (never
    skips) when no redis-server binary is installed.
    """
    url, stop = start_redis_server()
    atexit.register(stop)
    return url
