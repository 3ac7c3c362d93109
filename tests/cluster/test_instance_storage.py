"""The cluster profile's event-log storage on the machine's real PostgreSQL
(leadflow/instance_storage.py): the check evaluations it holds, one per check and day, are all
stored, in the order they came, by the time their step ends and before anything in the process
reads the storage; a process killed mid-step loses only that step's held evaluations, never a
finished step's, and the range runs again. Each test has a PostgreSQL database of its own."""

import datetime
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from leadflow.defs.checks import Evaluations, Verdict, daily_check, judged
from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
from leadflow.defs.partitions import pipeline_asset
from leadflow.instance import HEADER, instance_settings
from leadflow.paths import PROJECT_ROOT
from tests.cluster_services import RABBITMQ_URL, scratch_database

DAYS = [datetime.date(2001, 3, 1) + datetime.timedelta(days=n) for n in range(4)]
KEYS = [day.isoformat() for day in DAYS]
TAGS = {RANGE_START_TAG: KEYS[0], RANGE_END_TAG: KEYS[-1]}
KILL_ENV = "LEADFLOW_TEST_KILL_AFTER"  # the second check kills its process after this many evaluations
HELD_SEEN: list[list[str | None]] = []  # what the first check read back mid-step, by the process's own storage


@pipeline_asset(group_name="test", kinds={"python"}, description="the first step")
def first(context: dg.AssetExecutionContext) -> None:
    pass


@pipeline_asset(group_name="test", kinds={"python"}, description="runs after the first check", deps=("first",))
def second(context: dg.AssetExecutionContext) -> None:
    pass


def _passing(context: dg.AssetCheckExecutionContext) -> Evaluations:
    return judged(context, {day: Verdict(True, {"day": day.isoformat()}) for day in DAYS})


@daily_check(asset="first", description="passes; reads its own evaluations back mid-step", blocking=True)
def first_check(context: dg.AssetCheckExecutionContext) -> Evaluations:
    storage = context.instance.event_log_storage
    for n, item in enumerate(_passing(context)):
        if n == 2:  # two evaluations yielded (and held): a read in the process sees them
            history = storage.get_asset_check_execution_history(context.check_specs[0].key, limit=10)
            HELD_SEEN.append(
                [record.partition for record in history if record.status == AssetCheckExecutionRecordStatus.SUCCEEDED]
            )
        yield item


@daily_check(asset="second", description="passes, unless told to kill its process mid-step", blocking=True)
def second_check(context: dg.AssetCheckExecutionContext) -> Evaluations:
    for n, item in enumerate(_passing(context)):
        if n == int(os.environ.get(KILL_ENV, "-1")):
            os.kill(os.getpid(), signal.SIGKILL)
        yield item


@daily_check(asset="first", description="fails on the range's last day", blocking=True)
def failing_check(context: dg.AssetCheckExecutionContext) -> Evaluations:
    return judged(context, {day: Verdict(day != DAYS[-1], {"day": day.isoformat()}) for day in DAYS})


def run_range(home: str) -> str:
    """Materialize the range on the instance in `home`; the run's id."""
    with dg.DagsterInstance.from_config(home) as instance:
        result = dg.materialize([first, second, first_check, second_check], instance=instance, tags=TAGS)
        assert result.success
        return result.run_id


@pytest.fixture
def cluster_home(tmp_path, monkeypatch) -> Iterator[Path]:
    """A cluster-profile instance (its pooled storages, events in batches as the worker runs
    them) on a database of its own."""
    with scratch_database("leadflow_storage") as url:
        monkeypatch.setenv("LEADFLOW_DAGSTER_POSTGRES_URL", url)
        monkeypatch.setenv("LEADFLOW_CELERY_BROKER_URL", RABBITMQ_URL)
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
        (tmp_path / "dagster.yaml").write_text(HEADER + yaml.safe_dump(instance_settings(tmp_path, "cluster")))
        yield tmp_path


def _step_events(instance: dg.DagsterInstance, run_id: str, step: str) -> list[tuple[str, str | None]]:
    """(event type, evaluated partition) of what a step did, in storage order (the events
    planned at run creation left out)."""
    found = []
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event and event.step_key == step and not event.event_type_value.endswith("_PLANNED"):
            found.append(
                (
                    event.event_type_value,
                    event.asset_check_evaluation_data.partition
                    if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
                    else None,
                )
            )
    return found


def _statuses(instance: dg.DagsterInstance, check: dg.AssetChecksDefinition, run_id: str) -> dict[str, str]:
    (key,) = check.check_keys
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
    return {str(record.partition): record.status.value for record in history if record.run_id == run_id}


def test_held_evaluations_are_stored_in_order_by_step_end(cluster_home):
    HELD_SEEN.clear()
    run_id = run_range(str(cluster_home))
    assert [KEYS[1::-1]] == HELD_SEEN  # newest first: both held evaluations, read mid-step
    with dg.DagsterInstance.from_config(str(cluster_home)) as instance:  # a reader of its own, as another host
        evaluation = DagsterEventType.ASSET_CHECK_EVALUATION.value
        for step in ("first_first_check", "second_second_check"):
            assert _step_events(instance, run_id, step) == [
                ("STEP_START", None),
                *[(evaluation, key) for key in KEYS],
                ("STEP_OUTPUT", None),
                ("STEP_SUCCESS", None),
            ]
        for check in (first_check, second_check):
            assert _statuses(instance, check, run_id) == dict.fromkeys(KEYS, "SUCCEEDED")
            # each day's evaluation names the day's materialization: the UI shows it as current
            infos = instance.event_log_storage.get_asset_check_partition_info(list(check.check_keys))
            assert sorted(
                (info.partition_key, info.latest_execution_status.value, info.is_current) for info in infos
            ) == [(key, "SUCCEEDED", True) for key in KEYS]
            assert all(info.latest_target_materialization_storage_id is not None for info in infos)
        planned = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        assert sorted((str(event.dagster_event.asset_key), event.dagster_event.partition) for event in planned) == [  # type: ignore[union-attr]
            (str(dg.AssetKey(name)), key) for name in ("first", "second") for key in KEYS
        ]
        for name in ("first", "second"):
            assert instance.get_materialized_partitions(dg.AssetKey(name)) == set(KEYS)
            [record] = instance.get_asset_records([dg.AssetKey(name)])
            assert record.asset_entry.last_run_id == run_id


def test_a_process_killed_mid_step_loses_only_that_steps_held_evaluations(cluster_home):
    """The second check's process is SIGKILLed after two evaluations (held, not stored): the
    first check, a finished step, has every evaluation stored; the second's stay planned; the
    range runs again."""
    killed = subprocess.run(
        [sys.executable, "-c", f"from {__name__} import run_range; run_range({str(cluster_home)!r})"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), KILL_ENV: "2"},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(cluster_home)) as instance:
        [run] = instance.get_runs()
        assert _statuses(instance, first_check, run.run_id) == dict.fromkeys(KEYS, "SUCCEEDED")
        assert _statuses(instance, second_check, run.run_id) == dict.fromkeys(KEYS, "PLANNED")
        assert _step_events(instance, run.run_id, "second_second_check") == [("STEP_START", None)]
    again = run_range(str(cluster_home))
    with dg.DagsterInstance.from_config(str(cluster_home)) as instance:
        for check in (first_check, second_check):
            assert _statuses(instance, check, again) == dict.fromkeys(KEYS, "SUCCEEDED")


def test_a_failed_blocking_check_has_every_evaluation_stored_before_its_step_fails(cluster_home):
    with dg.DagsterInstance.from_config(str(cluster_home)) as instance:
        result = dg.materialize([first, failing_check], instance=instance, tags=TAGS, raise_on_error=False)
        assert not result.success
        steps = _step_events(instance, result.run_id, "first_failing_check")
        evaluation = DagsterEventType.ASSET_CHECK_EVALUATION.value
        assert steps[0] == ("STEP_START", None) and steps[-1] == ("STEP_FAILURE", None)
        assert [key for kind, key in steps if kind == evaluation] == KEYS
        assert _statuses(instance, failing_check, result.run_id) == {
            **dict.fromkeys(KEYS[:-1], "SUCCEEDED"),
            KEYS[-1]: "FAILED",
        }
