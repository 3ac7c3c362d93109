"""Runs of the code location's jobs, executed in this process but created as the UI creates
them: with the `leadflow` code location as their origin. So a run of the CLI or the demo shows
in the UI's timeline and in its job's Runs tab, and can be re-executed from there (a run made
by `execute_in_process` has no code location and is listed nowhere but the global Runs page).
"""

import sys

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run
from dagster._core.execution.job_execution_result import JobExecutionResult
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from leadflow.paths import PROJECT_ROOT

# The code location's name, as in workspace.yaml and pyproject.toml's [tool.dg.project] (which
# `dg dev` serves): a run is listed under the location its origin names.
LOCATION_NAME = "leadflow"
DEFINITIONS_MODULE = "leadflow.definitions"
DEFINITIONS_ATTRIBUTE = "defs"


def _repository() -> ReconstructableRepository:
    return ReconstructableRepository.for_module(DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE, str(PROJECT_ROOT))


def _origin(repository_name: str, job_name: str) -> RemoteJobOrigin:
    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=DEFINITIONS_MODULE,
            attribute=DEFINITIONS_ATTRIBUTE,
            working_directory=str(PROJECT_ROOT),
        ),
        location_name=LOCATION_NAME,
    )
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, repository_name), job_name)


def execute(
    instance: dg.DagsterInstance,
    job_name: str,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> JobExecutionResult:
    """Create a run of `job_name` with the code location as its origin and execute it here,
    to its end (failed runs included: the result says)."""
    repository = _repository()
    job = repository.get_reconstructable_job(job_name)
    job_def = job.get_definition()
    run = instance.create_run_for_job(
        job_def,
        run_config=run_config,
        tags=tags,
        remote_job_origin=_origin(repository.get_definition().name, job_name),
        job_code_origin=job.get_python_origin(),
    )
    return execute_run(job, run, instance)
