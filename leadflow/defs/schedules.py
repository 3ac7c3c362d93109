"""The daily schedule: yesterday's partition every morning. Stopped by default (turn it on in
the UI or with `dagster schedule start daily_pipeline_schedule`)."""

import dagster as dg

from leadflow.defs.jobs import daily_pipeline_job

daily_pipeline_schedule = dg.build_schedule_from_partitioned_job(
    daily_pipeline_job,
    hour_of_day=6,
    minute_of_hour=0,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Materializes yesterday's partition of the whole pipeline at 06:00.",
)
