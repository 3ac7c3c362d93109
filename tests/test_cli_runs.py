"""The CLI's runs are the code location's runs: created with its origin (so the UI's timeline and
the job's Runs tab list them), in the data home's instance; `rollback` is a run of the
partitioned rollback_partition job that says which version it restored, and a failed run is an
incident at once. A CLI backfill is a Dagster asset backfill (the UI's Backfills page lists it)
whose runs the CLI executes: the daemon launches none of them, and it closes as they end."""

import logging
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pytest
import yaml
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._daemon.backfill import execute_backfill_iteration

from leadflow import runs
from leadflow.cli import main
from leadflow.definitions import defs
from leadflow.defs.constants import PARTITION_TAG
from leadflow.defs.resources import DuckDBWarehouse
from leadflow.instance import prepare_dagster_home
from leadflow.paths import RESOURCES_DIR
from leadflow.runs import LOCATION_NAME
from leadflow.storage.publication import publish
from leadflow.storage.warehouse import write_version
from tests.conftest import SMALL_MODEL

DAY = date(2026, 11, 20)
NEXT = DAY + timedelta(days=1)
GATE = "raw_signals_quarantine_rate"


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


def _days(subset, key: str) -> list[str]:
    """The partitions of `key` in a backfill's asset subset (materialized, failed...)."""
    asset = dg.AssetKey(key)
    if asset not in subset.partitions_subsets_by_asset_key:
        return []
    return sorted(subset.get_partitions_subset(asset).get_partition_keys())


def test_a_daemon_tick_launches_nothing_for_a_cli_backfill_and_it_closes_when_its_runs_end(home):
    with dg.DagsterInstance.from_config(str(prepare_dagster_home())) as instance:
        with runs.backfill(instance, "daily_pipeline", [(DAY, NEXT)]) as [run]:
            [backfill] = instance.get_backfills()
            assert backfill.status == BulkActionStatus.REQUESTED  # in progress, as the UI shows one
            assert run.tags[BACKFILL_ID_TAG] == backfill.backfill_id and run.status == dg.DagsterRunStatus.NOT_STARTED
            # What the daemon (make ui) does each tick: here it finds every partition requested and
            # the run in progress, so it launches nothing and closes nothing.
            with runs.workspace(instance) as context:
                errors = list(execute_backfill_iteration(context, logging.getLogger(__name__)))
            assert not any(errors), errors
            assert [r.run_id for r in instance.get_runs()] == [run.run_id]
            [ticked] = instance.get_backfills()
            assert ticked.status == BulkActionStatus.REQUESTED
        # Left without executing its run (as after an earlier run's failure): canceled, and closed.
        [canceled] = instance.get_runs()
        assert canceled.run_id == run.run_id and canceled.status == dg.DagsterRunStatus.CANCELED
        [closed] = instance.get_backfills()
        assert closed.status == BulkActionStatus.COMPLETED_FAILED and closed.backfill_end_timestamp
        data = closed.get_asset_backfill_data(defs().resolve_asset_graph())
        assert _days(data.failed_and_downstream_subset, "published_leads") == [DAY.isoformat(), NEXT.isoformat()]


def test_a_cli_backfill_is_a_dagster_backfill_with_its_partitions_runs_and_status(home, no_leadflow_env, model_dir):
    """Two chunks: the first day's postings are mostly broken (its quarantine-rate gate fails the
    run), so the second day's run never starts; the backfill closes as failed."""
    broken = home / "broken.jsonl"
    good_line = (RESOURCES_DIR / "samples" / "jobs_sample.jsonl").read_text().splitlines()[0]
    broken.write_text(good_line + "\n" + "{not json\n" * 3)
    source = {"name": "broken_jobs", "format": "jsonl_jobs", "path": str(broken), "import_date": DAY}
    (home / "sources.yaml").write_text(yaml.safe_dump({"sources": [source]}))
    no_leadflow_env.setenv("LEADFLOW_SOURCES_PATH", str(home / "sources.yaml"))
    no_leadflow_env.setenv("LEADFLOW_MODEL_DIR", str(model_dir))
    no_leadflow_env.setenv("LEADFLOW_DOSSIER_MODEL", SMALL_MODEL)
    no_leadflow_env.setenv("LEADFLOW_FIRST_PARTITION", DAY.isoformat())
    with pytest.raises(SystemExit, match=f"of daily_pipeline failed .*{GATE}"):
        main(["backfill", DAY.isoformat(), NEXT.isoformat(), "--chunk-days", "1"])

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        [backfill] = instance.get_backfills()
        assert backfill.status == BulkActionStatus.COMPLETED_FAILED and backfill.backfill_end_timestamp
        assert backfill.title == f"leadflow backfill {DAY}..{NEXT}"
        data = backfill.get_asset_backfill_data(defs().resolve_asset_graph())
        assert data.get_partition_names() == [DAY.isoformat(), NEXT.isoformat()]
        # raw_signals of the broken day was written (its blocking gate then failed): materialized;
        # everything downstream of it that day, and the whole next day, failed.
        assert _days(data.materialized_subset, "raw_signals") == [DAY.isoformat()]
        assert _days(data.failed_and_downstream_subset, "raw_signals") == [NEXT.isoformat()]
        for key in ("prefilter_scores", "published_leads", "lead_report"):
            assert _days(data.materialized_subset, key) == []
            assert _days(data.failed_and_downstream_subset, key) == [DAY.isoformat(), NEXT.isoformat()]

        members = instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill.backfill_id}))
        assert [(r.tags[PARTITION_TAG], r.status) for r in reversed(members)] == [
            (DAY.isoformat(), dg.DagsterRunStatus.FAILURE),
            (NEXT.isoformat(), dg.DagsterRunStatus.CANCELED),
        ]
        assert instance.get_runs() == members  # nothing else ran
        assert {r.remote_job_origin.location_name for r in members if r.remote_job_origin} == {LOCATION_NAME}
    with DuckDBWarehouse.from_env().get_connection() as conn:
        incidents = conn.execute("SELECT run_id, partitions FROM incidents").fetchall()
    assert incidents == [(members[1].run_id, f"{DAY}..{DAY}")]  # the failed run; a canceled one is none
