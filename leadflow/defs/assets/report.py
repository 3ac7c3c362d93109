"""lead_report: the run's published leads as a static HTML page, the lead browser's view in a
file that needs no server (`leadflow.browser.report`), linked from the materialization."""

import datetime

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.browser.report import build_report, render_report, write_report
from leadflow.defs.partitions import partition_dates, pipeline_asset, span_name
from leadflow.defs.resources import PipelineSettings


@pipeline_asset(
    deps=("published_leads",),
    group_name="publish",
    kinds={"duckdb", "html"},
    description=(
        "The published leads of the run's partitions as `leads-<date>.html` (a range: "
        "`leads-<first>_<last>.html`) in the exports folder: every lead with its score, bucket, account "
        "and label, and for those above `filtered` the explanation, account, dossier and signal text "
        "with the dossier's citations marked. One self-contained, owner-only file; `leadflow serve` "
        "shows the same view live, with filters and good/bad labels."
    ),
)
def lead_report(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    with duckdb.get_connection() as conn:
        report = build_report(conn, dates)
    span = span_name(dates)
    html = render_report(report, span, context.run.run_id, datetime.datetime.now(datetime.UTC))
    path = write_report(pipeline.exports_folder() / f"leads-{span}.html", html)
    context.log.info(f"{len(report.leads)} published leads ({len(report.details)} in detail) written to {path}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(report.leads),
            "leads": len(report.leads),
            "detailed": len(report.details),
            "path": dg.MetadataValue.path(str(path)),
            "url": dg.MetadataValue.url(path.resolve().as_uri()),
        }
    )
