"""Daily partitions by the signal's own date, shared by every pipeline asset."""

from datetime import date, timedelta

import dagster as dg

from leadflow.defs.constants import DUCKDB_WRITE_POOL
from leadflow.defs.resources import PipelineSettings


def first_partition() -> str:
    """The first daily partition: `pipeline.first_partition` (LEADFLOW_FIRST_PARTITION), checked."""
    value = PipelineSettings.from_env().first_partition
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"LEADFLOW_FIRST_PARTITION must be a date, YYYY-MM-DD; got {value!r}") from None


PARTITIONS_START = first_partition()  # read once, when the definitions load

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START)

# Every pipeline asset takes a whole partition range in one run: a backfill of years of
# email is one run that parses each source once, not one run per day.
single_run = dg.BackfillPolicy.single_run()


def pipeline_asset(*, group_name: str, kinds: set[str], description: str, deps: tuple[str, ...] = ()):
    """The decorator every daily pipeline asset shares: daily partitions, single-run backfills,
    the DuckDB writer pool and the owning team."""
    return dg.asset(
        deps=list(deps),
        partitions_def=daily_partitions,
        backfill_policy=single_run,
        pool=DUCKDB_WRITE_POOL,
        group_name=group_name,
        kinds=kinds,
        owners=["team:leadflow"],
        description=description,
    )


def partition_dates(context: dg.AssetExecutionContext) -> list[date]:
    """Every day of the run's partition key range (one day for a daily run)."""
    window = context.partition_time_window
    first = window.start.date()
    days = (window.end.date() - first).days
    return [first + timedelta(days=offset) for offset in range(days)]


def span_name(days: list[date]) -> str:
    """A run's days in a file name: `2026-11-20`, or `2001-07-02_2001-07-25` for a range."""
    return days[0].isoformat() if len(days) == 1 else f"{days[0]}_{days[-1]}"


def check_dates(context) -> list[date]:
    """The partition days an asset check runs for (checks see the run's partition keys)."""
    return [date.fromisoformat(key) for key in context.partition_keys]
