"""The CLI's runs are the code location's runs: created with its origin (so the UI's timeline and
the job's Runs tab list them), in the data home's instance; `rollback` is a run of the
partitioned rollback_partition job that says which version it restored, and a failed run is an
incident at once."""

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from leadflow.cli import main
from leadflow.defs.constants import PARTITION_TAG
from leadflow.defs.resources import DuckDBWarehouse
from leadflow.runs import LOCATION_NAME
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import write_version

DAY = date(2026, 11, 20)


@pytest.fixture
def home(no_leadflow_env, tmp_path):
    no_leadflow_env.setenv("LEADFLOW_HOME", str(tmp_path))
    no_leadflow_env.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))  # replaced by the data home's
    return tmp_path


def _publish(version: str) -> None:
    leads = pd.DataFrame(
        {"partition_date": [DAY], "signal_id": ["job-1"], "title": ["Data Engineer"], "final_score": [88.0]}
    )
    with DuckDBWarehouse.from_env().get_connection() as conn:
        write_version(conn, "prefilter_scores", [DAY], version, leads)
        publish(conn, {DAY: version})


def test_rollback_is_a_run_of_the_code_location_that_names_the_restored_version(home, capsys):
    _publish("run-a")
    _publish("run-b")
    main(["rollback", "--date", DAY.isoformat()])
    assert "2026-11-20: published version run-b rolled back, restores version run-a" in capsys.readouterr().out

    main(["rollback", "--date", DAY.isoformat()])
    assert "no earlier version: the day is now unpublished" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="partition 2026-11-20 has no published version to roll back"):
        main(["rollback", "--date", DAY.isoformat()])

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        assert [run.job_name for run in runs] == ["rollback_partition"] * 3
        for run in runs:
            assert run.remote_job_origin is not None
            assert run.remote_job_origin.location_name == LOCATION_NAME
            assert run.tags[PARTITION_TAG] == DAY.isoformat()
        # What the UI's timeline and the job's Runs tab filter on: the repository@location label.
        label = dg.RunsFilter(tags={".dagster/repository": f"__repository__@{LOCATION_NAME}"})
        assert instance.get_runs(filters=label) == runs
        failed = runs[0]  # newest first
        assert failed.status == dg.DagsterRunStatus.FAILURE
        [observation] = [
            entry.asset_observation
            for entry in instance.all_logs(runs[2].run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION)
        ]
        assert observation is not None and observation.partition == DAY.isoformat()
        assert observation.metadata["rollback/restored_version"].value == "run-a"
    with DuckDBWarehouse.from_env().get_connection() as conn:
        incidents = conn.execute("SELECT run_id, job, partitions, error FROM incidents").fetchall()
    assert incidents == [
        (
            failed.run_id,
            "rollback_partition",
            "2026-11-20..2026-11-20",
            "rollback_published_version: ValueError: partition 2026-11-20 has no published version to roll back",
        )
    ]
