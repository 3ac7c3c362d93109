"""Ad-hoc imports: files dropped into the imports folder (CSV, JSONL, mbox, .eml) become dynamic
partitions of `import_file`, and then one pipeline run over the days they cover.

`raw_signals` reads every file in the folder next to the sources in sources.yaml, so an
imported file's signals land in the partitions of their own dates like any other signal.
"""

from datetime import date
from pathlib import Path

import dagster as dg

from leadflow.defs.constants import IMPORT_TAG, RANGE_END_TAG, RANGE_START_TAG
from leadflow.defs.jobs import daily_pipeline_job
from leadflow.defs.partitions import daily_partitions
from leadflow.defs.resources import PipelineSettings
from leadflow.ingest import Signal, SourceCounts, read_source_safely
from leadflow.ingest.sources import EXTENSION_FORMATS, import_date_of, spec_for_file

IMPORT_FILES = "import_files"
import_files = dg.DynamicPartitionsDefinition(name=IMPORT_FILES)


def import_specs(folder: Path) -> list:
    """A source per importable file in the imports folder, in name order."""
    if not folder.is_dir():
        return []
    return [spec_for_file(p) for p in sorted(folder.iterdir()) if p.suffix.lower() in EXTENSION_FORMATS]


@dg.asset(
    partitions_def=import_files,
    group_name="signals",
    kinds={"python"},
    owners=["team:leadflow"],
    description=(
        "One dropped import file, validated by a full streaming parse: record, signal and "
        "quarantine counts and the date range its signals cover (which the folder sensor turns "
        "into one daily_pipeline run)."
    ),
)
def import_file(context: dg.AssetExecutionContext, pipeline: PipelineSettings) -> dg.MaterializeResult:
    folder = pipeline.imports_folder()
    spec = spec_for_file(folder / context.partition_key)
    import_date = import_date_of(spec, folder)
    counts = SourceCounts(spec.name)
    first: date | None = None
    last: date | None = None
    for record in read_source_safely(spec, import_date, folder):
        counts.add(record)
        if isinstance(record, Signal):
            first = min(first or record.signal_date, record.signal_date)
            last = max(last or record.signal_date, record.signal_date)
    context.log.info(
        f"{context.partition_key}: {counts.signals} signals, {counts.quarantined} quarantined, dates {first}..{last}"
    )
    return dg.MaterializeResult(
        metadata={
            "format": spec.format,
            "signals": counts.signals,
            "quarantined": counts.quarantined,
            "quarantine_reasons": dg.MetadataValue.json(dict(counts.reasons)),
            "first_date": str(first or import_date),
            "last_date": str(last or import_date),
        }
    )


import_file_job = dg.define_asset_job(
    name="import_file_job",
    selection=[import_file],
    partitions_def=import_files,
    description="Validates one dropped import file (an import_files partition).",
)


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Watches the imports folder: each new CSV/JSONL/mbox/.eml file becomes an import_files "
        "partition and is validated by import_file; once validated, its date range runs through "
        "daily_pipeline as one run."
    ),
    jobs=[daily_pipeline_job, import_file_job],
)
def import_folder_sensor(context: dg.SensorEvaluationContext, pipeline: PipelineSettings) -> dg.SensorResult:
    known = set(context.instance.get_dynamic_partitions(IMPORT_FILES))
    files = [spec.path for spec in import_specs(pipeline.imports_folder())]
    new = [Path(p).name for p in files if Path(p).name not in known]
    requests = [
        dg.RunRequest(run_key=f"import-{name}", partition_key=name, job_name=import_file_job.name) for name in new
    ]
    for name in sorted(known):
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=import_file.key, asset_partitions=[name]), limit=1
        ).records
        materialization = records[0].asset_materialization if records else None
        if materialization is None:
            continue
        metadata = materialization.metadata
        # Undated records take the file's date, which may be today: today's partition opens
        # tomorrow, so the run covers up to the last complete day and the schedule does the rest.
        first = str(metadata["first_date"].value)
        last = min(str(metadata["last_date"].value), daily_partitions.get_last_partition_key() or "")
        if first > last:
            continue
        requests.append(
            dg.RunRequest(
                run_key=f"import-pipeline-{name}",
                job_name=daily_pipeline_job.name,
                tags={RANGE_START_TAG: first, RANGE_END_TAG: last, IMPORT_TAG: name},
            )
        )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[import_files.build_add_request(new)] if new else [],
    )
