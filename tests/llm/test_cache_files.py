"""The persistent cache tier's files are owner-only (they hold prompts quoting emails), and a
Redis URL's password shows in no log record or repr."""

import logging
import os
import socket
import stat
import threading
from pathlib import Path

from leadflow.llm.cache import RedisTier, SqliteTier, TieredCache


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_sqlite_file_journals_and_new_folders_are_owner_only(tmp_path):
    previous = os.umask(0)  # the most permissive umask: the modes must not come from it
    try:
        path = tmp_path / "cache" / "nested" / "llm_cache.sqlite"
        tier = SqliteTier(str(path))
        tier.set("key", "classification", b"an answer quoting an email", None)
        reader = threading.Thread(target=lambda: tier.get("key", "classification"))  # a second connection
        reader.start()
        reader.join()
        files = {p.name: mode(p) for p in path.parent.iterdir()}
        assert files == {"llm_cache.sqlite": 0o600, "llm_cache.sqlite-wal": 0o600, "llm_cache.sqlite-shm": 0o600}
        assert mode(tmp_path / "cache") == mode(path.parent) == 0o700
        tier.close()
    finally:
        os.umask(previous)


def test_an_existing_world_readable_cache_is_tightened_on_open(tmp_path):
    path = tmp_path / "llm_cache.sqlite"
    first = SqliteTier(str(path))
    first.set("key", "dossier", b"value", None)
    first.close()
    for name in ("llm_cache.sqlite", "llm_cache.sqlite-wal", "llm_cache.sqlite-shm"):
        if (tmp_path / name).exists():
            (tmp_path / name).chmod(0o644)
    again = SqliteTier(str(path))
    assert again.get("key", "dossier") == b"value"
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {p.name: 0o600 for p in tmp_path.iterdir()}
    again.close()


def test_a_redis_password_is_in_no_warning_and_no_repr(caplog):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    password = "s3cret-redis-pw"
    tier = RedisTier(f"redis://:{password}@127.0.0.1:{port}/0")
    cache = TieredCache([tier], {"classification": None})
    with caplog.at_level(logging.DEBUG):
        assert cache.get("key", "classification") is None
        cache.set("key", "classification", b"value")
    assert any("failed" in record.getMessage() for record in caplog.records)
    assert password not in caplog.text
    assert password not in repr(tier)
