"""The machine the figures came from, and how busy others kept it: absolute times only mean
something next to this. `CpuWatch` measures others' busy cores over a phase; `load_guard`
records them for a focused benchmark and flags (or, asked to, refuses) a busy machine."""

import os
import platform
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata

BUSY_CORES = 0.5  # others' busy cores above which a run's absolute times are flagged as under load
IDLE_PROBE_S = 2.0  # how long the load is sampled before a focused benchmark starts


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": affinity,
        "ram_gib": _mem_total_gib(),
        "gpu": "none used (CPU-only embedded engine)",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "xllamacpp": _version("xllamacpp"),
        "dagster": _version("dagster"),
        "duckdb": _version("duckdb"),
        "numpy": _version("numpy"),
        "pandas": _version("pandas"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _proc_stat() -> tuple[float, float]:
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields), idle


class CpuWatch:
    """Wall time, this process's CPU time and the whole machine's busy time over a phase."""

    def __init__(self):
        self.wall0 = time.perf_counter()
        self.cpu0 = _own_cpu()
        self.total0, self.idle0 = _proc_stat()
        self.ticks = os.sysconf("SC_CLK_TCK")
        self.cores = os.cpu_count() or 1

    def stop(self) -> dict:
        wall = time.perf_counter() - self.wall0
        own = _own_cpu() - self.cpu0
        total, idle = _proc_stat()
        busy_cores = ((total - self.total0) - (idle - self.idle0)) / self.ticks / max(wall, 1e-9)
        own_cores = own / max(wall, 1e-9)
        return {
            "wall_s": round(wall, 3),
            "own_cpu_s": round(own, 3),
            "own_cores": round(own_cores, 2),
            "machine_busy_cores": round(min(busy_cores, self.cores), 2),
            "others_busy_cores": round(max(busy_cores - own_cores, 0.0), 2),
        }


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def others_busy_now(seconds: float = IDLE_PROBE_S) -> float:
    """Others' busy cores over the next `seconds` (this process sleeps meanwhile)."""
    watch = CpuWatch()
    time.sleep(seconds)
    return watch.stop()["others_busy_cores"]


@contextmanager
def load_guard(refuse_busy: bool = False) -> Iterator[dict]:
    """How busy others kept the machine before and during the block, in the dict it yields
    (filled when the block ends: put it in the results); a busy run is flagged
    (`machine_busy`), or, with `refuse_busy`, not started (exit status 3) when others already
    keep more than `BUSY_CORES` busy."""
    before = others_busy_now()
    load: dict = {"others_busy_cores_before": before, "busy_above_cores": BUSY_CORES}
    if refuse_busy and before > BUSY_CORES:
        print(f"refusing to run: others keep {before:.2f} cores busy (> {BUSY_CORES})", file=sys.stderr)
        raise SystemExit(3)
    watch = CpuWatch()
    try:
        yield load
    finally:
        during = watch.stop()
        load["cpu"] = during
        load["others_busy_cores"] = during["others_busy_cores"]
        load["machine_busy"] = max(before, during["others_busy_cores"]) > BUSY_CORES
        if load["machine_busy"]:
            print(
                f"note: others kept {during['others_busy_cores']:.2f} cores busy during the run "
                f"({before:.2f} before): absolute times are under load",
                file=sys.stderr,
            )
