"""The leadflow code location: everything under leadflow/defs, loaded by convention."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    # In-process by default: the multiprocess executor costs ~3-4 s per step on 2 cores, and
    # the LLM assets parallelize their calls inside the step instead.
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(executor=dg.in_process_executor),
    )
