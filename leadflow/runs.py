"""Runs of the code location's jobs, executed in this process but created as the UI creates
them: with the `leadflow` code location as their origin. So a run of the CLI or the demo shows
in the UI's timeline and in its job's Runs tab, and can be re-executed from there (a run made
by `execute_in_process` has no code location and is listed nowhere but the global Runs page).

A CLI backfill is a Dagster asset backfill too (the UI's Backfills page lists it with its
partitions, status and runs), but one whose runs this process creates and executes: no daemon
is needed, and a daemon that is running (`make ui`) launches nothing for it (see `backfill`).
"""

import asyncio
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date

import dagster as dg
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run
from dagster._core.execution.asset_backfill import AssetBackfillData, execute_asset_backfill_iteration
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.execution.job_execution_result import JobExecutionResult
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._time import datetime_from_timestamp

from leadflow.defs.constants import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG
from leadflow.paths import PROJECT_ROOT

# The code location's name, as in workspace.yaml and pyproject.toml's [tool.dg.project] (which
# `dg dev` serves): a run is listed under the location its origin names.
LOCATION_NAME = "leadflow"
DEFINITIONS_MODULE = "leadflow.definitions"
DEFINITIONS_ATTRIBUTE = "defs"
# Dagster's backfill iterations that close a backfill whose runs have all ended: one when every
# targeted partition was materialized or failed in a run, two when a partition got no status.
CLOSING_ITERATIONS = 2

log = logging.getLogger(__name__)


def _repository() -> ReconstructableRepository:
    return ReconstructableRepository.for_module(DEFINITIONS_MODULE, DEFINITIONS_ATTRIBUTE, str(PROJECT_ROOT))


def _location_origin() -> InProcessCodeLocationOrigin:
    return InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=DEFINITIONS_MODULE,
            attribute=DEFINITIONS_ATTRIBUTE,
            working_directory=str(PROJECT_ROOT),
        ),
        location_name=LOCATION_NAME,
    )


def range_tags(first: date, last: date) -> dict[str, str]:
    """A run's partition tags, as a single-run backfill policy launches one: a day, or a range."""
    if first == last:
        return {PARTITION_TAG: first.isoformat()}
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


def create_run(
    instance: dg.DagsterInstance,
    job_name: str,
    tags: dict[str, str] | None = None,
    run_config: dict | None = None,
) -> dg.DagsterRun:
    """A run of `job_name` with the code location as its origin, not started."""
    repository = _repository()
    job = repository.get_reconstructable_job(job_name)
    return instance.create_run_for_job(
        job.get_definition(),
        run_config=run_config,
        tags=tags,
        remote_job_origin=RemoteJobOrigin(
            RemoteRepositoryOrigin(_location_origin(), repository.get_definition().name), job_name
        ),
        job_code_origin=job.get_python_origin(),
    )


def execute_created(instance: dg.DagsterInstance, run: dg.DagsterRun) -> JobExecutionResult:
    """Execute a created run here, to its end (failed runs included: the result says)."""
    return execute_run(_repository().get_reconstructable_job(run.job_name), run, instance)


@contextmanager
def backfill(
    instance: dg.DagsterInstance,
    job_name: str,
    ranges: Sequence[tuple[date, date]],
    run_config: dict | None = None,
) -> Iterator[list[dg.DagsterRun]]:
    """An asset backfill of the job's assets over `ranges`, one run per range, yielded (created,
    not started) for the caller to execute here in order.

    Built as the UI's `launchPartitionBackfill` builds one, then marked as the daemon marks it
    once it has submitted its runs: every targeted partition requested, the runs tagged with the
    backfill (and their range). The runs exist before the backfill does, and a run that is not
    started counts as in progress, so a running daemon finds nothing to submit and nothing to
    close until the last run ends. On leaving, runs never started (a run before them failed)
    are canceled, and Dagster's own backfill iteration, run here, reads the runs' outcome into
    the backfill and completes it (success, or failed), as the daemon's next tick would.
    """
    repository = _repository().get_definition()
    asset_graph = repository.asset_graph
    job = repository.get_job(job_name)
    assets = sorted(job.asset_layer.selected_asset_keys)
    backfill_id = make_new_backfill_id()
    started = time.time()
    latest_storage_id = instance.event_log_storage.get_maximum_record_id() or 0
    runs = [
        create_run(instance, job_name, {**range_tags(first, last), BACKFILL_ID_TAG: backfill_id}, run_config)
        for first, last in ranges
    ]
    partitions_def = job.partitions_def
    assert partitions_def is not None, f"{job_name} is not partitioned"
    partitions = [
        key
        for first, last in ranges
        for key in partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(first.isoformat(), last.isoformat()))
    ]
    planned = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id,
        asset_graph=asset_graph,
        partition_names=partitions,
        asset_selection=assets,
        backfill_timestamp=started,
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"leadflow backfill {ranges[0][0]}..{ranges[-1][1]}",
        description=f"From the leadflow CLI: {len(runs)} run(s), executed in that process.",
        run_config=run_config,
    )
    data: AssetBackfillData = planned.get_asset_backfill_data(asset_graph)
    submitted = data.replace_requested_subset(data.target_subset).with_latest_storage_id(latest_storage_id)
    instance.add_backfill(planned._replace(asset_backfill_data=submitted.with_requested_runs_for_target_roots(True)))
    try:
        yield runs
    finally:
        for run in runs:
            current = instance.get_run_by_id(run.run_id)
            if current is not None and current.status == dg.DagsterRunStatus.NOT_STARTED:
                instance.report_run_canceled(
                    current, message="Not started: the backfill stopped at an earlier run (failed or interrupted)."
                )
        _close(instance, backfill_id)


@contextmanager
def workspace(instance: dg.DagsterInstance) -> Iterator[WorkspaceProcessContext]:
    """The code location loaded in this process, as the daemon and the UI see it."""
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(_location_origin())) as context:
        yield context


def _close(instance: dg.DagsterInstance, backfill_id: str) -> None:
    """Dagster's backfill iteration (what the daemon runs each tick) until the backfill is closed;
    a daemon that closed it first leaves nothing to do."""
    with workspace(instance) as context:
        for _ in range(CLOSING_ITERATIONS):
            record = instance.get_backfill(backfill_id)
            if record is None or record.status != BulkActionStatus.REQUESTED:
                return
            with partition_loading_context(
                effective_dt=datetime_from_timestamp(record.backfill_timestamp), dynamic_partitions_store=instance
            ):
                asyncio.run(execute_asset_backfill_iteration(record, log, context, instance))
