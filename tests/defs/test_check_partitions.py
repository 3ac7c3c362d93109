"""Checks record one evaluation per day: a run over a range gets an evaluation for each day it
covered (the day named, its own figures), no Skipped rows, each the current status of its
partition. A day that breaks an invariant fails alone and the failed-check sensor quarantines
that day; a rate is judged on the run's days together. Materializations of a range run carry each
day's row count and name the run's span; no metadata value is a placeholder.

raw_signals and its checks need no LLM: real files, a real DuckDB and a real Dagster instance."""

import json
from datetime import date

import dagster as dg
import pytest
import yaml

from leadflow.defs import checks
from leadflow.defs.assets.ingest import raw_signals
from leadflow.defs.constants import RANGE_END_TAG, RANGE_START_TAG
from leadflow.defs.resources import DuckDBWarehouse, PipelineSettings
from leadflow.defs.sensors import quality_gate_sensor

DAYS = [date(2024, 3, 5), date(2024, 3, 6), date(2024, 3, 7)]
KEYS = [day.isoformat() for day in DAYS]
RAW_CHECKS = [
    checks.raw_signals_unique_ids,
    checks.raw_signals_dates_in_range,
    checks.raw_signals_quarantine_rate,
    checks.raw_signals_counts_reconcile,
]
CHECK_KEYS = [spec.key for check in RAW_CHECKS for spec in check.check_specs]


def _message(msg_id: str, day: date) -> str:
    sent = f"{day:%a, %d %b %Y} 10:00:00 +0000"
    return (
        f"From a@example.com {day:%a %b %d} 10:00:00 {day.year}\nFrom: a@example.com\nTo: b@example.org\n"
        f"Subject: note {msg_id}\nDate: {sent}\nMessage-ID: <{msg_id}@example.com>\n\nBody of {msg_id}.\n\n"
    )


def _workspace(tmp_path, bad_job_lines: int = 0) -> dict:
    """Two emails on the first day, one on each other day; on the middle day (the jobs' import
    date) two postings and `bad_job_lines` lines that are not JSON (quarantined there)."""
    mbox = _message("a1", DAYS[0]) + _message("a2", DAYS[0]) + _message("b", DAYS[1]) + _message("c", DAYS[2])
    (tmp_path / "emails.mbox").write_text(mbox, encoding="utf-8")
    jobs = [json.dumps({"job_id": str(n), "title": f"Data Engineer {n}", "description": "dbt"}) for n in (1, 2)]
    (tmp_path / "jobs.jsonl").write_text("\n".join(jobs + ["{not json"] * bad_job_lines) + "\n")
    sources = {
        "sources": [
            {"name": "emails", "format": "mbox", "path": "emails.mbox", "import_date": DAYS[2]},
            {"name": "jobs", "format": "jsonl_jobs", "path": "jobs.jsonl", "import_date": DAYS[1]},
        ]
    }
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(sources))
    return {
        "duckdb": DuckDBWarehouse(database=str(tmp_path / "leadflow.duckdb")),
        "pipeline": PipelineSettings(sources_path=str(tmp_path / "sources.yaml"), imports_dir=str(tmp_path / "in")),
    }


def _run(resources: dict, instance: dg.DagsterInstance, first: str = KEYS[0], last: str = KEYS[-1]):
    options: dict = (
        {"partition_key": first} if first == last else {"tags": {RANGE_START_TAG: first, RANGE_END_TAG: last}}
    )
    return dg.materialize(
        [raw_signals, *RAW_CHECKS], resources=resources, instance=instance, raise_on_error=False, **options
    )


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def test_a_range_run_records_one_evaluation_per_day_and_no_skipped_rows(tmp_path, instance):
    result = _run(_workspace(tmp_path), instance)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert sorted((e.check_name, e.partition) for e in evaluations) == sorted(
        (key.name, day) for key in CHECK_KEYS for day in KEYS
    )
    by_day = {(e.check_name, e.partition): e for e in evaluations}
    assert by_day["raw_signals_dates_in_range", KEYS[1]].metadata["misplaced"].value == 0  # judged day by day
    pooled = by_day["raw_signals_quarantine_rate", KEYS[1]].metadata  # a rate: the run's days together
    assert pooled["judged"].value == f"the run's 3 partitions together ({KEYS[0]}..{KEYS[-1]})"
    assert (pooled["signals"].value, pooled["day/signals"].value) == (6, 3)
    assert by_day["raw_signals_quarantine_rate", KEYS[0]].metadata["day/signals"].value == 2

    storage = instance.event_log_storage
    for key in CHECK_KEYS:
        history = storage.get_asset_check_execution_history(key, limit=50)
        assert sorted(record.partition for record in history) == KEYS  # one row per day, nothing else
        assert {record.status.value for record in history} == {"SUCCEEDED"}
        infos = storage.get_asset_check_partition_info([key])
        assert sorted(info.partition_key for info in infos) == KEYS
        assert all(info.is_current for info in infos)  # each names its day's materialization


def test_a_day_that_breaks_an_invariant_fails_alone_and_the_sensor_quarantines_that_day(tmp_path, instance):
    resources = _workspace(tmp_path)
    assert _run(resources, instance).success
    with resources["duckdb"].get_connection() as conn:  # a signal of the middle day moved to the day before
        conn.execute(
            "UPDATE raw_signals SET signal_date = signal_date - 1 WHERE signal_id = "
            "(SELECT min(signal_id) FROM raw_signals WHERE partition_date = ?)",
            [DAYS[1]],
        )
    checked = dg.materialize(
        [raw_signals, *RAW_CHECKS],
        selection=dg.AssetSelection.checks(checks.raw_signals_dates_in_range),
        resources=resources,
        instance=instance,
        tags={RANGE_START_TAG: KEYS[0], RANGE_END_TAG: KEYS[-1]},
        raise_on_error=False,
    )
    assert not checked.success
    verdicts = {e.partition: (e.passed, e.metadata["misplaced"].value) for e in checked.get_asset_check_evaluations()}
    assert verdicts == {KEYS[0]: (True, 0), KEYS[1]: (False, 1), KEYS[2]: (True, 0)}

    with dg.build_sensor_context(instance=instance, resources={"duckdb": resources["duckdb"]}) as context:
        handled = quality_gate_sensor(context)
    assert isinstance(handled, dg.SensorResult) and handled.run_requests is not None
    (rerun,) = handled.run_requests  # nothing of the range was published: all of it re-runs
    assert (rerun.tags[RANGE_START_TAG], rerun.tags[RANGE_END_TAG]) == (KEYS[0], KEYS[-1])
    with resources["duckdb"].get_connection() as conn:
        failed = conn.execute("SELECT partition_date, run_id FROM version_status WHERE status = 'failed'").fetchall()
    assert failed == [(DAYS[1], checked.run_id)]  # only the day that failed is quarantined


def test_a_rate_is_judged_on_the_runs_days_together(tmp_path, instance):
    result = _run(_workspace(tmp_path, bad_job_lines=3), instance)  # 3 of 9 records read: a third
    assert not result.success
    verdicts = [e for e in result.get_asset_check_evaluations() if e.check_name == "raw_signals_quarantine_rate"]
    assert sorted(e.partition for e in verdicts) == KEYS and not any(e.passed for e in verdicts)
    by_day = {e.partition: e.metadata for e in verdicts}
    assert by_day[KEYS[0]]["quarantine_rate"].value == pytest.approx(1 / 3)
    assert [by_day[key]["day/quarantined"].value for key in KEYS] == [0, 3, 0]


def _metadata_values(result) -> list:
    events = [e.materialization.metadata for e in result.get_asset_materialization_events()]
    events += [e.metadata for e in result.get_asset_check_evaluations()]
    return [value.value for metadata in events for value in metadata.values()]


def test_range_materializations_carry_each_days_rows_and_the_same_keys_as_a_day(tmp_path, instance):
    resources = _workspace(tmp_path)
    ranged = _run(resources, instance)
    single = _run(resources, instance, KEYS[1], KEYS[1])
    assert ranged.success and single.success
    days = {e.partition: e.materialization.metadata for e in ranged.get_asset_materialization_events()}
    assert {day: m["dagster/row_count"].value for day, m in days.items()} == {KEYS[0]: 2, KEYS[1]: 3, KEYS[2]: 1}
    assert all(m["run/row_count"].value == 6 and m["run/partitions"].value == 3 for m in days.values())
    assert days[KEYS[0]]["run/scope"].value.startswith(f"run totals over 3 partitions ({KEYS[0]}..{KEYS[-1]})")
    (one_day,) = [e.materialization.metadata for e in single.get_asset_materialization_events()]
    assert one_day["dagster/row_count"].value == 3 and one_day["run/scope"].value == f"one partition ({KEYS[1]})"
    assert all(set(m) == set(one_day) for m in days.values())
    assert not [v for v in _metadata_values(ranged) + _metadata_values(single) if isinstance(v, int | float) and v < 0]
