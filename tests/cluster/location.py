"""A code location for the cluster tests: the real raw_signals asset and its checks, as a job the
run queue can hand to a Celery worker (the whole pipeline would need the models on every
worker). Resources come from the environment, as in leadflow's own location."""

import dagster as dg

from leadflow.defs import checks
from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings

RAW_SIGNAL_CHECKS = [
    checks.raw_signals_unique_ids,
    checks.raw_signals_dates_in_range,
    checks.raw_signals_quarantine_rate,
    checks.raw_signals_counts_reconcile,
]

cluster_ingest = dg.define_asset_job("cluster_ingest", selection=[raw_signals])

defs = dg.Definitions(
    assets=[raw_signals],
    asset_checks=RAW_SIGNAL_CHECKS,
    jobs=[cluster_ingest],
    resources={"duckdb": DuckDBWarehouse.from_env(), "pipeline": PipelineSettings.from_env()},
    executor=dg.in_process_executor,
)
