"""The machine the figures came from: absolute times only mean something next to this."""

import os
import platform
from importlib import metadata


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
