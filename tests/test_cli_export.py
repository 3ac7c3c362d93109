"""`leadflow export`: the published leads of a real DuckDB file to a file of the chosen format."""

import csv

import pytest

from leadflow.cli import main
from leadflow.defs.resources import DuckDBWarehouse
from tests.export.conftest import DAY, LATER, LEADS, fill


@pytest.fixture
def filled(monkeypatch, tmp_path) -> DuckDBWarehouse:
    warehouse = DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb"))
    fill(warehouse, DAY, "run-a", LEADS)
    fill(warehouse, LATER, "run-b", LEADS[2:3])
    monkeypatch.setenv("LEADFLOW_DUCKDB_PATH", warehouse.database)
    return warehouse


def test_export_hubspot_since_a_date(filled, tmp_path, capsys):
    target = tmp_path / "hubspot.csv"
    main(["export", "--format", "hubspot", "--output", str(target), "--since", LATER.isoformat()])
    assert capsys.readouterr().out.strip() == f"1 row(s) of 1 published lead(s) written to {target} (hubspot)"
    with target.open(encoding="utf-8", newline="") as f:
        [row] = list(csv.DictReader(f))
    assert row["Company Domain Name"] == "globex.com" and row["leadflow Last Signal Date"] == LATER.isoformat()


def test_export_salesforce_says_what_it_left_out(filled, tmp_path, capsys):
    target = tmp_path / "leads.csv"
    main(["export", "--format", "salesforce", "--output", str(target)])
    out = capsys.readouterr().out
    assert out.startswith(f"2 row(s) of {len(LEADS) + 1} published lead(s) written to {target} (salesforce;")
    assert "2 lead(s) without a company or filtered left out" in out


def test_an_unknown_format_is_an_argument_error(filled, tmp_path):
    with pytest.raises(SystemExit):
        main(["export", "--format", "xlsx", "--output", str(tmp_path / "x")])
