"""raw_signals: every configured source parsed, normalized and placed in its day's partition."""

import json
from collections import Counter
from dataclasses import asdict

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.defs.imports import import_specs
from leadflow.defs.metadata import day_counts, partition_rows, preview
from leadflow.defs.partitions import daily_partitions, partition_dates, pipeline_asset
from leadflow.defs.resources import PipelineSettings
from leadflow.ingest import load_sources
from leadflow.ingest.placement import Placement, place_records, reject_row
from leadflow.ingest.records import reason_code
from leadflow.ingest.source_index import INDEX_FILE, SourceIndex
from leadflow.ingest.sources import import_date_of
from leadflow.paths import data_dir
from leadflow.storage import schema
from leadflow.storage.warehouse import replace_together

PROGRESS_EVERY = 5000


@pipeline_asset(
    group_name="signals",
    kinds={"duckdb", "python"},
    description=(
        "Signals from every source in sources.yaml and every file in the imports folder "
        "(job postings, email archives, account CSVs), normalized, hashed and placed in the partition of "
        "their own date (undated records: their source's import date). Bad records go to the "
        "quarantined_signals table with a reason; a failing source is one source_error record and the "
        "others are read. Per source, where every record went is in source_counts (read = signals + "
        "quarantined + elsewhere); records the ingest index places outside the run are counted, not parsed "
        "(skipped)."
    ),
)
def raw_signals(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    run_id = context.run.run_id
    sources_file = pipeline.sources_file()
    specs = [s for s in (*load_sources(sources_file), *import_specs(pipeline.imports_folder())) if s.enabled]

    def progress(placed: Placement) -> None:
        if placed.records_read % PROGRESS_EVERY == 0:
            context.log.info(
                f"read {placed.records_read} records; {len(placed.signals)} in range, {len(placed.rejects)} quarantined"
            )

    placed = place_records(
        ((spec, import_date_of(spec, sources_file.parent)) for spec in specs),
        sources_file.parent,
        set(dates),
        daily_partitions.start.date(),
        progress,
        SourceIndex(data_dir() / INDEX_FILE),
    )
    signal_frame = schema.frame(
        "raw_signals",
        [
            {
                **asdict(record),
                "partition_date": record.signal_date,
                "attributes": json.dumps(record.attributes),
                "run_id": run_id,
            }
            for record in placed.signals
        ],
    )
    reject_frame = schema.frame(
        "quarantined_signals", [{**reject_row(day, reject), "run_id": run_id} for day, reject in placed.rejects]
    )
    tallies = [tally.as_row() for tally in placed.tallies.values()]
    counts = [
        (
            "source_counts",
            {
                "run_id": run_id,
                "first_partition": min(dates),
                "last_partition": max(dates),
                **tally,
                "reasons": json.dumps(tally["reasons"]),
            },
        )
        for tally in tallies
    ]
    with duckdb.get_connection() as conn:
        replace_together(conn, dates, {"raw_signals": signal_frame, "quarantined_signals": reject_frame}, counts)

    reasons = Counter(reason_code(reason) for reason in reject_frame["reason"])
    context.log.info(
        f"{len(signal_frame)} signals in {len(dates)} partition(s); {len(reject_frame)} quarantined; "
        f"{sum(t['skipped'] for t in tallies)} records of other days skipped through the ingest index"
    )
    return dg.MaterializeResult(
        metadata={
            **partition_rows(context, day_counts(signal_frame)),
            "records_read": placed.records_read,
            "quarantined": len(reject_frame),
            "elsewhere": sum(t["elsewhere"] for t in tallies),
            "skipped": sum(t["skipped"] for t in tallies),
            "quarantine_reasons": dg.MetadataValue.json(dict(reasons)),
            "sources": dg.MetadataValue.json(
                {t["source"]: {k: v for k, v in t.items() if k != "source"} for t in tallies}
            ),
            "signals_by_kind": dg.MetadataValue.json(dict(Counter(signal_frame["kind"]))),
            "preview": preview(
                signal_frame, ["signal_date", "kind", "source", "title"], redact_email_text=pipeline.redact_email_text
            ),
        }
    )
