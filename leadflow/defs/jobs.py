"""Jobs: the whole daily pipeline, selectable as one unit by schedules, sensors and the CLI."""

import dagster as dg

from leadflow.defs.partitions import daily_partitions

PIPELINE_ASSETS = ["raw_signals", "signal_embeddings", "prefilter_scores", "dossiers", "quality_metrics"]

daily_pipeline_job = dg.define_asset_job(
    name="daily_pipeline",
    selection=dg.AssetSelection.assets(*PIPELINE_ASSETS),
    partitions_def=daily_partitions,
    description="raw_signals -> signal_embeddings -> prefilter_scores -> dossiers -> quality_metrics for a day.",
)
