"""Run tags and pool names shared by the definitions, the CLI and the benchmark.

Plain strings, no Dagster import: the CLI and the benchmark read them before loading Dagster.
"""

# Dagster's tags for a run over a partition range (one single-run backfill) and for one partition.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"

# Runs tagged with the safe profile (the quality-gate sensor's re-runs) use full-precision models.
PROFILE_TAG = "leadflow/profile"
SAFE_PROFILE = "safe"
RERUN_OF_TAG = "leadflow/rerun_of"
IMPORT_TAG = "leadflow/import"

# DuckDB allows one writer process: every asset that writes runs in this pool (limit 1 in
# dagster.yaml). The LLM assets write too, so the pool also bounds LLM work across runs.
DUCKDB_WRITE_POOL = "duckdb_write"
