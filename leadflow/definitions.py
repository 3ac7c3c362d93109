"""The leadflow code location: everything under leadflow/defs, loaded by convention."""

import dagster as dg

import leadflow.defs
from leadflow.paths import PACKAGE_DIR


@dg.definitions
def defs() -> dg.Definitions:
    # In-process by default: the multiprocess executor costs ~3-4 s per step on 2 cores, and
    # the LLM assets parallelize their calls inside the step instead.
    # The project root is given, not searched for: an installed package has no pyproject.toml
    # above it, which `load_from_defs_folder` requires.
    return dg.Definitions.merge(
        dg.load_defs(leadflow.defs, project_root=PACKAGE_DIR.parent),
        dg.Definitions(executor=dg.in_process_executor),
    )
