"""The export asset: each run leaves the published leads of its partitions as a CSV file in the
exports folder, with rows and path in its metadata (a real DuckDB file, filled directly)."""

import csv
from datetime import timedelta

import dagster as dg
import pytest

from leadflow.defs.assets.export import export
from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings
from tests.export.conftest import DAY, FORMULA, LEADS, fill


@pytest.fixture
def warehouse(tmp_path) -> DuckDBWarehouse:
    return DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb"))


def _materialize(warehouse, exports, **kwargs):
    result = dg.materialize(
        [export],
        resources={"duckdb": warehouse, "pipeline": PipelineSettings(exports_dir=str(exports))},
        instance=dg.DagsterInstance.ephemeral(),
        **kwargs,
    )
    assert result.success
    return result.get_asset_materialization_events()[0].materialization.metadata


def test_a_day_of_published_leads_becomes_leads_of_that_day_csv(warehouse, tmp_path):
    fill(warehouse, DAY, "run-a", LEADS)
    fill(warehouse, DAY + timedelta(days=1), "run-b", LEADS[:1], published=False)  # not published: not exported
    metadata = _materialize(warehouse, tmp_path / "exports", partition_key=DAY.isoformat())
    path = tmp_path / "exports" / f"leads-{DAY}.csv"
    assert metadata["path"].value == str(path) and metadata["rows"].value == len(LEADS)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["signal_id"] == "acct-globex"  # best first
    assert next(r for r in rows if r["signal_id"] == "job-acme")["title"] == "'" + FORMULA


def test_a_range_run_writes_one_file_for_the_range(warehouse, tmp_path):
    fill(warehouse, DAY, "run-a", LEADS)
    last = DAY + timedelta(days=2)
    tags = {RANGE_START_TAG: DAY.isoformat(), RANGE_END_TAG: last.isoformat()}
    metadata = _materialize(warehouse, tmp_path / "exports", tags=tags)
    assert metadata["path"].value == str(tmp_path / "exports" / f"leads-{DAY}_{last}.csv")
    assert metadata["dagster/row_count"].value == len(LEADS)
