"""Sensors that act on quality gates and failures.

- `quality_gate_sensor`: each failed check evaluation is handled exactly once (cursor = the
  check record id): the failed version is quarantined (or, for the post-publish gate, the
  partition is rolled back) and the partition re-runs with the safe model profile.
- `incident_sensor`: every failed run of this code location becomes a row in `incidents`.
"""

from datetime import date

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster_duckdb import DuckDBResource

from leadflow.defs.jobs import daily_pipeline_job
from leadflow.defs.partitions import daily_partitions
from leadflow.storage.publication import mark_failed, published_versions, rollback
from leadflow.storage.warehouse import ensure_tables

PROFILE_TAG = "leadflow/profile"
SAFE_PROFILE = "safe"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
POST_PUBLISH_GATES = {dg.AssetCheckKey(dg.AssetKey("published_leads"), "published_leads_drift_gate")}
GATED_CHECKS = [
    dg.AssetCheckKey(dg.AssetKey(asset), name)
    for asset, name in [
        ("raw_signals", "raw_signals_unique_ids"),
        ("raw_signals", "raw_signals_dates_in_range"),
        ("raw_signals", "raw_signals_quarantine_rate"),
        ("signal_embeddings", "embeddings_valid"),
        ("prefilter_scores", "prefilter_valid_output_rate"),
        ("prefilter_scores", "prefilter_scores_consistent"),
        ("prefilter_scores", "prefilter_golden_set"),
        ("dossiers", "dossiers_valid"),
        ("quality_metrics", "quality_error_rate"),
        ("published_leads", "published_leads_drift_gate"),
    ]
]


def run_partitions(run: dg.DagsterRun) -> tuple[str, str] | None:
    """The (first, last) partition key of a run, from its tags."""
    if RANGE_START in run.tags:
        return run.tags[RANGE_START], run.tags[RANGE_END]
    key = run.tags.get("dagster/partition")
    return (key, key) if key else None


def _days(first: str, last: str) -> list[date]:
    keys = daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))
    return [date.fromisoformat(key) for key in keys]


def safe_rerun(run: dg.DagsterRun, first: str, last: str) -> dg.RunRequest:
    tags = {PROFILE_TAG: SAFE_PROFILE, "leadflow/rerun_of": run.run_id}
    if first == last:
        return dg.RunRequest(run_key=f"safe-rerun-{run.run_id}", partition_key=first, tags=tags)
    return dg.RunRequest(run_key=f"safe-rerun-{run.run_id}", tags={**tags, RANGE_START: first, RANGE_END: last})


@dg.sensor(
    job=daily_pipeline_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Handles each failed quality gate once: quarantines the failed version (never published), "
        "rolls back a published partition whose post-publish gate failed, and re-runs the partition "
        "with the safe model profile (full precision / fallback). A safe re-run is not re-run again."
    ),
)
def quality_gate_sensor(context: dg.SensorEvaluationContext, duckdb: DuckDBResource) -> dg.SensorResult:
    cursor = int(context.cursor or 0)
    storage = context.instance.event_log_storage
    failures = sorted(
        (record.id, key, record)
        for key in GATED_CHECKS
        for record in storage.get_asset_check_execution_history(
            key, limit=100, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        if record.id > cursor
    )
    requests: dict[str, dg.RunRequest] = {}
    handled = []
    for record_id, key, record in failures:
        run = context.instance.get_run_by_id(record.run_id)
        span = run_partitions(run) if run else None
        if span is not None:
            days = _days(*span)
            reason = f"check {key.asset_key.to_user_string()}:{key.name} failed"
            with duckdb.get_connection() as conn:
                ensure_tables(conn)
                if key in POST_PUBLISH_GATES:
                    for day in days:
                        if published_versions(conn, [day]).get(day) == record.run_id:
                            rollback(conn, day, note=reason)
                mark_failed(conn, days, record.run_id, reason)
            if run.tags.get(PROFILE_TAG) != SAFE_PROFILE:
                request = safe_rerun(run, *span)
                requests[request.run_key] = request
            handled.append(f"{key.name}@{record.run_id[:8]}")
        cursor = max(cursor, record_id)
    if handled:
        context.log.info(f"handled failed checks: {', '.join(handled)}")
    return dg.SensorResult(run_requests=list(requests.values()), cursor=str(cursor))


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run (job, partitions, error) in the incidents table.",
)
def incident_sensor(context: dg.RunFailureSensorContext, duckdb: DuckDBResource) -> None:
    run = context.dagster_run
    span = run_partitions(run)
    with duckdb.get_connection() as conn:
        ensure_tables(conn)
        conn.execute(
            "INSERT INTO incidents (run_id, job, partitions, error) VALUES (?, ?, ?, ?)",
            [run.run_id, run.job_name, "..".join(span) if span else None, context.failure_event.message[:2000]],
        )
