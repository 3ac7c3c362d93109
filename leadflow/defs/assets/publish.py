"""published_leads: the publish step of write-audit-publish.

It runs only when every blocking check on the stages above passed in this run (a failed
blocking check skips it), then moves each partition's publication pointer to this run's
version. Users read the stable `leads` and `published_dossiers` views.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.defs.metadata import partition_rows
from leadflow.defs.partitions import partition_dates, pipeline_asset
from leadflow.storage.publication import publish, working_versions


@pipeline_asset(
    deps=("prefilter_scores", "dossiers", "quality_metrics"),
    group_name="publish",
    kinds={"duckdb"},
    description=(
        "Publishes this run's version of prefilter_scores and dossiers for its partitions once "
        "their blocking checks passed: the `leads` and `published_dossiers` views switch to it. "
        "The previous version is kept; `leadflow rollback` or the rollback_partition job restores it."
    ),
)
def published_leads(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    dates = partition_dates(context)
    with duckdb.get_connection() as conn:
        versions = working_versions(conn, dates, context.run.run_id)
        replaced = publish(conn, versions, note=f"run {context.run.run_id}")
        published_rows = dict(
            conn.execute(
                "SELECT partition_date, count(*) FROM leads WHERE partition_date = ANY(?::DATE[]) GROUP BY ALL", [dates]
            ).fetchall()
        )
    changed = sum(1 for day, previous in replaced.items() if previous != versions[day])
    context.log.info(f"published {len(versions)} partition(s) ({changed} changed version)")
    return dg.MaterializeResult(
        metadata={
            **partition_rows(context, published_rows),
            "partitions_published": len(versions),
            "partitions_changed": changed,
            "versions": dg.MetadataValue.json({str(day): run for day, run in list(versions.items())[:50]}),
        }
    )
