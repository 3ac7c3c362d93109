"""raw_signals: every configured source parsed, normalized and placed in its day's partition."""

import json
from collections import Counter
from dataclasses import asdict

import dagster as dg
from dagster_duckdb import DuckDBResource

from leadflow.defs.imports import import_specs
from leadflow.defs.metadata import preview
from leadflow.defs.partitions import daily_partitions, partition_dates, pipeline_asset
from leadflow.defs.resources import PipelineSettings
from leadflow.ingest import Rejection, load_sources, read_source
from leadflow.ingest.sources import import_date_of
from leadflow.storage import schema
from leadflow.storage.warehouse import replace_partitions

PROGRESS_EVERY = 5000


@pipeline_asset(
    group_name="signals",
    kinds={"duckdb", "python"},
    description=(
        "Signals from every source in sources.yaml and every file in the imports folder "
        "(job postings, email archives, account CSVs), normalized, hashed and placed in the partition of "
        "their own date (undated records: their source's import date). Bad records go to the "
        "quarantined_signals table with a reason."
    ),
)
def raw_signals(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, pipeline: PipelineSettings
) -> dg.MaterializeResult:
    dates = partition_dates(context)
    run_id = context.run.run_id
    wanted = set(dates)
    first_day = daily_partitions.start.date()
    signals: list[dict] = []
    rejected: list[dict] = []
    seen_ids: set[str] = set()
    records_read = 0
    sources_file = pipeline.sources_file()
    for spec in [*load_sources(sources_file), *import_specs(pipeline.imports_folder())]:
        if not spec.enabled:
            continue
        import_date = import_date_of(spec, sources_file.parent)
        # A reject is recorded once: in the partition of its own date when that date is a
        # plausible one (so a range backfill shows the rejects of its range), else in the
        # import-date partition.
        keep_rejects = import_date in wanted
        for record in read_source(spec, import_date, sources_file.parent):
            records_read += 1
            if records_read % PROGRESS_EVERY == 0:
                context.log.info(f"read {records_read} records; {len(signals)} in range, {len(rejected)} quarantined")
            if isinstance(record, Rejection):
                own = record.record_date
                day = own if own is not None and first_day <= own <= import_date else import_date
                if day in wanted:
                    rejected.append({**asdict(record), "partition_date": day})
                continue
            if record.signal_date < first_day or record.signal_date > import_date:
                if keep_rejects:
                    rejected.append(
                        {
                            "source": record.source,
                            "kind": record.kind,
                            "position": record.position,
                            "reason": f"date_out_of_range: {record.signal_date} is outside {first_day}..{import_date}",
                            "excerpt": record.title[:200],
                            "record_date": record.signal_date,
                            "partition_date": import_date,
                        }
                    )
                continue
            if record.signal_date not in wanted:
                continue
            if record.signal_id in seen_ids:
                rejected.append(
                    {
                        "source": record.source,
                        "kind": record.kind,
                        "position": record.position,
                        "reason": f"duplicate_signal_id: {record.signal_id} already read in this run",
                        "excerpt": record.title[:200],
                        "record_date": record.signal_date,
                        "partition_date": record.signal_date,
                    }
                )
                continue
            seen_ids.add(record.signal_id)
            row = asdict(record)
            row.update(partition_date=record.signal_date, attributes=json.dumps(record.attributes), run_id=run_id)
            signals.append(row)

    signal_frame = schema.frame("raw_signals", signals)
    reject_frame = schema.frame("quarantined_signals", [{**row, "run_id": run_id} for row in rejected])
    with duckdb.get_connection() as conn:
        replace_partitions(conn, "raw_signals", dates, signal_frame)
        replace_partitions(conn, "quarantined_signals", dates, reject_frame)

    reasons = Counter(reason.split(":", 1)[0] for reason in reject_frame["reason"])
    context.log.info(f"{len(signal_frame)} signals in {len(dates)} partition(s); {len(reject_frame)} quarantined")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(signal_frame),
            "records_read": records_read,
            "quarantined": len(reject_frame),
            "quarantine_reasons": dg.MetadataValue.json(dict(reasons)),
            "signals_by_kind": dg.MetadataValue.json(dict(Counter(signal_frame["kind"]))),
            "partitions": len(dates),
            "preview": preview(
                signal_frame, ["signal_date", "kind", "source", "title"], redact_email_text=pipeline.redact_email_text
            ),
        }
    )
