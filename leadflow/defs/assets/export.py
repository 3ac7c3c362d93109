"""export: the day's published leads as a CSV file, so the schedule leaves one each morning.

It runs after published_leads (so only a version that passed its blocking checks is written)
and reads the same published views as `leadflow export` (`leadflow.export`).
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.defs.partitions import partition_dates, pipeline_asset, span_name
from leadflow.defs.resources import PipelineSettings
from leadflow.export.formats import write_export
from leadflow.export.leads import published_leads


@pipeline_asset(
    deps=("published_leads",),
    group_name="publish",
    kinds={"duckdb", "csv"},
    description=(
        "The published leads of the run's partitions, with account, explanation and dossier, as "
        "`leads-<date>.csv` (a range: `leads-<first>_<last>.csv`) in the exports folder "
        "(LEADFLOW_EXPORTS_DIR, default `$LEADFLOW_HOME/exports`); cells neutralized against formulas. "
        "`leadflow export` writes the same leads as JSONL or HubSpot/Salesforce import files."
    ),
)
def export(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    with duckdb.get_connection() as conn:
        leads = published_leads(conn, days=dates)
    written = write_export(leads, "csv", pipeline.exports_folder() / f"leads-{span_name(dates)}.csv")
    context.log.info(f"{written.rows} published leads written to {written.path}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written.rows,
            "rows": written.rows,
            "path": dg.MetadataValue.path(str(written.path)),
        }
    )
