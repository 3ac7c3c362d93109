"""Sensors that act on quality gates and failures.

- `quality_gate_sensor`: each failed check evaluation (one per day judged) is handled exactly
  once (cursor = the check record id): that day's version is quarantined (or, for the
  post-publish gate, the day is rolled back) and the partitions re-run with the safe model profile.
- `incident_sensor`: every failed run of the instance becomes a row in `incidents`, whenever
  it failed: each tick scans the runs that failed since the last tick (the first tick, all of
  them), so a run that failed while no daemon was running is recorded when one starts. The CLI
  records its own failed runs at once with the same `record_incidents`.
"""

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import date, datetime

import dagster as dg
import duckdb as duckdb_lib
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)
from dagster_duckdb import DuckDBResource

from leadflow.defs import checks
from leadflow.defs.assets.publish import published_leads
from leadflow.defs.constants import (
    PARTITION_TAG,
    PROFILE_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    RERUN_OF_TAG,
    SAFE_PROFILE,
)
from leadflow.defs.jobs import daily_pipeline_job
from leadflow.defs.partitions import daily_partitions
from leadflow.storage.publication import mark_failed, published_versions, rollback
from leadflow.storage.warehouse import append, ensure_schema


def gated_checks(
    check_defs: Iterable[dg.AssetChecksDefinition],
) -> tuple[list[dg.AssetCheckKey], set[dg.AssetCheckKey]]:
    """(gated, post-publish) check keys: every blocking check, and every check on the publish
    asset (its failure rolls the published version back)."""
    specs = [spec for check_def in check_defs for spec in check_def.check_specs]
    post_publish = {spec.key for spec in specs if spec.asset_key == published_leads.key}
    return [spec.key for spec in specs if spec.blocking or spec.key in post_publish], post_publish


GATED_CHECKS, POST_PUBLISH_GATES = gated_checks(dg.load_asset_checks_from_modules([checks]))
HISTORY_PAGE = 500  # check evaluations read per query


def run_partitions(run: dg.DagsterRun) -> tuple[str, str] | None:
    """The (first, last) partition key of a run, from its tags."""
    if RANGE_START_TAG in run.tags:
        return run.tags[RANGE_START_TAG], run.tags[RANGE_END_TAG]
    key = run.tags.get(PARTITION_TAG)
    return (key, key) if key else None


def _days(first: str, last: str) -> list[date]:
    keys = daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
    return [date.fromisoformat(key) for key in keys]


def safe_rerun(run: dg.DagsterRun, first: str, last: str) -> dg.RunRequest:
    tags = {PROFILE_TAG: SAFE_PROFILE, RERUN_OF_TAG: run.run_id}
    if first == last:
        return dg.RunRequest(run_key=f"safe-rerun-{run.run_id}", partition_key=first, tags=tags)
    return dg.RunRequest(run_key=f"safe-rerun-{run.run_id}", tags={**tags, RANGE_START_TAG: first, RANGE_END_TAG: last})


def failed_since(storage, key: dg.AssetCheckKey, cursor: int) -> list[AssetCheckExecutionRecord]:
    """Every failed evaluation of `key` with a record id above `cursor`, newest first: the history
    is paged, as a range run records one evaluation per day and may fail many at once."""
    found: list[AssetCheckExecutionRecord] = []
    before = None
    while True:
        page = storage.get_asset_check_execution_history(
            key, limit=HISTORY_PAGE, cursor=before, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        fresh = [record for record in page if record.id > cursor]
        found.extend(fresh)
        if len(page) < HISTORY_PAGE or len(fresh) < len(page):
            return found
        before = page[-1].id


@dg.sensor(
    job=daily_pipeline_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Handles each failed quality gate once: quarantines the version of each failed day (never "
        "published), rolls back a published day whose post-publish gate failed, and re-runs with the "
        "safe model profile (full precision / fallback): the whole run's range after a blocking failure "
        "(nothing of it was published), the failed days after a post-publish one. A safe re-run is not "
        "re-run again."
    ),
)
def quality_gate_sensor(context: dg.SensorEvaluationContext, duckdb: DuckDBResource) -> dg.SensorResult:
    cursor = int(context.cursor or 0)
    storage = context.instance.event_log_storage
    failures = sorted((record.id, key, record) for key in GATED_CHECKS for record in failed_since(storage, key, cursor))
    runs: dict[str, dg.DagsterRun] = {}
    rerun_days: dict[str, set[date]] = {}
    handled = []
    for record_id, key, record in failures:
        run = context.instance.get_run_by_id(record.run_id)
        span = run_partitions(run) if run else None
        if run is not None and span is not None:
            # An evaluation names the day it judged; one without (recorded before checks were
            # partition-aware) stands for the run's whole range.
            days = [date.fromisoformat(record.partition)] if record.partition else _days(*span)
            reason = f"check {key.asset_key.to_user_string()}:{key.name} failed"
            with duckdb.get_connection() as conn:
                if key in POST_PUBLISH_GATES:
                    for day in days:
                        if published_versions(conn, [day]).get(day) == record.run_id:
                            rollback(conn, day, note=reason)
                mark_failed(conn, days, record.run_id, reason)
            if run.tags.get(PROFILE_TAG) != SAFE_PROFILE:
                runs[run.run_id] = run
                rerun_days.setdefault(run.run_id, set()).update(days if key in POST_PUBLISH_GATES else _days(*span))
            handled.append(f"{key.name}@{record.run_id[:8]}" + (f"/{record.partition}" if record.partition else ""))
        cursor = max(cursor, record_id)
    if handled:
        context.log.info(f"handled failed checks: {', '.join(handled)}")
    requests = [
        safe_rerun(runs[run_id], min(days).isoformat(), max(days).isoformat()) for run_id, days in rerun_days.items()
    ]
    return dg.SensorResult(run_requests=requests, cursor=str(cursor))


def _innermost(error):
    while error.cause is not None:
        error = error.cause
    return error


def failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """Why a run failed: each failed step with its (innermost) error, else the run's failure message."""
    reasons = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        error = event.step_failure_data.error if event is not None else None
        if event is not None and error is not None:
            cause = _innermost(error)
            reasons.append(f"{event.step_key}: {cause.message.strip()}")
    if not reasons:
        reasons = [entry.message for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)]
    return "; ".join(reasons)[:2000]


def record_incidents(
    instance: dg.DagsterInstance,
    connect: Callable[[], AbstractContextManager[duckdb_lib.DuckDBPyConnection]],
    updated_after: datetime | None = None,
) -> tuple[list[str], datetime | None]:
    """Record every failed run (last updated after `updated_after`) that `incidents` lacks:
    (the run ids recorded, the newest update time seen). DuckDB is opened only when a failed
    run is found, so a quiet tick never waits on a run's write lock."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], updated_after=updated_after)
    )
    if not records:
        return [], updated_after
    recorded = []
    with connect() as conn:
        ensure_schema(conn)
        known = {run_id for (run_id,) in conn.execute("SELECT run_id FROM incidents").fetchall()}
        for record in sorted(records, key=lambda r: r.update_timestamp):
            run = record.dagster_run
            if run.run_id in known:
                continue
            span = run_partitions(run)
            append(
                conn,
                "incidents",
                {
                    "run_id": run.run_id,
                    "job": run.job_name,
                    "partitions": "..".join(span) if span else None,
                    "error": failure_reason(instance, run.run_id),
                },
            )
            recorded.append(run.run_id)
    return recorded, max(record.update_timestamp for record in records)


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Records every failed run (job, partitions, each failed step's error) in the incidents table, "
        "also those that failed while no daemon was running (its first tick scans the whole history)."
    ),
)
def incident_sensor(context: dg.SensorEvaluationContext, duckdb: DuckDBResource) -> dg.SensorResult:
    since = datetime.fromisoformat(context.cursor) if context.cursor else None
    recorded, newest = record_incidents(context.instance, duckdb.get_connection, since)
    if recorded:
        context.log.info(f"recorded incidents for runs {', '.join(run_id[:8] for run_id in recorded)}")
    return dg.SensorResult(cursor=newest.isoformat() if newest else context.cursor)
