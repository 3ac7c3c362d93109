"""Peak RSS of ingesting archives of growing size, each in a fresh subprocess.

`python -m bench.rss parse MBOX` streams leadflow's mbox parser over the file;
`python -m bench.rss ingest SOURCES_YAML FIRST LAST WORKDIR` materializes the `raw_signals`
asset over the range (Dagster + DuckDB, what a backfill's ingest step does).
Each prints one JSON line: VmHWM (peak RSS), the RSS after imports, records and seconds.
"""

import json
import subprocess
import sys
import time
from pathlib import Path


def _vm(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _parse(mbox: str) -> dict:
    from leadflow.ingest.emails import parse_mbox
    from leadflow.ingest.records import Signal

    baseline = _vm("VmRSS")
    started = time.perf_counter()
    signals = rejected = 0
    for record in parse_mbox(Path(mbox), source="rss"):
        if isinstance(record, Signal):
            signals += 1
        else:
            rejected += 1
    return {
        "baseline_kb": baseline,
        "signals": signals,
        "rejected": rejected,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _ingest(sources: str, first: str, last: str, workdir: str) -> dict:
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from leadflow.defs.assets.ingest import raw_signals
    from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
    from leadflow.defs.resources import PipelineSettings

    baseline = _vm("VmRSS")
    started = time.perf_counter()
    result = dg.materialize(
        [raw_signals],
        resources={
            "duckdb": DuckDBResource(database=str(Path(workdir) / "rss.duckdb")),
            "pipeline": PipelineSettings(sources_path=sources),
        },
        instance=dg.DagsterInstance.ephemeral(),
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last},
        raise_on_error=False,
    )
    rows = None
    for event in result.get_asset_materialization_events():
        value = event.materialization.metadata.get("dagster/row_count")
        count = 0 if value is None else value.value
        assert isinstance(count, int)  # Dagster records the row count as an int
        rows = (rows or 0) + count
    return {
        "baseline_kb": baseline,
        "success": result.success,
        "signals": rows,
        "seconds": round(time.perf_counter() - started, 3),
    }


def probe(args: list[str], timeout_s: float = 300) -> dict:
    """Run one probe in a fresh interpreter and return its JSON (or the error)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.rss", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=Path(__file__).resolve().parents[1],
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout)[-800:], "returncode": proc.returncode}
    out = json.loads(lines[-1])
    out["process_s"] = round(time.perf_counter() - started, 3)
    return out


def main(argv: list[str]) -> None:
    mode, *rest = argv
    out = _parse(*rest) if mode == "parse" else _ingest(*rest)
    out["peak_rss_kb"] = _vm("VmHWM")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
