"""A run of the LLM client whose cache folder has no room, in a process of its own (started by
tests/faults/test_cache_faults.py): on a small tmpfs mounted for it in a private namespace
(`--limit tmpfs`: writes fail with ENOSPC) or under a file-size limit (`--limit fsize`,
RLIMIT_FSIZE: writes fail with EFBIG).

The run embeds texts with the real embedder (cheap inference) through a client built by the
production factory, in three phases: the folder full before the client opens its cache, then
a little room that fills up mid-run, then room again. It prints one JSON report: per phase the
vectors returned and the cache statistics, and at the end SQLite's integrity check of the file
and whether every entry in it is the vector the run computed (the memory tier holds them all).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import time
from pathlib import Path

import numpy as np

from leadflow.llm.backends.embedded import EmbeddedBackend
from leadflow.llm.catalog import load_catalog
from leadflow.llm.client import ClientSettings
from leadflow.llm.factory import LLMSettings, build_client
from leadflow.paths import PROMPTS_DIR, RESOURCES_DIR

PHASES = (("full", 0), ("little", 256 * 1024), ("free", None))  # (name, bytes of room; None: no limit)
TEXTS_PER_PHASE = 60
BATCH = 10
COOLDOWN_S = 0.2  # a failed tier's cool-down (5 s in production): short, so a phase can wait it out
CACHE_FILE = "llm_cache.sqlite"


class TmpfsRoom:
    """Room on the mounted tmpfs, set by the size of a filler file."""

    def __init__(self, folder: Path) -> None:
        self.filler = folder / "filler"

    def leave(self, room: int | None) -> None:
        if room is None:
            self.filler.unlink(missing_ok=True)
            return
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError:  # ENOSPC: the tmpfs is full
            pass
        finally:
            os.close(fd)
        os.truncate(self.filler, max(0, self.filler.stat().st_size - room))


class FileSizeRoom:
    """Room under RLIMIT_FSIZE: how far the largest cache file may still grow (the soft limit;
    the hard one stays unlimited, so it can be raised again)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def leave(self, room: int | None) -> None:
        if room is None:
            limit = resource.RLIM_INFINITY
        else:
            largest = max((p.stat().st_size for p in self.folder.iterdir()), default=0)
            limit = largest + room if room else 0
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--limit", required=True, choices=["tmpfs", "fsize"])
    parser.add_argument("--model-dir", required=True)
    args = parser.parse_args()
    room = TmpfsRoom(args.dir) if args.limit == "tmpfs" else FileSizeRoom(args.dir)
    path = args.dir / CACHE_FILE
    catalog = load_catalog(RESOURCES_DIR / "models.yaml")
    embedder = catalog.chain("embed", "embedded", use_quantized=True)[0]
    EmbeddedBackend(catalog, Path(args.model_dir)).model_path(embedder)  # assembled before any limit applies

    room.leave(0)  # full before the cache is opened
    client = build_client(
        LLMSettings(
            backend="embedded",
            base_urls=(),
            embed_backend="",
            embed_base_urls=(),
            api_key="",
            max_concurrency=1,
            threads=1,
            model_dir=args.model_dir,
            catalog_path=str(RESOURCES_DIR / "models.yaml"),
            prompts_dir=str(PROMPTS_DIR),
            cache_memory_mb=8,
            cache_path=str(path),
            redis_url="",
            ttl_days=(),
            keep_alive="5m",
            concurrency_path="",  # max_concurrency is set
            client=ClientSettings(),
        )
    )
    assert client.cache is not None
    client.cache.error_cooldown_s = COOLDOWN_S
    report: dict = {"phases": {}}
    for phase, bytes_free in PHASES:
        room.leave(bytes_free)
        time.sleep(COOLDOWN_S)  # the tier may be cooling down after the last phase's failure
        texts = [f"{phase} phase, signal {i}: hiring a data engineer in Lisbon" for i in range(TEXTS_PER_PHASE)]
        vectors = np.vstack([client.embed_many(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)])
        report["phases"][phase] = {
            "vectors": len(vectors),
            "unit_norm": bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)),
            "stats": client.cache.stats(),
        }
    memory = client.cache.tiers[0]  # holds every vector of the run
    with sqlite3.connect(path) as conn:
        report["integrity"] = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = conn.execute("SELECT key, value FROM llm_cache WHERE kind = 'embedding'").fetchall()
    report["stored"] = len(rows)
    report["stored_intact"] = all(memory.get(key, "embedding") == bytes(value) for key, value in rows)
    client.cache.close()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
