"""Warehouse writes in a process of their own that SIGKILLs itself at a chosen line of the
storage code (started by tests/faults/test_warehouse_faults.py): the crash lands at a known
point of a write instead of wherever a timer happens to fall.

`--kill-at MODULE.FUNCTION:TEXT:N` kills the process, with SIGKILL (no cleanup, no finally
block), just before the Nth execution of a line of `leadflow.storage.MODULE.FUNCTION` that
contains TEXT: `warehouse.transaction:COMMIT:1` is the first commit, with every statement of
its transaction already executed. A trace function only watches for that line; nothing of the
code under test is replaced. The process prints DONE if it ends without being killed.

Jobs: `materialize` (a real Dagster materialization of raw_signals over a sources file) and
`publish` (write_version of a prefilter_scores version, then publish, as the pipeline does).
"""

from __future__ import annotations

import argparse
import dis
import importlib
import linecache
import os
import signal
import sys
import threading
from datetime import date
from types import CodeType, FrameType
from typing import Any

import duckdb
import pandas as pd

from leadflow.storage.publication import publish
from leadflow.storage.warehouse import write_version

PREFILTER = "prefilter_scores"


def kill_at(spec: str) -> None:
    """Arm the SIGKILL described by `spec` (MODULE.FUNCTION:TEXT:N) for this process's threads."""
    target, text, nth = spec.split(":")
    module, function = target.rsplit(".", 1)
    found = getattr(importlib.import_module(f"leadflow.storage.{module}"), function)
    code: CodeType = getattr(found, "__wrapped__", found).__code__  # a @contextmanager's own generator
    lines = {n for _, n in dis.findlinestarts(code) if n and text in linecache.getline(code.co_filename, n)}
    if not lines:
        raise SystemExit(f"no line of {target} contains {text!r}")
    seen = 0

    def on_line(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal seen
        if event == "line" and frame.f_lineno in lines:
            seen += 1
            if seen == int(nth):
                os.kill(os.getpid(), signal.SIGKILL)
        return on_line

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        return on_line if frame.f_code is code else None

    threading.settrace(on_call)
    sys.settrace(on_call)


def prefilter_version(day: date, run_id: str, rows: int) -> pd.DataFrame:
    """A prefilter_scores version of `rows` leads, distinct per run by its scores."""
    offset = sum(map(ord, run_id)) % 50
    return pd.DataFrame(
        {
            "partition_date": [day] * rows,
            "signal_id": [f"signal-{i:07d}" for i in range(rows)],
            "kind": "job_posting",
            "title": [f"Lead {i} of {run_id}" for i in range(rows)],
            "final_score": [float((i + offset) % 100) for i in range(rows)],
            "bucket": "warm",
            "run_id": run_id,
        }
    )


def publish_version(database: str, day: date, run_id: str, rows: int) -> None:
    """The pipeline's write-audit-publish of one version: written, then published (and pruned)."""
    with duckdb.connect(database) as conn:
        write_version(conn, PREFILTER, [day], run_id, prefilter_version(day, run_id, rows))
        publish(conn, {day: run_id})


def materialize_raw_signals(database: str, sources: str, partition: str) -> None:
    import dagster as dg  # here: the publish job has no use for Dagster's import time

    from leadflow.defs.assets.ingest import raw_signals
    from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings

    pipeline = PipelineSettings(sources_path=sources, imports_dir=os.path.join(os.path.dirname(sources), "imports"))
    result = dg.materialize(
        [raw_signals],
        partition_key=partition,
        resources={"duckdb": DuckDBWarehouse(database=database), "pipeline": pipeline},
        raise_on_error=False,
    )
    if not result.success:
        raise SystemExit("the materialization failed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("job", choices=["materialize", "publish"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--kill-at", default="")
    parser.add_argument("--sources", help="materialize: the sources file")
    parser.add_argument("--partition", help="materialize: the partition key; publish: the day")
    parser.add_argument("--run-id", help="publish: the version")
    parser.add_argument("--rows", type=int, default=0, help="publish: leads in the version")
    args = parser.parse_args()
    if args.job == "materialize":
        import dagster  # noqa: F401 - imported before the trace is armed: startup is not what is measured

        import leadflow.defs.assets.ingest  # noqa: F401
    if args.kill_at:
        kill_at(args.kill_at)
    if args.job == "materialize":
        materialize_raw_signals(args.database, args.sources, args.partition)
    else:
        publish_version(args.database, date.fromisoformat(args.partition), args.run_id, args.rows)
    sys.settrace(None)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
